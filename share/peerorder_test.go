package share

import (
	"crypto/sha256"
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
