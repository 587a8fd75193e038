package directory

import (
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// A part whose holder left. The origin knows who got each part's first
// copy and when, and whether that device still shares the content; not
// whether it passed the part on before leaving. Given again at once, a
// part the crowd already holds costs the origin a part for nothing (in
// the simulator, N = 10,000, 10 % leaving, 30 % free riders: 1-4 parts
// of 32 on 7 of 7 seeds, given again with 3-3,004 online holders);
// held back, a part nobody else has stalls the crowd until its
// refusals stand out, because the crowd asks the origin for it only
// once it lacks little else (N = 500: a lost part held back was asked
// for by nobody from 5.1 to 7.6 s, then by every device at 31 of 32
// parts, and the median went from 9.6 to 16.7 s). When the budget
// finds the holder gone (at the part's next refusal, in a crowd at the
// next resupply round, ~5 s on) the refusals do not tell them apart
// either: one holder's lost part and spread part were refused 14 and 16
// times, against a mean of 17.
//
// What does is how long the holder shared the part: in a crowd of
// stuckCrowd or more, the devices that lack a part and have its holder
// among their peers ask it for the part within a few Have rounds, so a
// holder that shared a part for passedOnAfter has passed it on. In the
// simulator (N = 200-10,000, seeds 1-7) every part found lost when given
// again (no online holder) had a holder that left 0-3.4 s after the
// part went out (the longest, a busy uploader whose requests queued
// behind 23 downloads'); parts whose holder left later had been passed
// on. The directory knows when a device left only when the device says
// so, in an announcement without the content or a withdrawal
// (Announced): such a part, shared for passedOnAfter or more, is given
// again only if it stands out, since it went out (originbudget.go) or
// since its holder left (leftStandsOut). Fail closed: a lost part is
// still given again, later; and a holder whose announcement expired (a
// crash, a lost network) is treated as before (given again at once
// unless the part went out stuckAfter before).
const passedOnAfter = 4 * time.Second

// maxRecent bounds the recent grants remembered for Announced, in all.
// Beyond, a grant is not remembered, and its holder's leaving is treated
// as an expiry's (given again at once).
const maxRecent = 1 << 16

// recentGrant is a part handed out as a first copy to a device, for
// Announced.
type recentGrant struct {
	c   sealed.ContentID
	off int64
	at  time.Time
}

// noteRecent remembers that asker got part off of c as a first copy now.
// b.mu is held.
func (b *OriginBudget) noteRecent(c sealed.ContentID, off int64, asker identity.ID, now time.Time) {
	if b.recent == nil {
		b.recent = map[identity.ID][]recentGrant{}
	}
	rs := b.dropOld(asker, now)
	if b.nRecent >= maxRecent {
		return
	}
	b.recent[asker] = append(rs, recentGrant{c, off, now})
	b.nRecent++
}

// dropOld forgets id's grants older than stuckAfter (past them, a part
// counts as passed on anyway) and returns the rest. A device's grants are
// in the order they went out, so the old ones are a prefix (a device
// given thousands of parts does not have them all looked at with each
// new one). b.mu is held.
func (b *OriginBudget) dropOld(id identity.ID, now time.Time) []recentGrant {
	rs := b.recent[id]
	k := 0
	for k < len(rs) && now.Sub(rs[k].at) >= stuckAfter {
		k++
	}
	b.nRecent -= k
	if k == len(rs) {
		delete(b.recent, id)
		return nil
	}
	return rs[k:]
}

// Announced tells the budget device id's holdings from its announcement
// of now (nil: it withdrew): of the parts it got as first copies in the
// last stuckAfter, those of a content it no longer shares (not held, or
// under a policy that lets nobody copy it) are noted as left now.
func (b *OriginBudget) Announced(id identity.ID, holdings []Holding, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recent[id]) == 0 {
		return
	}
	rs := b.dropOld(id, now)
	k := 0
	// A device's recent grants are mostly of one content: its holdings
	// (up to MaxHoldings) are looked through once a content, not once a
	// part (a device given thousands of parts announcing thousands of
	// holdings would otherwise hold the budget's lock for their product).
	var last sealed.ContentID
	shares, looked := false, false
	for _, r := range rs {
		if !looked || r.c != last {
			last, looked, shares = r.c, true, false
			for i := range holdings {
				if holdings[i].Content == r.c {
					shares = holdings[i].Policy.Mode != PolicyNobody
					break
				}
			}
		}
		t := b.m[r.c]
		g, ok := t.grantOf(r.off)
		switch {
		case !ok || g.to != id || !g.at.Equal(r.at):
			// given again since: forget it
		case shares:
			rs[k] = r
			k++
		default:
			if g.left.IsZero() {
				t.noteLeft(r.off, g, now)
			}
		}
	}
	b.nRecent -= len(rs) - k
	if k == 0 {
		delete(b.recent, id)
	} else {
		b.recent[id] = rs[:k]
	}
}

// grantOf returns part off's grant (t may be nil).
func (t *originTally) grantOf(off int64) (grant, bool) {
	if t == nil {
		return grant{}, false
	}
	g, ok := t.served[off]
	return g, ok
}

// noteLeft records in part off's grant g that its holder left now, with
// the part's askers and the tally's noted then.
func (t *originTally) noteLeft(off int64, g grant, now time.Time) {
	g.left, g.leftU, g.leftNoted = now, len(t.askers[off]), t.noted
	t.served[off] = g
}

// leftStandsOut: part g's holder left, and since then the part was
// refused to stuckDeclines or more sharers, stuckRatio times as many as
// each of the content's other parts on average in the same time (each
// sharer once per part; u: the part's askers now).
func leftStandsOut(t *originTally, g grant, u int) bool {
	fresh := u - g.leftU
	rest := t.noted - g.leftNoted - fresh
	return fresh >= stuckDeclines && fresh*(len(t.served)-1) >= stuckRatio*rest
}
