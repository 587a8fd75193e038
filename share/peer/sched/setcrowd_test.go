package sched

import (
	"slices"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// TestSetCrowdSame: a crowd told again (reordered, with repeats, ourselves
// and empty IDs among it) keeps its members and its ownership answers;
// one member more, one less or one replaced is a new crowd, and who owns
// each chunk follows it.
func TestSetCrowdSame(t *testing.T) {
	const n = 64
	k := newCore(n, "ME")
	owns := func(crowd ...identity.ID) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = true
			for _, id := range crowd {
				if Rendezvous(id, i) < Rendezvous("ME", i) {
					out[i] = false
				}
			}
		}
		return out
	}
	check := func(what string, want ...identity.ID) {
		t.Helper()
		got := slices.Clone(k.crowd)
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Fatalf("%s: crowd %v, want %v", what, got, w)
		}
		if len(k.crowdSet) != len(want) {
			t.Fatalf("%s: %d members remembered, want %d", what, len(k.crowdSet), len(want))
		}
		o := owns(want...)
		for i := range n {
			if k.mineChunk(i) != o[i] {
				t.Fatalf("%s: owns chunk %d: %v, want %v", what, i, !o[i], o[i])
			}
		}
	}
	k.SetCrowd([]identity.ID{"A", "B", "C", "A", "ME", ""})
	check("first", "A", "B", "C")
	k.mineChunk(0)
	cached := k.mine
	k.SetCrowd([]identity.ID{"C", "", "B", "A", "B", "ME"})
	check("same, reordered", "A", "B", "C")
	if &k.mine[0] != &cached[0] {
		t.Fatal("the same crowd told again dropped the ownership answers")
	}
	k.SetCrowd([]identity.ID{"A", "B", "C", "D"})
	check("one more", "A", "B", "C", "D")
	k.SetCrowd([]identity.ID{"A", "C", "D"})
	check("one less", "A", "C", "D")
	k.SetCrowd([]identity.ID{"A", "C", "A", "E"})
	check("one replaced, with a repeat", "A", "C", "E")
	k.SetCrowd([]identity.ID{"A", "A", "C"})
	check("one less, with a repeat of as many", "A", "C")
	k.SetCrowd([]identity.ID{"A", "C", "C"})
	check("same, other repeat", "A", "C")
	k.SetCrowd(nil)
	check("none")
	k.SetCrowd([]identity.ID{"B"})
	check("again", "B")
}
