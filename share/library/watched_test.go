package library

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// TestWatchedFolders: folders are kept across a reopen, cleaned and
// de-duplicated; relative, over-long and the 101st are refused.
func TestWatchedFolders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	for _, p := range []string{"/home/ana/Music/", "/media/usb/Songs", "/home/ana/Music"} {
		if err := l.WatchFolder(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"Music", "", "/" + strings.Repeat("x", MaxWatchedPath), "/bad\xff"} {
		if err := l.WatchFolder(ctx, bad); err == nil {
			t.Errorf("watching %q accepted", bad)
		}
	}
	l.Close()
	l = openLib(t, dir)
	got, err := l.WatchedFolders(ctx)
	if want := []string{"/home/ana/Music", "/media/usb/Songs"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("watched %v (%v), want %v", got, err, want)
	}
	if err := l.UnwatchFolder(ctx, "/media/usb/Songs/"); err != nil {
		t.Fatal(err)
	}
	for i := range MaxWatchedFolders - 1 {
		if err := l.WatchFolder(ctx, fmt.Sprintf("/f/%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WatchFolder(ctx, "/one/too/many"); err == nil {
		t.Error("folder 101 accepted")
	}
	if err := l.WatchFolder(ctx, "/home/ana/Music"); err != nil {
		t.Errorf("watching a watched folder again at the bound: %v", err)
	}
	if got, _ := l.WatchedFolders(ctx); len(got) != MaxWatchedFolders || slices.Contains(got, "/media/usb/Songs") {
		t.Errorf("%d watched after unwatching one and filling up", len(got))
	}
}

// TestEachTrack: every title with its tags, and whether its content is
// held whole.
func TestEachTrack(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	file, m, _, _ := sealedFile(t, 50_000, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	for i := range m.NumChunks() {
		if err := l.WriteChunk(m.ContentID(), i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
	}
	held := Title{ID: "t1", Name: "Kettle Song", Artist: "Ana", ContentID: m.ContentID(), MediaType: "audio/mpeg",
		Tags: Tags{Album: "Sunday", AlbumArtist: "The Band", Track: 3, Disc: 1, Year: 2024, Duration: 185 * time.Second}}
	missing := Title{ID: "t2", Name: "Toast Waltz", ContentID: sealed.ContentID{7}}
	for _, ti := range []Title{held, missing} {
		if err := l.PutTitle(ctx, ti); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]Title{}
	whole := map[string]bool{}
	if err := l.EachTrack(ctx, func(ti Title, complete bool) error {
		got[ti.ID], whole[ti.ID] = ti, complete
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g := got["t1"]
	if len(got) != 2 || !whole["t1"] || whole["t2"] || g.Name != held.Name || g.Artist != "Ana" || g.ContentID != held.ContentID ||
		g.Tags != held.Tags || got["t2"].ContentID != missing.ContentID {
		t.Errorf("tracks %+v, complete %v", got, whole)
	}
}
