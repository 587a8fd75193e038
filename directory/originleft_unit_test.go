package directory

import (
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOriginAnnouncedNobody: a holder announcing the content under a
// policy that lets nobody copy it has left it (its copies are gone for
// the crowd), as one announcing without it; one still sharing has not.
func TestOriginAnnouncedNobody(t *testing.T) {
	b := &OriginBudget{}
	c := sealed.ContentID{3}
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	for p, id := range []identity.ID{"A", "B"} {
		if ok, _ := b.Admit(c, 8<<20, int64(p)<<18, 1<<18, id, true, false, true, stuckCrowd, holds, now); !ok {
			t.Fatalf("%s: first copy refused", id)
		}
	}
	now = now.Add(passedOnAfter)
	b.Announced("A", []Holding{{Content: c, Policy: Policy{Mode: PolicyNobody}}}, now)
	b.Announced("B", []Holding{{Content: c, Policy: Policy{Mode: PolicyAnyone}}}, now)
	if g := b.m[c].served[0]; !g.left.Equal(now) {
		t.Errorf("A (policy nobody): left %v, want %v", g.left, now)
	}
	if g := b.m[c].served[1<<18]; !g.left.IsZero() {
		t.Errorf("B (still sharing): left %v", g.left)
	}
	if b.nRecent != 1 || len(b.recent["B"]) != 1 {
		t.Errorf("recent grants kept: %d (B: %d), want B's one", b.nRecent, len(b.recent["B"]))
	}

	// One device's first copies of two contents, then of the first again:
	// it stops sharing the second only.
	c2 := sealed.ContentID{4}
	for _, x := range []struct {
		c   sealed.ContentID
		off int64
	}{{c, 2 << 18}, {c2, 0}, {c, 3 << 18}} {
		if ok, _ := b.Admit(x.c, 8<<20, x.off, 1<<18, "C", true, false, true, stuckCrowd, holds, now); !ok {
			t.Fatalf("C: first copy of %v at %d refused", x.c, x.off)
		}
	}
	later := now.Add(passedOnAfter)
	b.Announced("C", []Holding{{Content: c, Policy: Policy{Mode: PolicyAnyone}}}, later)
	if g := b.m[c2].served[0]; !g.left.Equal(later) {
		t.Errorf("C's part of the content it stopped sharing: left %v, want %v", g.left, later)
	}
	for _, off := range []int64{2 << 18, 3 << 18} {
		if g := b.m[c].served[off]; !g.left.IsZero() {
			t.Errorf("C's part at %d of the content it still shares: left %v", off, g.left)
		}
	}
	if len(b.recent["C"]) != 2 {
		t.Errorf("C's recent grants kept: %d, want 2", len(b.recent["C"]))
	}
}

// TestOriginRecentBounded: the grants remembered for Announced stay under
// maxRecent however many parts go out within stuckAfter, and are dropped
// past it.
func TestOriginRecentBounded(t *testing.T) {
	b := &OriginBudget{}
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	for i := range maxRecent + 100 {
		c := sealed.ContentID{byte(i), byte(i >> 8), byte(i >> 16)}
		b.Admit(c, 1<<20, 0, 1<<10, "X", true, false, true, stuckCrowd, holds, now)
	}
	if b.nRecent != maxRecent || len(b.recent["X"]) != maxRecent {
		t.Errorf("recent grants: %d (X: %d), want %d", b.nRecent, len(b.recent["X"]), maxRecent)
	}
	b.Announced("X", nil, now.Add(stuckAfter))
	if b.nRecent != 0 || b.recent["X"] != nil {
		t.Errorf("after stuckAfter: %d recent grants kept", b.nRecent)
	}
}
