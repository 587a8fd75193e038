package directory

import (
	"fmt"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestOriginBudgetOneHouseholdCannotFillAskers: one household's 32
// devices (Options.MaxDevices), each refused every part of one big title
// of its own (32,768 parts of 256 KiB), filled the directory's
// maxAskerPairs, and then another crowd's part that nobody serves never
// stood out; each device now holds maxAskerPartsPerDevice pairs at most,
// the part is given again, and a tally's end gives the devices' counts back.
func TestOriginBudgetOneHouseholdCannotFillAskers(t *testing.T) {
	const chunk = 256 << 10
	b := &OriginBudget{RepeatShare: 0.0001}
	now := time.Unix(1000, 0)
	holds := func(identity.ID) bool { return true }
	ask := func(c sealed.ContentID, size int64, p int, who identity.ID, at time.Time) bool {
		ok, _ := b.Admit(c, size, int64(p)*chunk, chunk, who, true, false, true, stuckCrowd, holds, at)
		return ok
	}
	// The flood: one big title, every part refused to each of 32 devices.
	const fparts = maxAskerPairs / 32
	flood, fsize := sealed.ContentID{7}, int64(fparts)*chunk
	for p := range fparts {
		if !ask(flood, fsize, p, "FH", now) {
			t.Fatalf("flood part %d: first copy refused", p)
		}
	}
	ask(flood, fsize, 0, "FREPEAT", now)
	for d := range 32 {
		for p := range fparts {
			ask(flood, fsize, p, identity.ID(fmt.Sprintf("F%d", d)), now)
		}
	}
	// Another crowd, as in TestOriginBudgetRefusalFlood: part 3 nobody serves.
	const size, parts, alike = 8 << 20, 8, stuckDeclines
	c := sealed.ContentID{9}
	for p := range parts {
		if !ask(c, size, p, identity.ID(fmt.Sprintf("H%d", p)), now) {
			t.Fatalf("part %d: first copy refused", p)
		}
	}
	ask(c, size, 0, "REPEAT", now)
	for k := range alike {
		for p := range parts {
			ask(c, size, p, identity.ID(fmt.Sprintf("S%d-%d", p, k)), now)
		}
	}
	now = now.Add(stuckAfter)
	given := -1
	for k := alike; k < 50*alike && given < 0; k++ {
		if ask(c, size, 3, identity.ID(fmt.Sprintf("S3-%d", k)), now) {
			given = k + 1
		}
	}
	if want := stuckRatio*alike + 1; given < 0 || given > want {
		t.Fatalf("with one household's flood holding %d of %d asker pairs, part 3 given again after %d sharers (-1: never), want by %d", b.pairs, maxAskerPairs, given, want)
	}
	if got := b.m[flood].distinct; got != 32*maxAskerPartsPerDevice {
		t.Errorf("the flood's askers: %d pairs, want %d (32 devices × maxAskerPartsPerDevice)", got, 32*maxAskerPartsPerDevice)
	}
	b.forget(flood)
	b.forget(c)
	if b.pairs != 0 || len(b.byAsker) != 0 {
		t.Errorf("after both tallies went: %d pairs, %d devices counted; want none", b.pairs, len(b.byAsker))
	}
}
