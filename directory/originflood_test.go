package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOriginBudgetRefusalFlood: in a big crowd (stuckCrowd others), one
// device asking the origin again and again for parts that spread (a
// flooder, or the stuck part's own holder) must not keep a part that no
// one serves from standing out. Counting every refused read, its 2,000
// reads of each other part raised their mean so part 3 was never given
// again; counting each sharer once per part, it weighs one.
func TestOriginBudgetRefusalFlood(t *testing.T) {
	for _, flooder := range []identity.ID{"FLOODER", "H3"} { // a stranger; part 3's own holder
		t.Run(string(flooder), func(t *testing.T) {
			const size, chunk, parts = 8 << 20, 256 << 10, 8
			b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
			now := time.Unix(1000, 0)
			holds := func(identity.ID) bool { return true }
			c := sealed.ContentID{9}
			ask := func(p int, who identity.ID, at time.Time) bool {
				ok, _ := b.Admit(c, size, int64(p*chunk), chunk, who, true, false, true, stuckCrowd, holds, at)
				return ok
			}
			for p := range parts {
				if !ask(p, identity.ID(fmt.Sprintf("H%d", p)), now) {
					t.Fatalf("part %d: first copy refused", p)
				}
			}
			ask(0, "REPEAT", now) // spends the repeat budget
			const alike = stuckDeclines
			for k := range alike { // every part spreads: refused alike
				for p := range parts {
					if ask(p, identity.ID(fmt.Sprintf("S%d-%d", p, k)), now) {
						t.Fatalf("part %d, refusal %d: given again before stuckAfter", p, k)
					}
				}
			}
			for range 2000 { // the flood: the other parts, again and again
				for p := range parts {
					if p != 3 && ask(p, flooder, now) {
						t.Fatalf("flooder given part %d", p)
					}
				}
			}
			now = now.Add(stuckAfter)
			given := -1
			for k := alike; k < 50*alike && given < 0; k++ {
				if ask(3, identity.ID(fmt.Sprintf("S3-%d", k)), now) {
					given = k + 1
				}
			}
			// The others' mean: alike sharers and the flooder, once; the
			// part goes out to the first sharer asking once that many
			// were refused it.
			if want := stuckRatio*(alike+1) + 1; given < 0 || given > want {
				t.Fatalf("part 3, which nobody serves, given again after %d sharers were refused it (-1: never), want by %d (stuckRatio × the others' mean)", given, want)
			}
			if got := b.m[c].distinct; got != (parts-1)*(alike+1) {
				t.Errorf("after part 3 went out again: %d askers counted, want %d (part 3's dropped)", got, (parts-1)*(alike+1))
			}
		})
	}
}

// TestOriginBudgetAskersBounded: the askers' sets live only as long as
// their part's copy and their content's episode, and maxAskerPairs holds
// across contents.
func TestOriginBudgetAskersBounded(t *testing.T) {
	const size, chunk = 1 << 20, 256 << 10
	b := &OriginBudget{RepeatShare: 0.0001}
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	for i := range 3 {
		c := sealed.ContentID{byte(i + 1)}
		b.Admit(c, size, 0, chunk, "H", true, false, true, stuckCrowd, holds, now)
		b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, stuckCrowd, holds, now)
		for k := range 10 {
			b.Admit(c, size, 0, chunk, identity.ID(fmt.Sprintf("S%d", k)), true, false, true, stuckCrowd, holds, now)
			b.Admit(c, size, 0, chunk, identity.ID(fmt.Sprintf("S%d", k)), true, false, true, stuckCrowd, holds, now)
		}
	}
	if b.pairs != 30 {
		t.Fatalf("3 contents × 10 sharers refused twice each: %d pairs, want 30", b.pairs)
	}
	// Content 1's episode ends: its tally and its askers go.
	later := now.Add(3 * b.period())
	c1 := sealed.ContentID{1}
	b.Admit(c1, size, 0, chunk, "H", true, false, true, stuckCrowd, holds, later)
	b.Admit(c1, size, 0, chunk, "REPEAT", true, false, true, stuckCrowd, holds, later)
	if b.pairs != 20 {
		t.Errorf("after content 1's episode ended: %d pairs, want 20", b.pairs)
	}
	// Full: the tallies past their episode (contents 2 and 3) go first.
	b.pairs = maxAskerPairs
	b.Admit(c1, size, 0, chunk, "NEW", true, false, true, stuckCrowd, holds, later)
	if len(b.m) != 1 || b.pairs != maxAskerPairs-20+1 || b.m[c1].distinct != 1 {
		t.Fatalf("full, with 2 stale tallies: %d tallies, %d pairs (want 1, %d), content 1 %d askers (want 1)", len(b.m), b.pairs, maxAskerPairs-19, b.m[c1].distinct)
	}
	// Full again, within a period of the sweep: a new asker is not recorded.
	b.pairs = maxAskerPairs
	b.Admit(c1, size, 0, chunk, "NEWER", true, false, true, stuckCrowd, holds, later)
	if b.pairs != maxAskerPairs || b.m[c1].distinct != 1 || b.m[c1].declined[0] != 2 {
		t.Errorf("full: %d pairs (want %d), content 1 %d askers (want 1), %d refusals (want 2: the count goes on)", b.pairs, maxAskerPairs, b.m[c1].distinct, b.m[c1].declined[0])
	}
}
