package peer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// lateSource answers every chunk once its gate opens, whatever its
// request's context says (answers that come as the download ends), in a
// buffer of the process's pool (bodyBuf), as a peer's or the origin's
// answer is read.
type lateSource struct {
	*memSource
	gate    chan struct{}
	started chan int
}

func (s *lateSource) Chunk(_ context.Context, i int, dst []byte) ([]byte, error) {
	s.started <- i
	<-s.gate
	_, n := s.c.m.ChunkRange(i)
	b, _ := bodyBuf(dst, n)
	return append(b[:0], s.c.chunk(i)...), nil
}

// TestFetchBuffersBackWhenRunEnds: the chunk buffers of answers that come
// as a download ends (here: cancelled with four answers on their way) go
// back to the process's arena. Before, Run left them in its results, and
// each such buffer's slot was lost to the arena for good: after a few
// downloads ending so, every chunk buffer (uploads' too) came from the Go
// heap again, 64 page faults each.
func TestFetchBuffersBackWhenRunEnds(t *testing.T) {
	if b := chunkArena.get(); b == nil {
		t.Skip("no free slot in the chunk arena (no arena on this system)")
	} else {
		chunkArena.put(b)
	}
	c := makeContent(t, 4*sealed.DefaultChunkSize, sealed.DefaultChunkSize, 34)
	src := &lateSource{memSource: &memSource{id: newIdent(t).ID(), c: c}, gate: make(chan struct{}), started: make(chan int, 16)}
	lib := newLib(t)
	if err := lib.AddManifest(context.Background(), c.m); err != nil {
		t.Fatal(err)
	}
	f, err := NewFetcher(FetchOptions{Manifest: c.m, Sink: lib, Sources: []Source{src}, PerSource: 4, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	before := chunkArena.inUse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	for range 4 {
		select {
		case <-src.started:
		case <-time.After(30 * time.Second):
			t.Fatal("the fetcher did not ask for four chunks at once")
		}
	}
	cancel()
	close(src.gate) // the four answers come as the download ends
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want cancelled", err)
	}
	if n := chunkArena.inUse() - before; n > 0 {
		t.Errorf("%d chunk buffers of the arena never came back from answers that came as the download ended", n)
	}
}
