package sched

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

func newCore(n int, self identity.ID) *Core {
	return New(Config{Chunks: n, ChunkSize: func(int) int64 { return 1 << 10 }, Self: self,
		HaveInterval: 500 * time.Millisecond, Rand: rand.New(rand.NewPCG(1, 2))})
}

func full(n int) Bitmap {
	b := NewBitmap(n)
	for i := 0; i < n; i++ {
		b.Set(i)
	}
	return b
}

// TestOriginLastResort: with a crowd, the origin is asked only for this
// device's own chunks while a peer is there; once the reachable peers have
// had nothing for two Have rounds, for any chunk; a declined chunk waits
// the time the origin named.
func TestOriginLastResort(t *testing.T) {
	const n = 64
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	origin := k.Add("ORIGIN", true, false, nil)
	peer := k.Add("P", false, true, nil)
	k.SetCrowd([]identity.ID{"A", "B", "C"})
	k.Begin(NewBitmap(n), t0)
	k.HaveResult(peer, HaveInfo{Have: NewBitmap(n), Fetching: NewBitmap(n), Downloading: true}, Outcome{}, t0)

	mine := func(i int) bool {
		for _, id := range []identity.ID{"A", "B", "C", "P"} {
			if Rendezvous(id, i) < Rendezvous("ME", i) {
				return false
			}
		}
		return true
	}
	// Drain the origin: every chunk it gets must be ours.
	got := map[int]bool{}
	now := t0
	for range n {
		as, _ := k.Schedule(now)
		if len(as) == 0 {
			break
		}
		for _, a := range as {
			if a.Src != origin {
				t.Fatalf("asked peer %s for %d: it holds nothing", a.Src.ID(), a.Chunk)
			}
			if !mine(a.Chunk) {
				t.Errorf("asked the origin for chunk %d, owned by another crowd member, before starving", a.Chunk)
			}
			got[a.Chunk] = true
			k.Result(a, Outcome{Kind: OK}, now)
		}
		now = now.Add(10 * time.Millisecond)
	}
	if len(got) == 0 || len(got) == n {
		t.Fatalf("took %d of %d chunks from the origin, want only ours", len(got), n)
	}
	// The peer still has nothing for us: after two Have rounds we are
	// starved and the origin may give the rest.
	k.Schedule(now)
	now = now.Add(time.Second + time.Millisecond)
	as, _ := k.Schedule(now)
	if len(as) == 0 || as[0].Src != origin {
		t.Fatalf("starved but the origin is not asked: %v", as)
	}
	a := as[0]
	k.Result(a, Outcome{Kind: Declined, RetryAfter: 2 * time.Second}, now)
	// Declined: the crowd has it. Nothing more of the origin (we own no
	// chunk left) until we starve again, two Have rounds on.
	if as, _ := k.Schedule(now.Add(500 * time.Millisecond)); len(as) != 0 {
		t.Errorf("asked %d more of the origin right after a decline", len(as))
	}
	later := now.Add(time.Second + time.Millisecond)
	for _, b := range mustSchedule(t, k, later) {
		if b.Src != origin || b.Chunk == a.Chunk {
			t.Errorf("starved again: asked %s for chunk %d (declined: %d until %s)", b.Src.ID(), b.Chunk, a.Chunk, now.Add(2*time.Second))
		}
	}
}

func mustSchedule(t *testing.T, k *Core, now time.Time) []*Attempt {
	t.Helper()
	as, alive := k.Schedule(now)
	if !alive || len(as) == 0 {
		t.Fatalf("nothing scheduled at %s", now)
	}
	return as
}

// TestRarestFirst: a peer is asked first for the chunk fewest peers hold.
func TestRarestFirst(t *testing.T) {
	const n = 16
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	k.c.PerSource = 1
	a := k.Add("A", false, true, nil)
	b := k.Add("B", false, true, nil)
	k.Begin(NewBitmap(n), t0)
	k.HaveResult(a, HaveInfo{Have: full(n), Fetching: NewBitmap(n), Complete: false, Downloading: true}, Outcome{}, t0)
	only := NewBitmap(n)
	for i := 0; i < n; i++ {
		if i != 11 {
			only.Set(i)
		}
	}
	k.HaveResult(b, HaveInfo{Have: only, Fetching: NewBitmap(n), Downloading: true}, Outcome{}, t0)
	for _, at := range mustSchedule(t, k, t0) {
		if at.Src == a && at.Chunk != 11 {
			t.Errorf("A was asked for chunk %d; 11 is the one only A has", at.Chunk)
		}
	}
}

// TestLegacyFallback keeps the old rule reachable for the simulator: a
// chunk owned by another crowd member goes to the origin after 6 x
// OriginDelay even though nobody starved.
func TestLegacyFallback(t *testing.T) {
	const n = 8
	t0 := time.Unix(0, 0)
	k := New(Config{Chunks: n, ChunkSize: func(int) int64 { return 1 << 10 }, Self: "ME", Legacy: true,
		OriginDelay: time.Second, OriginInFlight: n})
	k.Add("ORIGIN", true, false, nil)
	k.SetCrowd([]identity.ID{"A", "B", "C", "D", "E", "F", "G"})
	k.Begin(NewBitmap(n), t0)
	first, _ := k.Schedule(t0)
	later, _ := k.Schedule(t0.Add(6 * time.Second))
	if len(first)+len(later) != n || len(later) == 0 {
		t.Errorf("legacy: %d chunks at once, %d after 6 x OriginDelay; want the rest then", len(first), len(later))
	}
}

// TestBusyNeighbourDoesNotHoldUpOrigin: a neighbour whose Have polls are
// answered busy (or fail) tells nothing it holds: the origin is asked
// once its first poll is answered, not when some fixed delay runs out.
func TestBusyNeighbourDoesNotHoldUpOrigin(t *testing.T) {
	const n = 8
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	nb := k.Add("B", false, true, nil)
	origin := k.Add("ORIGIN", true, false, nil)
	k.Begin(NewBitmap(n), t0)
	if as, _ := k.Schedule(t0); len(as) != 0 {
		t.Fatalf("asked %v before the neighbour's first poll was answered", as)
	}
	polls := k.Polls(t0)
	if len(polls) != 1 || polls[0] != nb {
		t.Fatalf("polls %v", polls)
	}
	k.HaveResult(nb, HaveInfo{}, Outcome{Kind: Busy, RetryAfter: time.Second}, t0.Add(10*time.Millisecond))
	as := mustSchedule(t, k, t0.Add(20*time.Millisecond))
	for _, a := range as {
		if a.Src != origin {
			t.Errorf("asked %s", a.Src.ID())
		}
	}
}

// TestOriginNotDroppedWhilePeersLive: an overloaded origin timing out is
// backed off, not dropped, while useless peers are still around.
func TestOriginNotDroppedWhilePeersLive(t *testing.T) {
	const n = 4
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	p := k.Add("P", false, true, nil)
	origin := k.Add("ORIGIN", true, false, nil)
	k.Begin(NewBitmap(n), t0)
	k.HaveResult(p, HaveInfo{Have: NewBitmap(n), Fetching: NewBitmap(n)}, Outcome{}, t0)
	now := t0
	for range 40 {
		now = now.Add(10 * time.Second)
		as, _ := k.Schedule(now)
		for _, a := range as {
			if a.Src == origin {
				k.Result(a, Outcome{Kind: Failed}, now)
			}
		}
	}
	for _, st := range k.Stats(now) {
		if st.Origin && st.State == "dropped" {
			t.Errorf("the origin was dropped after timeouts while a peer is live: %+v", st)
		}
	}
}

// TestHeldPolls: a source that holds Have polls (HaveInfo.Holds) is asked
// again as soon as it answers, for the chunks needed that it is not known
// to have (Want), except while it answers our chunk requests (their
// answers carry its state); one that does not hold them is polled at
// intervals; the first poll of a source is never held.
func TestHeldPolls(t *testing.T) {
	const n = 16
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	p := k.Add("P", false, true, nil)
	k.Begin(NewBitmap(n), t0)
	if w := k.Want(p); w != nil {
		t.Fatalf("want before the first answer: %08b (the first poll must be answered at once)", w)
	}
	if polls := k.Polls(t0); len(polls) != 1 || polls[0] != p {
		t.Fatalf("first polls %v", polls)
	}
	k.HaveResult(p, HaveInfo{Have: NewBitmap(n), Fetching: NewBitmap(n), Downloading: true, Holds: true}, Outcome{}, t0)
	if polls := k.Polls(t0); len(polls) != 1 {
		t.Fatalf("a source holding polls, idle, is not asked again at once: %v", polls)
	}
	if w := k.Want(p); w.Has(n) || !w.Has(0) || !w.Has(n-1) || len(w) != 2 || w[0] != 0xff || w[1] != 0xff {
		t.Fatalf("want %08b, want every chunk", w)
	}
	have := NewBitmap(n)
	have.Set(3)
	k.HaveResult(p, HaveInfo{Have: have, Fetching: NewBitmap(n), Downloading: true, Holds: true}, Outcome{}, t0)
	as, _ := k.Schedule(t0)
	if len(as) != 1 || as[0].Chunk != 3 {
		t.Fatalf("scheduled %v, want chunk 3 of P", as)
	}
	if w := k.Want(p); w.Has(3) || !w.Has(2) {
		t.Fatalf("want %08b: not chunk 3 (it has it), every other", w)
	}
	if polls := k.Polls(t0); len(polls) != 0 {
		t.Fatalf("polled %v while it answers a chunk request", polls)
	}
	k.Result(as[0], Outcome{Kind: OK}, t0)
	if polls := k.Polls(t0); len(polls) != 1 {
		t.Fatalf("not asked again once its chunk answer came: %v", polls)
	}
	// An answer without Holds: back to polling at intervals.
	k.HaveResult(p, HaveInfo{Have: have, Fetching: NewBitmap(n), Downloading: true}, Outcome{}, t0)
	if polls := k.Polls(t0.Add(100 * time.Millisecond)); len(polls) != 0 {
		t.Fatalf("a source that does not hold polls was polled again before HaveInterval: %v", polls)
	}
	if polls := k.Polls(t0.Add(2 * k.Config().HaveInterval)); len(polls) != 1 { // it brought nothing new: 2 intervals
		t.Fatalf("not polled after its interval: %v", polls)
	}
}
