package library

import (
	"bytes"
	"context"
	"sync"
	"testing"
)

// Sealing closes the .part file and opens it again as .sealed (Windows
// cannot rename an open file): chunk reads that race it, and a second
// writer of the last chunk, still succeed, and reads and writes go on on
// the sealed file.
func TestSealWhileReadingAndWriting(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 8; round++ {
		l := openLib(t, t.TempDir())
		file, m, _, _ := sealedFile(t, 64<<10, 4096)
		if err := l.AddManifest(ctx, m); err != nil {
			t.Fatal(err)
		}
		cid := m.ContentID()
		last := m.NumChunks() - 1
		for i := 0; i < last; i++ {
			if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
				t.Fatal(err)
			}
		}
		stop := make(chan struct{})
		errs := make(chan error, 64)
		var readers sync.WaitGroup
		for r := 0; r < 4; r++ {
			readers.Add(1)
			go func() {
				defer readers.Done()
				var buf []byte
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					i := (r + j) % last
					b, err := l.ReadChunk(ctx, cid, i, buf, j%2 == 0)
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(b, chunkOf(m, file, i)) {
						t.Errorf("chunk %d read differs", i)
						return
					}
					buf = b
				}
			}()
		}
		var writers sync.WaitGroup
		for w := 0; w < 2; w++ { // the last chunk twice at once (two sources raced for it)
			writers.Add(1)
			go func() {
				defer writers.Done()
				if err := l.WriteChunk(cid, last, chunkOf(m, file, last)); err != nil {
					errs <- err
				}
			}()
		}
		writers.Wait()
		close(stop)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		st, err := l.Status(ctx, cid)
		if err != nil || !st.Complete {
			t.Fatalf("status %+v, %v: want complete", st, err)
		}
		b, err := l.ReadChunk(ctx, cid, last, nil, true)
		if err != nil || !bytes.Equal(b, chunkOf(m, file, last)) {
			t.Fatalf("reading the sealed file: %v", err)
		}
	}
}
