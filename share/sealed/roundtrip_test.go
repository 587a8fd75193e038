package sealed

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	const cs = 1024
	lengths := []struct {
		name string
		n    int
		cs   int
	}{
		{"empty", 0, cs},                 // one empty final chunk
		{"one byte", 1, cs},              // short single chunk
		{"chunk-1", cs - 1, cs},          // just under a chunk
		{"chunk", cs, cs},                // exactly one full final chunk
		{"chunk+1", cs + 1, cs},          // spills one byte into chunk 1
		{"3 chunks", 3 * cs, cs},         // exact multiple
		{"default chunks", 3<<18 + 5, 0}, // default 256 KiB chunk size
		{"200 MiB", 200 << 20, 64 << 10}, // big; skipped under -short
	}
	for _, l := range lengths {
		t.Run(l.name, func(t *testing.T) {
			if l.n > 64<<20 && (testing.Short() || raceEnabled) {
				t.Skip("200 MiB skipped under -short and -race")
			}
			pt := randBytes(l.n, uint64(l.n))
			m, file, key := sealBytes(t, pt, l.cs)
			// FileSize tells the sealed size before sealing (a file added
			// from the household's own has its disk space taken by it).
			if want, err := FileSize(Options{ChunkSize: l.cs, Length: int64(l.n), MediaType: "audio/mpeg"}); err != nil || want != int64(len(file)) || m.FileSize() != want {
				t.Fatalf("FileSize = %d, %v; Seal made %d bytes (manifest %d)", want, err, len(file), m.FileSize())
			}
			rm, err := ReadManifest(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if rm.ContentID() != m.ContentID() {
				t.Fatal("ReadManifest gives a different content ID")
			}
			for _, ws := range []int{1, 512, 600, 64 << 10} {
				if ws == 1 && l.n > 1<<20 {
					continue // byte-at-a-time over 200 MiB proves nothing more
				}
				r, err := Open(bytes.NewReader(file), m, key)
				if err != nil {
					t.Fatal(err)
				}
				if err := compareStream(r, pt, ws); err != nil {
					t.Fatalf("read size %d: %v", ws, err)
				}
				if r.Size() != int64(l.n) || r.MediaType() != "audio/mpeg" {
					t.Fatalf("size %d type %q", r.Size(), r.MediaType())
				}
				r.Close()
			}
		})
	}
}

// compareStream reads r to EOF ws bytes at a time and compares with want.
func compareStream(r io.Reader, want []byte, ws int) error {
	buf := make([]byte, ws)
	off := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if off+n > len(want) || !bytes.Equal(buf[:n], want[off:off+n]) {
				return fmt.Errorf("bytes at %d differ", off)
			}
			off += n
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if off != len(want) {
		return fmt.Errorf("read %d of %d bytes", off, len(want))
	}
	return nil
}

func TestConcurrentReadAt(t *testing.T) {
	const cs = 512
	pt := randBytes(100*cs, 6)
	m, file, key := sealBytes(t, pt, cs)
	r, err := Open(bytes.NewReader(file), m, key)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			buf := make([]byte, 700)
			for i := 0; i < 500; i++ {
				off := rng.Int64N(int64(len(pt) - len(buf)))
				if _, err := r.ReadAt(buf, off); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf, pt[off:off+int64(len(buf))]) {
					t.Errorf("goroutine %d: bytes at %d differ", g, off)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 1), 0); err != ErrClosed {
		t.Fatalf("read after close: %v", err)
	}
	if len(r.key) != 32 || !bytes.Equal(r.key, make([]byte, 32)) {
		t.Fatal("payload key not zeroed by Close")
	}
}

// TestSealUnknownLength seals from a plain io.Reader into a file, so Seal
// must patch the header's length at the end.
func TestSealUnknownLength(t *testing.T) {
	for _, n := range []int{0, 700, 2048} {
		pt := randBytes(n, 9)
		key := testKey(t)
		f, err := os.CreateTemp(t.TempDir(), "sealed")
		if err != nil {
			t.Fatal(err)
		}
		m, err := Seal(f, struct{ io.Reader }{bytes.NewReader(pt)}, key, Options{ChunkSize: 512})
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Length != uint64(n) {
			t.Fatalf("length %d, want %d", m.Header.Length, n)
		}
		r, err := Open(f, m, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("n=%d: %v", n, err)
		}
		f.Close()
	}
	// Unknown length into a plain writer cannot work.
	if _, err := Seal(&bytes.Buffer{}, struct{ io.Reader }{bytes.NewReader(nil)}, testKey(t), Options{}); err == nil {
		t.Fatal("sealed an unknown length into a non-seekable writer")
	}
	// A declared length must match the source.
	if _, err := Seal(&bytes.Buffer{}, struct{ io.Reader }{bytes.NewReader(make([]byte, 10))}, testKey(t), Options{Length: 11}); err == nil {
		t.Fatal("short source accepted")
	}
	if _, err := Seal(&bytes.Buffer{}, struct{ io.Reader }{bytes.NewReader(make([]byte, 10))}, testKey(t), Options{Length: 9}); err == nil {
		t.Fatal("long source accepted")
	}
}
