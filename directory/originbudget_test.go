package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOriginBudget walks one content's episode: first copies to sharers
// are free, repeats and non-sharers spend the repeat budget, which refills
// over the period; a device alone is always served.
func TestOriginBudget(t *testing.T) {
	const size, chunk = 1 << 20, 64 << 10 // 16 parts; repeat budget 0.1 × 1 MiB ≈ 1.6 parts
	c := sealed.ContentID{1}
	b := &OriginBudget{}
	t0 := time.Unix(1000, 0)
	online := map[identity.ID]bool{"A": true, "B": true}
	holds := func(id identity.ID) bool { return online[id] }
	steps := []struct {
		name           string
		asker          identity.ID
		off            int64
		others, sharer bool
		at             time.Duration
		leave          identity.ID // goes offline before this step
		ok             bool
	}{
		{"first copy of part 0 to sharer A", "A", 0, true, true, 0, "", true},
		{"A again: its read failed, asked again", "A", 0, true, true, 0, "", true},
		{"part 0 to B: a repeat, from the budget", "B", 0, true, true, 0, "", true},
		{"part 0 to C: the budget is spent", "C", 0, true, true, 0, "", false},
		{"part 1 is still a first copy", "B", chunk, true, true, 0, "", true},
		{"a free rider's first ask is not a first copy", "F", 2 * chunk, true, false, 0, "", false},
		{"alone: always served", "F", 0, false, false, 0, "", true},
		{"A left: part 0 is lacking again, a first copy for C", "C", 0, true, true, 0, "A", true},
		{"one minute later the budget holds a fifth of a part: D waits", "D", 0, true, true, time.Minute, "", false},
		{"a period (5 min) later the budget has refilled", "D", 0, true, true, 5 * time.Minute, "", true},
		{"the refill went to that repeat: the free rider waits", "F", 2 * chunk, true, false, 5 * time.Minute, "", false},
		{"part 2 never went to a sharer: first copy", "D", 2 * chunk, true, true, 5 * time.Minute, "", true},
	}
	for _, s := range steps {
		online[s.asker] = s.sharer
		if s.leave != "" {
			online[s.leave] = false
		}
		ok, retry := b.Admit(c, size, s.off, chunk, s.asker, s.others, false, s.sharer, 0, holds, t0.Add(s.at))
		if ok != s.ok {
			t.Errorf("%s: admitted %v, want %v", s.name, ok, s.ok)
		}
		if !ok && (retry < 100*time.Millisecond || retry > 5*time.Second) {
			t.Errorf("%s: retry %s outside [100ms, 5s]", s.name, retry)
		}
	}
}

// TestOriginBudgetFirstCopiesBounded: overlapping reads at many offsets
// cannot make more than about one size of "first copies".
func TestOriginBudgetFirstCopiesBounded(t *testing.T) {
	const size = 1 << 20
	b := &OriginBudget{RepeatShare: 0.0001}
	now := time.Unix(1000, 0)
	var served int64
	for off := int64(0); off < size; off += 4096 {
		if ok, _ := b.Admit(sealed.ContentID{2}, size, off, size-off, "A", true, false, true, 0, func(identity.ID) bool { return true }, now); ok {
			served += size - off
		}
	}
	if served > 3*size { // first copies ≤ 2 x size, plus one repeat from the full budget
		t.Errorf("served %d bytes as first copies of a %d-byte content", served, size)
	}
}

// TestOriginBudgetHoldersTakingTurns: first copies whose holder stopped
// sharing are taken off the first-copy cap for one size per episode at
// most: two devices taking turns to read the whole content and stop
// sharing it (a third holding it all along) do not get it again and again
// as first copies.
func TestOriginBudgetHoldersTakingTurns(t *testing.T) {
	const size = 1 << 20
	b := &OriginBudget{RepeatShare: 0.0001}
	now := time.Unix(1000, 0)
	sharing := map[identity.ID]bool{}
	holds := func(id identity.ID) bool { return sharing[id] }
	var served int64
	for i := range 20 {
		asker, other := identity.ID("A"), identity.ID("B")
		if i%2 == 1 {
			asker, other = other, asker
		}
		sharing[asker], sharing[other] = true, false // the other stopped sharing
		if ok, _ := b.Admit(sealed.ContentID{4}, size, 0, size, asker, true, false, true, 0, holds, now); ok {
			served += size
		}
	}
	if served > 4*size { // first copies ≤ 2 x size, one size of them given again, one repeat from the full budget
		t.Errorf("served %d bytes of a %d-byte content to two devices taking turns", served, size)
	}
}

// TestOriginBudgetBigRead: a read bigger than the whole repeat budget is
// served when the budget is full (and empties it), not refused forever.
func TestOriginBudgetBigRead(t *testing.T) {
	const size = 512 << 10 // budget 51 KiB, reads of 256 KiB
	b := &OriginBudget{}
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	b.Admit(sealed.ContentID{3}, size, 0, 256<<10, "A", true, false, true, 0, holds, now)
	if ok, _ := b.Admit(sealed.ContentID{3}, size, 0, 256<<10, "B", true, false, true, 0, holds, now); !ok {
		t.Errorf("a repeat bigger than the budget is refused with the budget full")
	}
	if ok, retry := b.Admit(sealed.ContentID{3}, size, 0, 256<<10, "C", true, false, true, 0, holds, now); ok || retry <= 0 {
		t.Errorf("the budget just spent: admitted %v, retry %s", ok, retry)
	}
}

func TestSingleRange(t *testing.T) {
	for _, tc := range []struct {
		h      string
		off, n int64
		ok     bool
	}{
		{"bytes=0-99", 0, 100, true},
		{"bytes=100-", 100, 900, true},
		{"bytes=900-5000", 900, 100, true},
		{"bytes=1000-1001", 0, 0, false}, // past the end
		{"bytes=5-4", 0, 0, false},
		{"bytes=0-1,5-6", 0, 0, false},
		{"bytes=-5", 0, 0, false},
		{"items=0-1", 0, 0, false},
		{"", 0, 0, false},
	} {
		off, n, ok := singleRange(tc.h, 1000)
		if off != tc.off || n != tc.n || ok != tc.ok {
			t.Errorf("singleRange(%q) = %d, %d, %v; want %d, %d, %v", tc.h, off, n, ok, tc.off, tc.n, tc.ok)
		}
	}
}

// TestOriginBudgetStuckPart: a part refused to many sharers since it went
// out is not spreading (its holder cannot serve it): it is given again.
func TestOriginBudgetStuckPart(t *testing.T) {
	const size, chunk = 8 << 20, 256 << 10
	b := &OriginBudget{RepeatShare: 0.0001}
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	c := sealed.ContentID{4}
	b.Admit(c, size, 0, chunk, "HOLDER", true, false, true, 0, holds, now)
	if ok, _ := b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, 0, holds, now); !ok {
		t.Fatal("the full repeat budget refused one repeat")
	}
	for k := range stuckDeclines {
		if ok, _ := b.Admit(c, size, 0, chunk, identity.ID(fmt.Sprintf("S%02d", k)), true, false, true, 0, holds, now); ok {
			t.Fatalf("refusal %d: admitted before the part counts as stuck", k)
		}
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "SOON", true, false, true, 0, holds, now.Add(stuckAfter/2)); ok {
		t.Errorf("a part refused %d times within %v of going out is given again", stuckDeclines, stuckAfter/2)
	}
	now = now.Add(stuckAfter)
	if ok, _ := b.Admit(c, size, 0, chunk, "NEXT", true, false, true, 0, holds, now); !ok {
		t.Errorf("a part refused %d times, %v after it went out, is still refused", stuckDeclines, stuckAfter)
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "AFTER", true, false, true, 0, holds, now); ok {
		t.Errorf("given again, the part is a repeat again")
	}
}

// TestOriginBudgetStuckPartSeeded: while a device the asker may copy from
// holds every part (seeded), a part refused many times is spreading, not
// stuck: in a crowd of thousands each part is refused hundreds of times
// in its first seconds (devices whose few peers have nothing yet ask the
// origin), and counting those gave parts out again at stuckAfter. Once
// no complete holder is online, the same part counts as stuck again.
func TestOriginBudgetStuckPartSeeded(t *testing.T) {
	const size, chunk = 8 << 20, 256 << 10
	b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	c := sealed.ContentID{5}
	if ok, _ := b.Admit(c, size, 0, chunk, "HOLDER", true, false, true, 0, holds, now); !ok {
		t.Fatal("the part's first copy was refused")
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "REPEAT", true, true, true, 0, holds, now); !ok {
		t.Fatal("the full repeat budget refused one repeat") // it is spent now
	}
	for k := range 4 * stuckDeclines {
		if ok, _ := b.Admit(c, size, 0, chunk, identity.ID(fmt.Sprintf("S%02d", k)), true, true, true, 0, holds, now); ok {
			t.Fatalf("refusal %d: admitted", k)
		}
	}
	now = now.Add(2 * stuckAfter)
	for k := range 8 {
		if ok, _ := b.Admit(c, size, 0, chunk, identity.ID(fmt.Sprintf("T%02d", k)), true, true, true, 0, holds, now); ok {
			t.Fatalf("a part refused %d times, %v after it went out, was given again to T%02d while a complete holder is online",
				4*stuckDeclines+k, 2*stuckAfter, k)
		}
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "LAST", true, false, true, 0, holds, now); !ok {
		t.Error("with no complete holder online, a part refused that often is still refused (not counted stuck)")
	}
}

// TestOriginBudgetLeftSeeded: a part whose holder left is lacking again,
// unless a complete holder the asker may copy from is online: then the
// part is in the crowd, and that device serves it.
func TestOriginBudgetLeftSeeded(t *testing.T) {
	const size, chunk = 8 << 20, 256 << 10
	b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
	now := time.Unix(1000, 0)
	online := map[identity.ID]bool{"HOLDER": true, "REPEAT": true}
	holds := func(id identity.ID) bool { return online[id] }
	c := sealed.ContentID{7}
	if ok, _ := b.Admit(c, size, 0, chunk, "HOLDER", true, false, true, 0, holds, now); !ok {
		t.Fatal("the part's first copy was refused")
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, 0, holds, now); !ok {
		t.Fatal("the full repeat budget refused one repeat") // it is spent now
	}
	online["HOLDER"] = false // it left
	now = now.Add(time.Second)
	if ok, _ := b.Admit(c, size, 0, chunk, "A", true, true, true, 0, holds, now); ok {
		t.Error("the part whose holder left was given again while a complete holder is online")
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "B", true, false, true, 0, holds, now); !ok {
		t.Error("with no complete holder online, the part whose holder left was refused")
	}
}

// TestOriginBudgetSeededGrace: a complete holder online keeps a part
// whose holder left from being given again only for seededGrace after the
// part went out: a device that announces the content complete and serves
// nobody cannot leave a lost part to the repeat budget for good.
func TestOriginBudgetSeededGrace(t *testing.T) {
	const size, chunk = 8 << 20, 256 << 10
	b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
	now := time.Unix(1000, 0)
	online := map[identity.ID]bool{"HOLDER": true}
	holds := func(id identity.ID) bool { return online[id] }
	c := sealed.ContentID{8}
	if ok, _ := b.Admit(c, size, 0, chunk, "HOLDER", true, false, true, 0, holds, now); !ok {
		t.Fatal("the part's first copy was refused")
	}
	b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, 0, holds, now) // spends the repeat budget
	online["HOLDER"] = false
	if ok, _ := b.Admit(c, size, 0, chunk, "A", true, true, true, 0, holds, now.Add(time.Second)); ok {
		t.Error("within the grace, the part was given again although a complete holder is online")
	}
	if ok, _ := b.Admit(c, size, 0, chunk, "B", true, true, true, 0, holds, now.Add(seededGrace)); !ok {
		t.Error("after the grace, the part whose holder left is still refused: a false complete holder keeps it lost")
	}
}

// TestOriginBudgetStuckStandsOut: in a big crowd (stuckCrowd others),
// while every part of a content is refused alike (devices asking for
// whatever their peers lack while all parts spread), none counts as
// stuck, however often; a part refused stuckRatio times as often as the
// others on average does.
func TestOriginBudgetStuckStandsOut(t *testing.T) {
	const size, chunk, parts = 8 << 20, 256 << 10, 8
	b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	c := sealed.ContentID{6}
	for p := range parts {
		if ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(fmt.Sprintf("H%d", p)), true, false, true, stuckCrowd, holds, now); !ok {
			t.Fatalf("part %d: first copy refused", p)
		}
	}
	b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, stuckCrowd, holds, now) // spends the repeat budget
	ask := func(p, k int, at time.Time) bool {
		ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(fmt.Sprintf("S%d-%d", p, k)), true, false, true, stuckCrowd, holds, at)
		return ok
	}
	const alike = 3 * stuckDeclines
	for k := range alike {
		for p := range parts {
			if ask(p, k, now) {
				t.Fatalf("part %d, refusal %d: given again before stuckAfter", p, k)
			}
		}
	}
	now = now.Add(stuckAfter)
	for p := range parts {
		if ask(p, alike, now) {
			t.Errorf("part %d, refused %d times like every other part, %v after it went out: given again as stuck", p, alike, stuckAfter)
		}
	}
	// Part 3 alone is asked for now: the others arrived through the crowd.
	given := -1
	for k := alike + 1; k < 10*alike && given < 0; k++ {
		if ask(3, k, now) {
			given = k
		}
	}
	others := (parts - 1) * (alike + 1)
	if min := stuckRatio * others / (parts - 1); given < min || given > min+1 {
		t.Errorf("part 3 given again at its refusal %d, want it once refused %d times (stuckRatio × the others' mean)", given, min)
	}
}

// TestOriginBudgetStuckSmallCrowd: in a small crowd (fewer than
// stuckCrowd others), one stalled holder (online, not serving) got 3 of
// the 8 parts' first copies; the crowd asks for those 3 alike and they do
// not stand out against the mean. Each is still given again once refused
// stuckDeclines times, stuckAfter after it went out, as the count alone
// did before the ratio.
func TestOriginBudgetStuckSmallCrowd(t *testing.T) {
	const size, chunk, parts, stalled = 8 << 20, 256 << 10, 8, 3
	b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	c := sealed.ContentID{7}
	const crowd = stuckCrowd - 1
	for p := range parts {
		to := identity.ID(fmt.Sprintf("H%d", p))
		if p < stalled {
			to = "STALLED"
		}
		if ok, _ := b.Admit(c, size, int64(p*chunk), chunk, to, true, false, true, crowd, holds, now); !ok {
			t.Fatalf("part %d: first copy refused", p)
		}
	}
	b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, crowd, holds, now) // spends the repeat budget
	ask := func(p, k int, at time.Time) bool {
		ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(fmt.Sprintf("S%d-%d", p, k)), true, false, true, crowd, holds, at)
		return ok
	}
	for k := range stuckDeclines {
		for p := range stalled {
			if ask(p, k, now) {
				t.Fatalf("part %d, refusal %d: given again before stuckAfter", p, k)
			}
		}
	}
	if ask(stalled-1, stuckDeclines, now.Add(stuckAfter/2)) {
		t.Fatalf("part %d given again %v after it went out, before stuckAfter", stalled-1, stuckAfter/2)
	}
	now = now.Add(stuckAfter)
	for p := range stalled {
		if !ask(p, stuckDeclines+1, now) {
			t.Errorf("part %d of the stalled holder, refused %d times or more, %v after it went out, in a crowd of %d: not given again",
				p, stuckDeclines, stuckAfter, crowd)
		}
	}
}

// TestOriginBudgetLeftStandsOut: in a crowd of stuckCrowd or more, a part
// whose holder left stuckAfter or more after it went out is given again
// only once it stands out (refused stuckRatio times as often as the other
// parts on average): while every part is refused alike it spreads, and
// the holder passed it on (simulator, N = 10,000, seed 3: a part given
// again 10 s in although 5,173 online devices held it). A part whose
// holder left sooner, or left a smaller crowd, or got it alone (a crowd
// arriving after one device downloaded the title and left), is given
// again at once.
func TestOriginBudgetLeftStandsOut(t *testing.T) {
	const size, chunk, parts = 8 << 20, 256 << 10, 8
	for _, tc := range []struct {
		went   int // the crowd the parts went into
		crowd  int // the crowd when the holder has left
		after  time.Duration
		atOnce bool
	}{
		{stuckCrowd, stuckCrowd, stuckAfter, false},
		{stuckCrowd, stuckCrowd, stuckAfter - time.Millisecond, true},
		{stuckCrowd, stuckCrowd - 1, stuckAfter, true},
		{0, stuckCrowd, stuckAfter, true}, // its holder got it alone
	} {
		b := &OriginBudget{RepeatShare: 0.0001} // no repeats: only first copies
		now := time.Unix(1000, 0)
		gone := map[identity.ID]bool{}
		holds := func(id identity.ID) bool { return !gone[id] }
		c := sealed.ContentID{8}
		for p := range parts {
			if ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(fmt.Sprintf("H%d", p)), true, false, true, tc.went, holds, now); !ok {
				t.Fatalf("%+v, part %d: first copy refused", tc, p)
			}
		}
		b.Admit(c, size, 0, chunk, "REPEAT", true, false, true, tc.crowd, holds, now) // spends the repeat budget
		ask := func(p, k int) bool {
			ok, _ := b.Admit(c, size, int64(p*chunk), chunk, identity.ID(fmt.Sprintf("S%d-%d", p, k)), true, false, true, tc.crowd, holds, now)
			return ok
		}
		const alike = 3 * stuckDeclines
		for k := range alike {
			for p := range parts {
				if ask(p, k) {
					t.Fatalf("%+v: part %d, refusal %d: given again", tc, p, k)
				}
			}
		}
		gone["H3"] = true // part 3's holder left
		now = now.Add(tc.after)
		if tc.atOnce {
			if !ask(3, alike) {
				t.Errorf("%+v: the part whose holder left was not given again", tc)
			}
			continue
		}
		for p := range parts {
			if ask(p, alike) {
				t.Errorf("%+v: part %d, refused like every other part, given again (its holder left: %v)", tc, p, p == 3)
			}
		}
		// Part 3 alone is asked for now: nobody passes it on.
		given := -1
		for k := alike + 1; k < 10*alike && given < 0; k++ {
			if ask(3, k) {
				given = k
			}
		}
		others := (parts - 1) * (alike + 1)
		if min := stuckRatio * others / (parts - 1); given < min || given > min+1 {
			t.Errorf("crowd %d: part 3, whose holder left, given again at its refusal %d, want it once refused %d times", tc.crowd, given, min)
		}
	}
}
