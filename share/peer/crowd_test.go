package peer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer/sched"
)

// timedSource records when each chunk was asked for.
type timedSource struct {
	*memSource
	t0 time.Time
	mu sync.Mutex
	at map[int]time.Duration // first ask
}

func (s *timedSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.mu.Lock()
	if _, ok := s.at[i]; !ok {
		s.at[i] = time.Since(s.t0)
	}
	s.mu.Unlock()
	return s.memSource.Chunk(ctx, i, dst)
}

// owner returns which of ids wins chunk i by rendezvous hashing.
func owner(ids []identity.ID, i int) identity.ID {
	best := ids[0]
	for _, id := range ids[1:] {
		if sched.Rendezvous(id, i) < sched.Rendezvous(best, i) {
			best = id
		}
	}
	return best
}

func TestCrowdSplitsOrigin(t *testing.T) {
	const delay = 500 * time.Millisecond
	for _, tc := range []struct {
		name  string
		crowd []identity.ID
		peers func(c *content) []Source
		// owners are the devices the origin's chunks are split between.
		owners []identity.ID
	}{
		// Crowd members this device is not connected to take their share,
		// and when they never fetch it (gone, or slow) the download starves
		// (no peer brings anything for two Have rounds, 2 x HaveInterval)
		// and gets it from the origin.
		{name: "unconnected crowd that never fetches", crowd: []identity.ID{"A", "B", "C", "ME", "A"},
			owners: []identity.ID{"ME", "A", "B", "C"}},
		// A connected crowd member that says it is not downloading (a
		// stale partial holder) takes no share: every chunk is ours.
		{name: "connected member not downloading", crowd: []identity.ID{"P"},
			peers: func(c *content) []Source {
				return []Source{haverSource{&memSource{id: "P", c: c, have: library.NewBitmap(c.m.NumChunks())}}}
			},
			owners: []identity.ID{"ME"}},
		// No crowd: everything is ours.
		{name: "alone", owners: []identity.ID{"ME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := makeContent(t, 64<<10, 1024, 21)
			n := c.m.NumChunks()
			o := &timedSource{memSource: &memSource{id: "ORIGIN", c: c, orig: true}, t0: time.Now(), at: map[int]time.Duration{}}
			var srcs []Source
			if tc.peers != nil {
				srcs = tc.peers(c)
			}
			lib := newLib(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := lib.AddManifest(ctx, c.m); err != nil {
				t.Fatal(err)
			}
			f, err := NewFetcher(FetchOptions{Manifest: c.m, Sink: lib, Logger: quiet, Self: "ME",
				Sources: append(srcs, o), HaveInterval: delay, OriginInFlight: 4})
			if err != nil {
				t.Fatal(err)
			}
			f.SetCrowd(tc.crowd)
			if err := f.Run(ctx); err != nil {
				t.Fatal(err)
			}
			checkComplete(t, lib, c)
			mine := 0
			for i := 0; i < n; i++ {
				own := owner(tc.owners, i) == "ME"
				if own {
					mine++
				}
				at, asked := o.at[i]
				switch {
				case !asked:
					t.Errorf("chunk %d never asked of the origin", i)
				case own && at >= 2*delay:
					t.Errorf("own chunk %d asked only after %v", i, at)
				case !own && at < 2*delay:
					t.Errorf("chunk %d owned by %s asked after %v, before the download starved", i, owner(tc.owners, i), at)
				}
			}
			if mine == 0 || (len(tc.owners) > 1 && mine == n) {
				t.Errorf("%d of %d chunks owned: the test content does not exercise the split", mine, n)
			}
		})
	}
}

// refusingSource is a LAN neighbour that refuses us (403), as a device
// not enrolled, or one that does not hold the content, answers.
type refusingSource struct{ id identity.ID }

func (s refusingSource) ID() identity.ID { return s.id }
func (s refusingSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	return nil, &StatusError{Status: 403, Message: "forbidden"}
}
func (s refusingSource) Have(ctx context.Context) (HaveInfo, error) {
	return HaveInfo{}, &StatusError{Status: 403, Message: "forbidden"}
}

// TestRefusingNeighboursAndOrigin: neighbours that refuse us are dropped
// and the download comes from the origin, promptly.
func TestRefusingNeighboursAndOrigin(t *testing.T) {
	c := makeContent(t, 64<<10, 1024, 23)
	lib := newLib(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	o := &memSource{id: "ORIGIN", c: c, orig: true}
	f, err := NewFetcher(FetchOptions{Manifest: c.m, Sink: lib, Logger: quiet, Self: "ME",
		Sources: []Source{refusingSource{"B"}, refusingSource{"C"}, o}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, lib, c)
	t.Logf("done in %s", time.Since(t0))
}
