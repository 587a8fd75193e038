package directory

import (
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Distinct askers of a part. In a crowd of stuckCrowd or more a part is
// stuck only if it stands out: refused to stuckRatio times as many
// sharers as the content's other parts handed out, on average. Each
// refused read used to count, so one device asking the origin again and
// again for parts it does not need (any enrolled device announcing the
// content can) raised the other parts' mean without bound, and a part
// whose holder does not serve it never stood out: the crowd waited for
// it on the repeat budget (3 parts per 5 minutes) or for its holder to
// leave. Counting each sharer once per part, since the part last went
// out, a device adds at most one to each part's count: to hide a stuck
// part refused to s sharers, a flood needs about s/stuckRatio devices,
// each an enrolled device announcing the content (an account enrols
// Options.MaxDevices at most).
// The count alone (stuckDeclines, in any crowd) still counts every
// refused read: a small crowd's few devices asking again for a part
// nobody serves are what make it stuck there.
//
// Memory: a set of device IDs per part refused, maxAskerPairs pairs in
// all the tallies together. Beyond, a refusal still counts for
// stuckDeclines but adds no asker (a part's count stops growing, the
// others' too, rather than the directory's memory); tallies past their
// episode are dropped first, once a period at most.
const maxAskerPairs = 1 << 20 // ~30 MB of map entries

// maxAskerPartsPerDevice bounds the pairs one device holds in all the
// tallies together. Without it one household's devices (32 at most),
// each refused every part of one big title of its own (32,768 parts),
// took all maxAskerPairs, and while they kept asking no other crowd's
// part gained askers: no stuck part stood out anywhere on the directory.
// Now that takes 256 devices (8 households of 32). A device in a crowd is
// refused a part once an episode: 4,096 parts are a 1 GiB title at
// 256 KiB chunks, refused whole; past it a device's refusals still count
// for stuckDeclines but add no asker, as past maxAskerPairs.
const maxAskerPartsPerDevice = maxAskerPairs / 256

// noteAsker counts asker among part off's refused sharers (t's, now).
func (b *OriginBudget) noteAsker(t *originTally, off int64, asker identity.ID, now time.Time) {
	set := t.askers[off]
	if _, ok := set[asker]; ok {
		return
	}
	if b.pairs >= maxAskerPairs && now.Sub(b.swept) >= b.period() {
		b.swept = now
		for c, o := range b.m {
			if o != t && now.Sub(o.at) > 2*b.period() {
				b.forget(c)
			}
		}
	}
	if b.pairs >= maxAskerPairs || b.byAsker[asker] >= maxAskerPartsPerDevice {
		return
	}
	if set == nil {
		if t.askers == nil {
			t.askers = map[int64]map[identity.ID]struct{}{}
		}
		set = map[identity.ID]struct{}{}
		t.askers[off] = set
	}
	set[asker] = struct{}{}
	t.distinct++
	t.noted++
	b.pairs++
	if b.byAsker == nil {
		b.byAsker = map[identity.ID]int{}
	}
	b.byAsker[asker]++
}

// dropAskers forgets part off's refused sharers (it went out again).
func (b *OriginBudget) dropAskers(t *originTally, off int64) {
	set := t.askers[off]
	b.unpair(set)
	delete(t.askers, off)
	t.distinct -= len(set)
	b.pairs -= len(set)
}

// unpair takes a part's askers off their devices' counts.
func (b *OriginBudget) unpair(set map[identity.ID]struct{}) {
	for a := range set {
		if b.byAsker[a]--; b.byAsker[a] <= 0 {
			delete(b.byAsker, a)
		}
	}
}

// forget drops content c's tally (its episode ended, or room is needed).
func (b *OriginBudget) forget(c sealed.ContentID) {
	if t := b.m[c]; t != nil {
		for _, set := range t.askers {
			b.unpair(set)
		}
		b.pairs -= t.distinct
		delete(b.m, c)
	}
}
