package peer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/library"
)

// holdingSource is a scripted partial source that holds Have polls: Have
// answers at once, HaveWait when the source holds a chunk of want (gain
// adds chunks); each HaveWait call is sent on polled first.
type holdingSource struct {
	*scripted
	polled chan library.Bitmap
	mu     sync.Mutex
	held   library.Bitmap
	more   chan struct{} // closed and replaced at each gain
}

func (s *holdingSource) state() HaveInfo {
	n := s.c.m.NumChunks()
	return HaveInfo{Have: append(library.Bitmap(nil), s.held...), Fetching: library.NewBitmap(n), Downloading: true, Holds: true}
}

func (s *holdingSource) Have(ctx context.Context) (HaveInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state(), nil
}

func (s *holdingSource) HaveWait(ctx context.Context, want library.Bitmap, wait time.Duration) (HaveInfo, error) {
	s.polled <- want
	for {
		s.mu.Lock()
		if intersects(s.held, want) {
			defer s.mu.Unlock()
			return s.state(), nil
		}
		more := s.more
		s.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return HaveInfo{}, ctx.Err()
		}
	}
}

func (s *holdingSource) gain(is ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range is {
		s.held.Set(i)
	}
	close(s.more)
	s.more = make(chan struct{})
}

// TestNoPollBesideRequest: when a held Have poll's answer shows a chunk
// the download needs, the fetcher asks the source for it and does not
// poll it again until that request has ended (a poll sent beside it would
// cost a request at both ends per chunk the source gains meanwhile, where
// a peer's chunk answer carries the same state); then it polls again, held
// for the chunks still lacking.
func TestNoPollBesideRequest(t *testing.T) {
	c := makeContent(t, 8*1024, 1024, 31)
	n := c.m.NumChunks()
	clk := clock.NewFake(clockStart)
	release := make(chan struct{})
	src := &holdingSource{polled: make(chan library.Bitmap, 100), held: library.NewBitmap(n), more: make(chan struct{})}
	src.scripted = newScripted(t, clk, c, func(ctx context.Context, k, i int) error {
		if k == 0 { // the first request is answered when the test says
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	src.memSource.have = nil // what it holds is held; Chunk serves any asked
	r := startClocked(t, c, FetchOptions{Clock: clk, Sources: []Source{src}, HaveWait: MaxHaveWait})
	nextPoll := func(what string) library.Bitmap {
		t.Helper()
		select {
		case w := <-src.polled:
			return w
		case <-time.After(30 * time.Second):
			t.Fatalf("no held poll %s", what)
			return nil
		}
	}
	if w := nextPoll("after the first answer"); !w.Has(0) || !w.Has(n-1) {
		t.Fatalf("first held poll wants %08b, want every chunk", w)
	}
	src.gain(0)
	if a := nextAsk(t, src.scripted); a.chunk != 0 {
		t.Fatalf("asked for chunk %d, want 0 (the chunk the poll's answer showed)", a.chunk)
	}
	select {
	case w := <-src.polled:
		t.Fatalf("polled again (want %08b) beside the request for chunk 0", w)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	r.waitChunks(t, 1)
	if w := nextPoll("after the request ended"); w.Has(0) || !w.Has(1) || !w.Has(n-1) {
		t.Fatalf("held poll wants %08b, want every chunk but 0", w)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	src.gain(all...)
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}
