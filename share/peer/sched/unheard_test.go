package sched

import (
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// TestUnheardPeersHalf: peers whose first Have poll is out may hold
// anything, so the origin waits for their answers, but only until half of
// the peers have answered: then the origin is asked for this device's own
// chunks that no answered peer holds (and only those: the unheard peers
// keep the download from counting as starved), while the others' polls
// are still out. Legacy waits for every answer.
func TestUnheardPeersHalf(t *testing.T) {
	const n = 64
	t0 := time.Unix(0, 0)
	peers := []identity.ID{"P1", "P2", "P3", "P4"}
	setup := func(legacy bool) (*Core, *Source, []*Source) {
		k := New(Config{Chunks: n, ChunkSize: func(int) int64 { return 1 << 10 }, Self: "ME", Legacy: legacy,
			HaveInterval: 500 * time.Millisecond, OriginInFlight: n})
		origin := k.Add("ORIGIN", true, false, nil)
		var ps []*Source
		for _, id := range peers {
			ps = append(ps, k.Add(id, false, true, nil))
		}
		k.SetCrowd(peers)
		k.Begin(NewBitmap(n), t0)
		if got := k.Polls(t0); len(got) != len(peers) {
			t.Fatalf("first polls %d, want %d", len(got), len(peers))
		}
		return k, origin, ps
	}
	mine := func(i int) bool {
		for _, id := range peers {
			if Rendezvous(id, i) < Rendezvous("ME", i) {
				return false
			}
		}
		return true
	}
	answer := func(k *Core, s *Source, has Bitmap, at time.Time) {
		k.HaveResult(s, HaveInfo{Have: has, Fetching: NewBitmap(n), Downloading: true}, Outcome{}, at)
	}
	var own []int
	for i := range n {
		if mine(i) {
			own = append(own, i)
		}
	}
	if len(own) < 2 {
		t.Fatalf("this device owns %d chunks of %d, want at least 2 for the test", len(own), n)
	}

	k, origin, ps := setup(false)
	// One of four answered (holding our first own chunk): the three others may hold anything.
	held := NewBitmap(n)
	held.Set(own[0])
	answer(k, ps[0], held, t0.Add(10*time.Millisecond))
	if as, _ := k.Schedule(t0.Add(20 * time.Millisecond)); len(as) != 1 || as[0].Src != ps[0] || as[0].Chunk != own[0] {
		t.Fatalf("one peer of four answered: asked %v, want the chunk it holds from it and nothing of the origin", attempts(as))
	}
	// Half answered: the origin is asked for our own chunks no answered peer holds, and for nothing else.
	answer(k, ps[1], NewBitmap(n), t0.Add(30*time.Millisecond))
	as, _ := k.Schedule(t0.Add(40 * time.Millisecond))
	got := map[int]bool{}
	for _, a := range as {
		if a.Src != origin || !mine(a.Chunk) || a.Chunk == own[0] {
			t.Errorf("half the peers answered: asked %s for chunk %d (ours: %v); want the origin for our own chunks no answered peer holds", a.Src.ID(), a.Chunk, mine(a.Chunk))
		}
		got[a.Chunk] = true
	}
	if len(got) != len(own)-1 {
		t.Errorf("half the peers answered: the origin was asked for %d chunks, want our %d own ones but the one a peer holds", len(got), len(own)-1)
	}

	// Legacy waits for every first answer.
	k, _, ps = setup(true)
	for _, p := range ps[:3] {
		answer(k, p, NewBitmap(n), t0.Add(10*time.Millisecond))
	}
	if as, _ := k.Schedule(t0.Add(20 * time.Millisecond)); len(as) != 0 {
		t.Fatalf("legacy, one peer unheard: asked %v, want nothing", attempts(as))
	}
}

func attempts(as []*Attempt) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s:%d", a.Src.ID(), a.Chunk))
	}
	return out
}
