package share

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestPairOrder: both ends of a pair rank it alike for a content (so a
// crowd's members mostly pick each other), another content ranks it
// otherwise, and pairOrder sorts by the rank without losing anyone.
func TestPairOrder(t *testing.T) {
	var ids []identity.ID
	for range 40 {
		d, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID())
	}
	c1, c2 := sealed.ContentID{1}, sealed.ContentID{2}
	differs := 0
	for _, a := range ids[:5] {
		for _, b := range ids[5:] {
			if pairRank(c1, a, b) != pairRank(c1, b, a) {
				t.Fatalf("rank of (%s, %s) differs by end", a.Short(), b.Short())
			}
			if pairRank(c1, a, b) != pairRank(c2, a, b) {
				differs++
			}
		}
	}
	if differs == 0 {
		t.Fatal("the rank does not depend on the content")
	}
	self := ids[0]
	var nbs []Neighbour
	for _, id := range ids[1:] {
		nbs = append(nbs, Neighbour{ID: id})
	}
	pairOrder(c1, self, nbs)
	if len(nbs) != len(ids)-1 {
		t.Fatalf("%d peers after ordering, want %d", len(nbs), len(ids)-1)
	}
	seen := map[identity.ID]bool{}
	for i, nb := range nbs {
		seen[nb.ID] = true
		if i > 0 {
			prev, cur := pairRank(c1, self, nbs[i-1].ID), pairRank(c1, self, nb.ID)
			if string(prev[:]) > string(cur[:]) {
				t.Fatalf("peer %d ranks before peer %d", i, i-1)
			}
		}
	}
	if len(seen) != len(ids)-1 {
		t.Fatalf("%d distinct peers after ordering, want %d", len(seen), len(ids)-1)
	}
}

// TestMatchFirst: every device of a crowd that knows the same crowd puts
// the same pairs first (A pairs B exactly when B pairs A, none more than k),
// so the crowd's first picks (each device's first k, as fetch takes them)
// are about k/2 connections a device; close peers stay in front, complete
// holders (they pick nobody) are never paired, and of each pair exactly one
// end waits for the other (the larger ID).
func TestMatchFirst(t *testing.T) {
	const n, k = 30, 4
	var ids []identity.ID
	for i := range n {
		ids = append(ids, identity.ID(fmt.Sprintf("dev-%02d", i)))
	}
	holder := identity.ID("holder")
	downloading := map[identity.ID]bool{}
	for _, id := range ids {
		downloading[id] = true
	}
	for _, cid := range []sealed.ContentID{{3}, {4}, {5}} {
		pairs := map[[2]identity.ID]bool{}
		partners := map[identity.ID]map[identity.ID]bool{}
		waits := 0
		for _, self := range ids {
			var ours []Neighbour
			for _, id := range append([]identity.ID{holder}, ids...) {
				if id != self {
					ours = append(ours, Neighbour{ID: id})
				}
			}
			pairOrder(cid, self, ours)
			m := matchFirst(cid, self, ours, downloading, k)
			if len(m) > k || len(m) == 0 {
				t.Fatalf("%s paired with %d devices, want 1 to %d", self, len(m), k)
			}
			if m[holder] {
				t.Fatalf("%s paired with a complete holder", self)
			}
			for i, p := range ours[:len(m)] {
				if !m[p.ID] {
					t.Fatalf("%s: peer %d (%s) is not a pair but comes before one", self, i, p.ID)
				}
				if i > 0 {
					prev, cur := pairRank(cid, self, ours[i-1].ID), pairRank(cid, self, p.ID)
					if string(prev[:]) > string(cur[:]) {
						t.Fatalf("%s: pair %d ranks before pair %d", self, i, i-1)
					}
				}
				if p.ID < self {
					waits++
				}
			}
			partners[self] = m
			for _, p := range ours[:k] {
				pairs[[2]identity.ID{min(self, p.ID), max(self, p.ID)}] = true
			}
		}
		for a, m := range partners {
			for b := range m {
				if !partners[b][a] {
					t.Fatalf("%s pairs %s, not the other way", a, b)
				}
			}
		}
		mutual := 0
		for _, m := range partners {
			mutual += len(m)
		}
		if waits != mutual/2 {
			t.Errorf("%d devices wait for a pair, want one per pair (%d)", waits, mutual/2)
		}
		// Paired first, a crowd's first picks are k/2 connections a device
		// and what a device lacking k pairs fills with; each taking the first
		// k of its own pairOrder was about 2.5 (75 to 79 pairs here).
		t.Logf("content %x: first picks %d pairs (%.2f a device)", cid[:1], len(pairs), float64(len(pairs))/n)
		if got := float64(len(pairs)) / n; got > 2.2 {
			t.Errorf("content %x: the first picks are %d pairs, %.2f a device; want at most 2.2", cid[:1], len(pairs), got)
		}
	}
	// A pair's key is the same from either end; the graph packs device
	// indices in 6 bits.
	if x, y := deviceDraw(sealed.ContentID{3}, ids[0]), deviceDraw(sealed.ContentID{3}, ids[1]); pairKey(x, y) != pairKey(y, x) || x == y {
		t.Fatalf("pair key differs by end, or draws alike")
	}
	if maxMatched > 64 {
		t.Fatalf("maxMatched %d does not fit matchFirst's 6-bit indices", maxMatched)
	}
	// Close peers (LAN, by hand) stay first, in their order.
	self := ids[0]
	ours := []Neighbour{{ID: "lan-b", LAN: true}, {ID: "hand-a", Hand: true}}
	for _, id := range ids[1:] {
		ours = append(ours, Neighbour{ID: id})
	}
	pairOrder(sealed.ContentID{3}, self, ours[2:])
	m := matchFirst(sealed.ContentID{3}, self, ours, downloading, k)
	if ours[0].ID != "lan-b" || ours[1].ID != "hand-a" || !m[ours[2].ID] || len(ours) != n+1 {
		t.Fatalf("close peers not kept first: %v", ours[:3])
	}
}

// TestPicksUs: a download predicts that a peer picks it exactly when it
// ranks among the first k of the peer's pairOrder over the same crowd (the
// suppliers we know, with us in place of the peer), and never yields to a
// peer whose device ID is the larger: of two devices that pick each other
// exactly one waits for the other.
func TestPicksUs(t *testing.T) {
	var ids []identity.ID
	for range 30 {
		d, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID())
	}
	cid := sealed.ContentID{3}
	const k = 4
	mutual, yields := 0, 0
	for _, self := range ids {
		var ours []Neighbour
		for _, id := range ids {
			if id != self {
				ours = append(ours, Neighbour{ID: id})
			}
		}
		pairOrder(cid, self, ours)
		for _, p := range ours[:k] { // our picks
			var theirs []Neighbour
			for _, id := range ids {
				if id != p.ID {
					theirs = append(theirs, Neighbour{ID: id})
				}
			}
			pairOrder(cid, p.ID, theirs)
			picked := false
			for _, x := range theirs[:k] {
				picked = picked || x.ID == self
			}
			got := picksUs(cid, self, p.ID, ours, k)
			if want := picked && p.ID < self; got != want {
				t.Fatalf("picksUs(%s by %s) = %v; it picks us: %v, smaller ID: %v", self.Short(), p.ID.Short(), got, picked, p.ID < self)
			}
			if picked {
				mutual++
			}
			if got {
				yields++
				if picksUs(cid, p.ID, self, theirs, k) {
					t.Fatalf("%s and %s both wait for the other", self.Short(), p.ID.Short())
				}
			}
		}
	}
	if mutual == 0 || yields != mutual/2 {
		t.Errorf("%d mutual picks, %d yields: want one yield per mutual pair", mutual, yields)
	}
}

// TestPairRankStable: the rank is SHA-256(cid, smaller ID, 0, larger ID),
// as every version computed it (both ends of a pair, of any version, must
// rank it alike), and computing it allocates nothing: a device of a big
// crowd ranks up to directory.MaxSuppliers peers every resupply round.
func TestPairRankStable(t *testing.T) {
	cid := sealed.ContentID{7}
	d1, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	a, b := min(d1.ID(), d2.ID()), max(d1.ID(), d2.ID())
	want := sha256.Sum256(append(append(append(append([]byte(nil), cid[:]...), a...), 0), b...))
	if got := pairRank(cid, b, a); got != want {
		t.Fatalf("rank %x, want %x", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { pairRank(cid, a, b) }); n != 0 {
		t.Fatalf("pairRank allocates %v times, want 0", n)
	}
}

// BenchmarkPairOrder: a device of a crowd bigger than
// directory.MaxSuppliers orders a full suppliers answer every resupply
// round.
func BenchmarkPairOrder(b *testing.B) {
	cid := sealed.ContentID{7}
	self := identity.ID("kself")
	nbs := make([]Neighbour, 50)
	for i := range nbs {
		d, err := identity.Generate()
		if err != nil {
			b.Fatal(err)
		}
		nbs[i] = Neighbour{ID: d.ID(), Addrs: []string{"127.0.0.1:1"}}
	}
	work := make([]Neighbour, len(nbs))
	b.ReportAllocs()
	for b.Loop() {
		copy(work, nbs)
		pairOrder(cid, self, work)
	}
}

// BenchmarkMatchFirst: a download pairs itself among directory.MaxSuppliers
// devices downloading, as it starts and in a resupply round with room for
// peers. That is one more than matchFirst is ever given: an answer
// listing MaxSuppliers holders is full (Crowd.Full, the crowd may be
// bigger: each device has its own sample) and is not paired, so the
// biggest crowd paired has MaxSuppliers-1 others, a bound from above.
func BenchmarkMatchFirst(b *testing.B) {
	cid := sealed.ContentID{7}
	self := identity.ID("kself")
	nbs := make([]Neighbour, 50)
	downloading := map[identity.ID]bool{}
	for i := range nbs {
		d, err := identity.Generate()
		if err != nil {
			b.Fatal(err)
		}
		nbs[i] = Neighbour{ID: d.ID(), Addrs: []string{"127.0.0.1:1"}}
		downloading[d.ID()] = true
	}
	work := make([]Neighbour, len(nbs))
	b.ReportAllocs()
	for b.Loop() {
		copy(work, nbs)
		matchFirst(cid, self, work, downloading, 4)
	}
}
