package wire

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/player/decode"
)

// writeTone writes an untagged WAV of a tone (a different tone per freq,
// so different bytes): the file name carries track, artist and title.
func writeTone(t *testing.T, path string, freq float64) {
	t.Helper()
	const rate, n = 8000, 8000 / 2
	pcm := make([]byte, 0, n*2)
	for i := range n {
		pcm = binary.LittleEndian.AppendUint16(pcm, uint16(int16(8000*math.Sin(2*math.Pi*freq*float64(i)/rate))))
	}
	if err := os.WriteFile(path, append([]byte(decode.WAVHeader(rate, 1, len(pcm))), pcm...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchedFoldersRescan over the real node and the app's own household
// directory: a watched folder's media are added; rescanning skips files
// already added by path, size and mtime without reading them (a file whose
// bytes changed but kept its size and mtime is not added again), adds a new
// file, reports a folder that is gone while scanning the others, and
// reports progress.
func TestWatchedFoldersRescan(t *testing.T) {
	ctx := context.Background()
	k, stop := startKith(t, ctx, t.TempDir())
	defer stop()
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	m := k.Backend.Media
	music := filepath.Join(t.TempDir(), "Music")
	if err := os.MkdirAll(filepath.Join(music, "Album"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"01 - Ana - Kettle Song.wav", "02 - Ana - Toast Waltz.wav", "03 - Ana - Garden Hymn.wav"} {
		writeTone(t, filepath.Join(music, "Album", name), float64(300+100*i))
	}
	if err := m.WatchFolder(ctx, music); err != nil {
		t.Fatal(err)
	}
	var reports []app.AddProgress
	res, err := m.Rescan(ctx, func(p app.AddProgress) { reports = append(reports, p) })
	if err != nil || res.Added != 3 || res.Existing != 0 {
		t.Fatalf("first rescan: %+v, %v", res, err)
	}
	if last := reports[len(reports)-1]; last.Files != 3 || last.FilesDone != 3 {
		t.Errorf("last progress %+v", last)
	}
	ts, err := m.Tracks(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("tracks %d, %v", len(ts), err)
	}

	// Same size and mtime, other bytes: skipped without being read.
	kettle := filepath.Join(music, "Album", "01 - Ana - Kettle Song.wav")
	st, _ := os.Stat(kettle)
	writeTone(t, kettle, 1234)
	if err := os.Chtimes(kettle, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	// A new file, and a watched folder that is gone.
	writeTone(t, filepath.Join(music, "Album", "04 - Ana - Rain on Glass.wav"), 700)
	gone := filepath.Join(t.TempDir(), "usb-stick")
	if err := m.WatchFolder(ctx, gone); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err = m.Rescan(ctx, func(app.AddProgress) {})
	if res.Added != 1 || res.Existing != 3 {
		t.Fatalf("second rescan: %+v, %v (want 1 added, 3 there)", res, err)
	}
	if err == nil || !strings.Contains(err.Error(), "usb-stick") {
		t.Errorf("the missing folder is not reported: %v", err)
	}
	t.Logf("second rescan in %v", time.Since(start).Round(time.Millisecond))
	if ts, _ := m.Tracks(ctx); len(ts) != 4 {
		t.Errorf("%d tracks after the second rescan, want 4", len(ts))
	}
	if err := m.UnwatchFolder(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if fs, err := m.WatchedFolders(ctx); err != nil || len(fs) != 1 || fs[0] != music {
		t.Errorf("watched %v, %v", fs, err)
	}
}
