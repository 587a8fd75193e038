package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// holderAgain is a content whose part 0 went to HOLDER at the start, with
// no repeat budget left: only first copies are given.
type holderAgain struct {
	b     *OriginBudget
	c     sealed.ContentID
	start time.Time
}

const againSize, againChunk = 8 << 20, 256 << 10

func newHolderAgain(t *testing.T, c byte) *holderAgain {
	t.Helper()
	h := &holderAgain{b: &OriginBudget{RepeatShare: 0.0001}, c: sealed.ContentID{c}, start: time.Unix(1000, 0)}
	if !h.ask("HOLDER", 0, false, 0) {
		t.Fatal("the part's first copy was refused")
	}
	h.ask("REPEAT", 0, false, 0) // spends the repeat budget
	return h
}

// ask is a sharer's read of part p at start+at; seeded: a complete holder
// the asker may copy from is online (HOLDER's claim).
func (h *holderAgain) ask(asker identity.ID, p int, seeded bool, at time.Duration) bool {
	ok, _ := h.b.Admit(h.c, againSize, int64(p*againChunk), againChunk, asker, true, seeded, true, 0,
		func(identity.ID) bool { return true }, h.start.Add(at))
	return ok
}

// refuse has stuckDeclines sharers refused part 0 at start+at.
func (h *holderAgain) refuse(t *testing.T, seeded bool, at time.Duration) {
	t.Helper()
	for k := range stuckDeclines {
		if h.ask(identity.ID(fmt.Sprintf("S%d", k)), 0, seeded, at) {
			t.Fatalf("refusal %d: the part was given again at once", k)
		}
	}
}

// TestOriginBudgetHolderReadsAgain: a part's holder reading it from the
// origin again (a read that failed) gets it holderRetries times more, and
// those reads do not make the part "just went out" again. Before, a holder that does
// not pass its part on kept it from ever counting as stuck by reading it
// again before stuckAfter; claiming the content complete, it kept its
// grace (seededGrace) going the same way; and its reads added up to the
// first copies' cap, after which nobody got a first copy of any part.
func TestOriginBudgetHolderReadsAgain(t *testing.T) {
	t.Run("stuck", func(t *testing.T) {
		h := newHolderAgain(t, 9)
		h.refuse(t, false, 0)
		for k := range holderRetries {
			if !h.ask("HOLDER", 0, false, stuckAfter-time.Second+time.Duration(k)*time.Millisecond) {
				t.Errorf("its holder reading the part again (a read that failed, %d) was refused", k+1)
			}
		}
		if h.ask("HOLDER", 0, false, stuckAfter-time.Second/2) {
			t.Errorf("its holder read the part again %d times; want %d at most", holderRetries+1, holderRetries)
		}
		if !h.ask("X", 0, false, stuckAfter) {
			t.Errorf("refused %d times, %v after it went out, the part is not given again: its holder's read again hid it", stuckDeclines, stuckAfter)
		}
	})
	t.Run("claimed complete", func(t *testing.T) {
		h := newHolderAgain(t, 10)
		h.refuse(t, true, 0)
		if !h.ask("HOLDER", 0, true, seededGrace-10*time.Second) {
			t.Error("its holder reading the part again was refused")
		}
		if !h.ask("X", 0, true, seededGrace) {
			t.Errorf("after the grace (%v), a part its claimed complete holder does not pass on is not given again: its read again renewed the grace", seededGrace)
		}
	})
	t.Run("first copies", func(t *testing.T) {
		h := newHolderAgain(t, 11)
		for k := range 4 * againSize / againChunk {
			h.ask("HOLDER", 0, false, time.Duration(k)*time.Millisecond)
		}
		if !h.ask("Y", 1, false, time.Second) {
			t.Error("another part's first copy was refused: its holder's reads of one part used up the first copies")
		}
	})
	t.Run("stuck, its holder", func(t *testing.T) {
		h := newHolderAgain(t, 12)
		for range holderRetries { // its reads again
			h.ask("HOLDER", 0, false, time.Second)
		}
		h.refuse(t, false, 2*time.Second)
		if h.ask("HOLDER", 0, false, stuckAfter+time.Second) {
			t.Error("a stuck part was given again to its holder, the device not passing it on")
		}
		if !h.ask("X", 0, false, stuckAfter+time.Second) {
			t.Error("the stuck part was not given again to another sharer")
		}
	})
}
