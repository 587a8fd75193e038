package library

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

// TestWritebackBatched: a download's chunks, written in any order, have
// their writeback started once per WritebackBatch bytes over the span they
// lie in, not once per chunk, and every chunk but those the final fsync
// writes back lies in a span started; the download still seals whole.
func TestWritebackBatched(t *testing.T) {
	const cs = 256 << 10 // the default chunk size
	var mu sync.Mutex
	type span struct{ off, n int64 }
	var spans []span
	orig := startWriteback
	startWriteback = func(f *os.File, off, n int64) error {
		mu.Lock()
		spans = append(spans, span{off, n})
		mu.Unlock()
		return orig(f, off, n)
	}
	t.Cleanup(func() { startWriteback = orig })

	ctx := context.Background()
	dir := t.TempDir()
	// No fsync batch before the last chunk (a loaded machine's 500 ms).
	l, err := Open(dir, Options{SyncBytes: 1 << 40, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file, m, _, _ := sealedFile(t, 32*cs-100, cs)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	n := m.NumChunks()
	order := rand.Perm(n)
	for _, i := range order {
		if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if st, err := l.Status(ctx, cid); err != nil || !st.Complete {
		t.Fatalf("status %+v, %v: want complete", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	// 32 chunks of 256 KiB: one start a MiB, the last MiB left to the
	// fsync that follows the last chunk.
	if want := n*cs/WritebackBatch - 1; len(spans) != want {
		t.Fatalf("%d writebacks started for %d chunks, want %d (one a MiB): %v", len(spans), n, want, spans)
	}
	covered := func(i int) bool {
		off, size := m.ChunkRange(i)
		for _, s := range spans {
			if off >= s.off && off+size <= s.off+s.n {
				return true
			}
		}
		return false
	}
	// Every chunk written before the last batch began lies in a span.
	for k, i := range order[:len(order)-WritebackBatch/cs] {
		if !covered(i) {
			t.Errorf("chunk %d (written %dth) in no writeback started: %v", i, k+1, spans)
		}
	}
}
