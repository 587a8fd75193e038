package player

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/syncbuf"
)

// TestNoSecretsOnDisk plays a licensed sealed title stored in a data folder
// (with seeks, an unsupported title and a damaged one, so error paths log
// too), then scans the data folder, every file written under the temp
// folder since the test began (this test's temp dirs included) and the
// captured debug logs for a distinctive 64-byte run of the plaintext and for
// the content key (raw, hex, base64): none may be found.
func TestNoSecretsOnDisk(t *testing.T) {
	began := time.Now().Add(-time.Second)
	// Tone plus noise, so the 64-byte run occurs once in the plaintext.
	plain := toneWAV(rate, 2*time.Second, 440)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 44; i < len(plain); i++ {
		plain[i] ^= byte(rng.IntN(4))
	}
	run64 := plain[len(plain)/2 : len(plain)/2+64]
	if bytes.Count(plain, run64) != 1 {
		t.Fatal("plaintext run is not distinctive")
	}

	dataDir := t.TempDir()
	st := sealTitle(t, "song", plain, "audio/wav", 64<<10)
	storeSealed(t, dataDir, st)
	bad := sealTitle(t, "bad", plain, "audio/wav", 64<<10)
	bad.file[len(bad.file)-100] ^= 1 // tampered last chunk
	storeSealed(t, dataDir, bad)
	txt := sealTitle(t, "txt", append([]byte("not audio at all "), run64...), "audio/mpeg", 0)
	storeSealed(t, dataDir, txt)
	if bytes.Contains(st.file, run64) || bytes.Contains(st.file, st.key) {
		t.Fatal("sealed file holds the plaintext or key: the scan would be meaningless")
	}

	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := &fileSealedSource{dir: dataDir, titles: map[string]*sealedTitle{"song": st, "bad": bad, "txt": txt}}
	var out Output = newFakeOutput(rate)
	if pulse != nil && !raceEnabled {
		out = NewDeviceOutput(DeviceOptions{SampleRate: rate}) // the real pipeline
	}
	p, err := New(Options{Source: src, Output: out, Logger: log, Positions: &memPositions{}})
	if err != nil {
		t.Fatal(err)
	}
	ev := collect(t, p)
	run(t, p)
	p.Play("song")
	ev.wait(t, 30*time.Second, "position ≥ 500ms", func(e Event) bool { return e.Kind == EventPosition && e.Position >= 500*time.Millisecond })
	p.Seek(1500 * time.Millisecond)
	p.Pause()
	p.Resume()
	ev.wait(t, 30*time.Second, "end", isState(StateStopped))
	p.Play("txt")
	ev.wait(t, 30*time.Second, "unsupported", func(e Event) bool { return e.Kind == EventError && e.TitleID == "txt" })
	p.Play("bad")
	ev.wait(t, 30*time.Second, "damaged", func(e Event) bool { return e.Kind == EventError && e.TitleID == "bad" })

	needles := map[string][]byte{
		"plaintext run": run64,
		"key":           st.key,
		"key hex":       []byte(hex.EncodeToString(st.key)),
		"key base64":    []byte(base64.StdEncoding.EncodeToString(st.key)),
		"key base64url": []byte(base64.RawURLEncoding.EncodeToString(st.key)),
	}
	check := func(where string, b []byte) {
		for name, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s found in %s", name, where)
			}
		}
	}
	check("logs", logs.Bytes())
	if len(logs.Bytes()) == 0 {
		t.Error("no logs captured: the scan of logs is meaningless")
	}
	scanned := 0
	for _, root := range []string{dataDir, os.TempDir(), os.Getenv("HOME")} {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // other helpers' folders may vanish or be unreadable
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), "go-build") {
				return filepath.SkipDir // compiled code of concurrent builds
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.ModTime().Before(began) || info.Size() > 512<<20 {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			scanned++
			check(path, b)
			return nil
		})
	}
	t.Logf("scanned %d files written during the test and %d bytes of logs", scanned, len(logs.Bytes()))
	if scanned < 3 {
		t.Errorf("scanned only %d files; expected at least the 3 sealed files", scanned)
	}
}
