package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOriginBudgetSeededClaim: a complete holder's claim (seeded) keeps
// parts that spread from being given again (each refused alike), but not
// a part that stands out: a stalled device that got part 3's first copy
// and then completed claims every part while serving none, and part 3,
// the one the crowd asks the origin for, was refused until seededGrace
// (a minute after it went out) before.
func TestOriginBudgetSeededClaim(t *testing.T) {
	for _, crowd := range []int{20, stuckCrowd} {
		t.Run(fmt.Sprint(crowd), func(t *testing.T) {
			const size, chunk, parts = 8 << 20, 256 << 10, 8
			b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
			now := time.Unix(1000, 0)
			holds := func(identity.ID) bool { return true }
			c := sealed.ContentID{10}
			ask := func(p int, who string, at time.Time) bool {
				ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(who), true, true, true, crowd, holds, at)
				return ok
			}
			for p := range parts {
				if ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(fmt.Sprintf("H%d", p)), true, false, true, crowd, holds, now); !ok {
					t.Fatalf("part %d: first copy refused", p)
				}
			}
			ask(0, "REPEAT", now) // spends the repeat budget
			// Every part spreads at first: refused alike, none given again.
			for k := range stuckDeclines {
				for p := range parts {
					if ask(p, fmt.Sprintf("S%d-%d", p, k), now.Add(stuckAfter)) {
						t.Fatalf("part %d, refused %d times like every other, given again while a complete holder is online", p, k+1)
					}
				}
			}
			// Then the crowd asks for part 3 alone: its holder (H3, which
			// claims to be complete) does not serve it.
			now = now.Add(2 * stuckAfter)
			given := -1
			for k := stuckDeclines; k < 10*stuckDeclines && given < 0; k++ {
				if ask(3, fmt.Sprintf("S3-%d", k), now) {
					given = k + 1
				}
			}
			if want := stuckRatio*stuckDeclines + 1; given < 0 || given > want {
				t.Errorf("part 3, which stands out, %v after it went out (grace %v): given again to its sharer %d (-1: never), want by %d",
					2*stuckAfter, seededGrace, given, want)
			}
		})
	}
}
