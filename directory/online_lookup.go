package directory

// The index's read side: ranking a content's holders for a lookup, and the
// origin budget's questions (crowdOf, sharing).

import (
	"runtime"
	"slices"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// slotRank is a slot with its asker-specific ranking keys.
type slotRank struct {
	s        *onlineSlot
	sameLAN  bool
	rttKnown bool
	rtt      int64
	key      float64 // supplierKey
}

// slotBefore is rankedBefore (the rule of doc.go) on slots: the device
// (from devs, the index's devTab) is touched only when two IDs share
// their first 8 bytes.
func slotBefore(a, b *slotRank, devs []*onlineDev) bool {
	switch {
	case a.sameLAN != b.sameLAN:
		return a.sameLAN
	case a.rttKnown != b.rttKnown:
		return a.rttKnown
	case a.rttKnown && a.rtt != b.rtt:
		return a.rtt < b.rtt
	case a.key != b.key:
		return a.key < b.key
	case a.s.idKey != b.s.idKey:
		return a.s.idKey < b.s.idKey
	}
	return devs[a.s.dev].id < devs[b.s.dev].id
}

// suppliers ranks the online holders of c for the asker by the rule of
// doc.go (rankSuppliers, on slots, with the lookup's salt). At most
// maxCandidates holders are considered; when there are more, those
// announced from askerIP come first, then a stretch of the rest starting
// where salt says. The ranked suppliers are appended to out.
func (ix *onlineIndex) suppliers(out []Supplier, c sealed.ContentID, now time.Time, asker *Device, askerIP string, askerAnn *AnnounceRecord, limit int, salt uint64) []Supplier {
	r := newRanker(asker, askerIP, askerAnn, limit)
	nowMS := now.UnixMilli()
	askerIPHash, askerAcct := strHash(askerIP), acctKey(asker.Account)
	seed := drawSeed(salt, asker.ID)
	var topBuf [MaxSuppliers]slotRank
	top := topBuf[:0]
	if limit > MaxSuppliers {
		top = make([]slotRank, 0, limit)
	}
	memoPol := int32(-1) // last anyone-with-lists policy evaluated, and its answer
	var memoOK bool

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.byContent[c]
	if b == nil {
		return out
	}
	askerDev := int32(-1) // no slot's device
	if d := ix.devs[asker.ID]; d != nil {
		askerDev = d.ref
	}
	devs, pols := ix.devTab, ix.pols
	sameIP := func(s *onlineSlot) bool { return s.ipHash == askerIPHash && devs[s.dev].publicIP == askerIP }
	add := func(s *onlineSlot) {
		switch s.kind {
		case policyOpen:
		case policyHousehold:
			if s.acctKey != 0 && askerAcct != 0 && s.acctKey != askerAcct || !pols[s.policy].p.Allows(devs[s.dev].account, asker.ID, asker.Account) {
				return
			}
		case policyAnyoneDeny:
			if s.policy != memoPol {
				memoPol, memoOK = s.policy, pols[s.policy].p.Allows("", asker.ID, asker.Account)
			}
			if !memoOK {
				return
			}
		default:
			if !pols[s.policy].p.Allows(devs[s.dev].account, asker.ID, asker.Account) {
				return
			}
		}
		e := slotRank{s: s, sameLAN: sameIP(s) && sharePrivatePrefixes(r.askerPriv, devs[s.dev].priv),
			key: supplierKey(seed, s.idHash, s.complete, int(s.load))}
		if len(r.rtts) > 0 {
			e.rtt, e.rttKnown = r.rtts[string(devs[s.dev].id)]
		}
		n := len(top)
		if n == limit && !slotBefore(&e, &top[n-1], devs) {
			return
		}
		i, hi := 0, n // the first entry e ranks before (sort.Search, without its closure call per probe)
		for i < hi {
			if m := int(uint(i+hi) >> 1); slotBefore(&e, &top[m], devs) {
				hi = m
			} else {
				i = m + 1
			}
		}
		if n < limit {
			top = append(top, slotRank{})
		}
		copy(top[i+1:], top[i:])
		top[i] = e
	}
	hs := b.holders
	var self uint32 // the asker's own arrival (onlineSlot.arrival)
	if len(hs) <= maxCandidates {
		for i := range hs {
			switch s := &hs[i]; {
			case s.dev == askerDev:
				self = s.arrival
			case s.expires > nowMS:
				add(s)
			}
		}
	} else { // a sample of a big crowd: no arrival order (each asker's differs)
		n := 0
		for i := range hs {
			if s := &hs[i]; n < maxCandidates && s.expires > nowMS && s.dev != askerDev && sameIP(s) {
				add(s)
				n++
			}
		}
		// The others from a place the salt picks: in a crowd of more than
		// maxCandidates, each lookup considers its own stretch of it.
		start := int(salt % uint64(len(hs)))
		for j := range hs {
			if s := &hs[(start+j)%len(hs)]; n < maxCandidates && s.expires > nowMS && s.dev != askerDev && !sameIP(s) {
				add(s)
				n++
			}
		}
	}
	if len(top) == 0 {
		return out
	}
	// Three passes: each answered device entry and then its strings are a
	// cache miss (100,000 devices), and a pass whose steps do not depend
	// on each other lets the processor wait for all its misses at once
	// rather than for each behind the last. The first only reads a word
	// of each of the entry's first two lines (what the answer reads of
	// it): a short loop whose loads the processor issues together, where
	// the answer's own loop (a 120-byte Supplier written per step) left
	// each miss to stall it in turn.
	var touch byte
	for i := range top {
		d := devs[top[i].s.dev]
		touch |= byte(d.load) ^ byte(d.idHash)
	}
	n := len(out)
	for i := range top {
		e := &top[i]
		d := devs[e.s.dev]
		out = append(out, Supplier{Device: d.id, Account: d.account, Addrs: d.addrs, Complete: e.s.complete,
			SameLAN: e.sameLAN, RTT: e.rtt, Load: d.load})
	}
	for i := range top {
		a := &out[n+i]
		// The second pass reads each device's strings (ID, then its
		// addresses beside it), which the answer's encoding reads next: the
		// misses overlap here, where they do not hang on each other, instead
		// of one after the other between encoding steps (the serve profile
		// put ~4 µs a lookup on the IDs' first bytes in the encoder).
		if id := a.Device; id != "" {
			touch |= id[0]
		}
		if len(a.Addrs) > 0 && a.Addrs[0] != "" {
			touch |= a.Addrs[0][0]
		}
		// The account is answered only to its own devices: two different
		// keys (plain lowercase names) are two different accounts, known
		// without reading the owner's name (another cache miss per supplier).
		if k := top[i].s.acctKey; k != 0 && askerAcct != 0 && k != askerAcct {
			a.Account = ""
			continue
		}
		a.Account = ownAccount(a.Account, asker.Account)
	}
	runtime.KeepAlive(touch) // the reads above are for their cache lines only
	if self != 0 {
		arrivalRanks(out[n:], top, self)
	}
	return out
}

// arrivalBefore orders arrivals as serial numbers (the counter wraps; a
// crowd's downloads are far fewer than 2^31 apart).
func arrivalBefore(a, b uint32) bool { return int32(a-b) < 0 }

// arrivalRanks is ArrivalRanks for the lookup's top slots.
func arrivalRanks(out []Supplier, top []slotRank, self uint32) {
	var buf [MaxSuppliers]uint32
	arrivals := buf[:0]
	for i := range top {
		arrivals = append(arrivals, top[i].s.arrival)
	}
	ArrivalRanks(out, arrivals, self)
}

// ArrivalRanks sets each answered download's Supplier.Arrival: its rank
// (from 1) in the order of arrival of the listed downloads and the asker
// (whose arrival is self), negative when it arrived before the asker.
// arrivals[i] is out[i]'s place in the index's order of arrival (a
// counter given when a holding first comes in incomplete; 0: not known,
// out[i] gets no rank). Ranks, not the index's counter: an answer tells no
// more than who of those it lists came first. Exported for the crowd
// simulator (internal/swarmsim), which ranks its directory's answers so.
func ArrivalRanks(out []Supplier, arrivals []uint32, self uint32) {
	var buf [MaxSuppliers + 1]uint32
	seqs := append(buf[:0], self)
	for _, a := range arrivals {
		if a != 0 {
			seqs = append(seqs, a)
		}
	}
	if len(seqs) == 1 {
		return
	}
	slices.SortFunc(seqs, func(a, b uint32) int { return int(int32(a - b)) })
	rank := func(a uint32) int { // seqs are distinct: one per holding
		i, _ := slices.BinarySearchFunc(seqs, a, func(x, t uint32) int { return int(int32(x - t)) })
		return i + 1
	}
	for i, a := range arrivals {
		if a != 0 {
			r := rank(a)
			if arrivalBefore(a, self) {
				r = -r
			}
			out[i].Arrival = r
		}
	}
}

// crowdOf tells the origin budget about content c and an asker (nil:
// anonymous): others, whether another unexpired holder the asker may copy
// from is online; seeded, whether one of those announced c complete;
// sharer, whether the asker itself announced c with a policy that lets
// someone copy it (it passes what it gets on); crowd, how many other
// devices hold or download c unexpired, whatever their policy (the
// demand on the origin: the stuck rule reads it).
//
// unreachable, if not nil, tells holders the asker cannot connect to (not
// directly, not through a relay, not on its LAN): they do not count as
// others.
func (ix *onlineIndex) crowdOf(c sealed.ContentID, now time.Time, asker *Device, unreachable func(dev identity.ID, publicIP string) bool) (others, seeded, sharer bool, crowd int) {
	nowMS := now.UnixMilli()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.byContent[c]
	if b == nil {
		return false, false, false, 0
	}
	me := int32(-1) // no slot's device
	if asker != nil {
		if d := ix.devs[asker.ID]; d != nil {
			me = d.ref
		}
	}
	for i := range b.holders {
		s := &b.holders[i]
		if s.expires <= nowMS {
			continue
		}
		p := ix.pols[s.policy].p
		if s.dev == me {
			sharer = p.Mode != PolicyNobody
			continue
		}
		crowd++
		if others && (seeded || !s.complete) {
			continue // nothing more to learn from this holder
		}
		if d := ix.devTab[s.dev]; (asker == nil || p.Allows(d.account, asker.ID, asker.Account)) &&
			(unreachable == nil || !unreachable(d.id, d.publicIP)) {
			others, seeded = true, seeded || s.complete
		}
	}
	return others, seeded, sharer, crowd
}

// sharing reports whether device id is an unexpired holder of c whose
// policy lets someone copy it (the origin budget's "still holds it").
func (ix *onlineIndex) sharing(c sealed.ContentID, now time.Time, id identity.ID) bool {
	nowMS := now.UnixMilli()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := ix.devs[id]
	if d == nil || d.expires <= nowMS {
		return false
	}
	for _, h := range d.held {
		if b := ix.buckets[h.bucket]; b.content == c && int(h.pos) < len(b.holders) {
			s := &b.holders[h.pos]
			return s.dev == d.ref && ix.pols[s.policy].p.Mode != PolicyNobody
		}
	}
	return false
}
