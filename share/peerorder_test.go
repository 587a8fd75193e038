package share

import (
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
