package peer

import (
	"context"
	"sync"
	"testing"

	"github.com/kith-media/kith/share/sealed"
)

// dstSource is a memSource that records the buffer each request came with.
type dstSource struct {
	*memSource
	mu   sync.Mutex
	caps []int // cap(dst) of each request; -1 for a nil dst
}

func (s *dstSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.mu.Lock()
	if dst == nil {
		s.caps = append(s.caps, -1)
	} else {
		s.caps = append(s.caps, cap(dst))
	}
	s.mu.Unlock()
	return s.memSource.Chunk(ctx, i, dst)
}

// TestChunkBufferTakenAtAnswer: a request for a chunk of the default size
// holds no buffer while it waits for its answer (the fetcher passes a nil
// dst), and a peer's answer is read into a buffer of the process's pool,
// taken when the answer has come; a chunk longer than the pool's buffers
// still comes with one of the fetcher's own.
func TestChunkBufferTakenAtAnswer(t *testing.T) {
	for _, cs := range []int{sealed.DefaultChunkSize, 2 * sealed.DefaultChunkSize} {
		c := makeContent(t, 3*cs, cs, 21)
		src := &dstSource{memSource: &memSource{id: newIdent(t).ID(), c: c}}
		lib, _, err := fetchInto(t, c, FetchOptions{Sources: []Source{src}})
		if err != nil {
			t.Fatal(err)
		}
		checkComplete(t, lib, c)
		if len(src.caps) < c.m.NumChunks() {
			t.Fatalf("chunk size %d: %d requests for %d chunks", cs, len(src.caps), c.m.NumChunks())
		}
		for k, got := range src.caps {
			if cs == sealed.DefaultChunkSize && got != -1 {
				t.Errorf("chunk size %d: request %d came with a buffer of %d bytes, want none", cs, k, got)
			}
			if cs > sealed.DefaultChunkSize && got < cs+sealed.Overhead+1 {
				t.Errorf("chunk size %d: request %d came with a buffer of %d bytes, want the fetcher's own", cs, k, got)
			}
		}
	}

	c := makeContent(t, 2*sealed.DefaultChunkSize, sealed.DefaultChunkSize, 22)
	a, me := newIdent(t), newIdent(t)
	_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
	cl := client(t, me, a.ID(), addr)
	b, err := cl.Chunk(context.Background(), c.m, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cap(b) != chunkBufSize {
		t.Errorf("a chunk asked for without a buffer came in one of %d bytes, want the pool's %d", cap(b), chunkBufSize)
	}
	if err := c.m.VerifyChunk(0, b); err != nil {
		t.Error(err)
	}
}
