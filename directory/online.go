package directory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// onlineIndex is who is online holding what: every unexpired, unwithdrawn,
// unrevoked holding, by content, in memory. The Store stays the durable
// record; the index is loaded from it once (Store.OnlineHoldings, by Serve
// while it already serves, or by the first lookup) and then kept current by
// this server's own announce, withdraw and revoke handlers, and, with a
// SharedStore, by the changes other instances made (runFeed); on SQLite the
// serving process must be the only one writing announcements (the
// kith-directory admin commands never do). Changes made while the load reads the store
// are replayed onto its result. Expired holders are skipped by lookups and
// dropped by sweep.
type onlineIndex struct {
	mu      sync.RWMutex
	loaded  bool
	ready   atomic.Bool   // loaded, read without the lock by every lookup (it never goes back)
	loading chan struct{} // non-nil while a load runs; closed when it ends
	loadErr error         // the last load's failure
	pending []func()      // changes to replay onto the load's result

	devs      map[identity.ID]*onlineDev
	byContent map[sealed.ContentID]*onlineBucket
	policies  map[string]*Policy // interned policies
	total     int                // holdings in byContent
}

// onlineDev is one device's latest announcement, shared by its holdings.
// It is never changed once in the index (an announcement replaces it), so
// lookups may hand out its slices.
//
// What answering a lookup reads (id, account, addrs, load and the few
// addresses themselves) comes first, in the first two of its three cache
// lines (the entry is 192 bytes, a size class whose objects start on a
// line): an answer of 16 suppliers touches 16 entries, each a cache miss.
type onlineDev struct {
	id       identity.ID
	account  string
	addrs    []string // never nil
	load     int
	addrBuf  [2]string // addrs when there are at most two
	idHash   uint64    // strHash(id): its part of the lookups' draws (supplierKey)
	publicIP string
	priv     []netip.Prefix // the announced private addresses as LAN prefixes
	expires  int64          // unix milliseconds
	held     []heldRef      // where its holdings sit
	_        [16]byte       // to 192 bytes
}

// heldRef locates one of a device's holdings: holders[pos] of bucket.
type heldRef struct {
	bucket *onlineBucket
	pos    int
}

// onlineSlot is one holding in a content's bucket, stored by value with
// everything filtering and ranking compare, so a lookup walks a flat array
// and touches a holder's device only when it is answered (or on exact
// ties): with 100,000 devices, each touch is a cache miss.
type onlineSlot struct {
	dev      *onlineDev
	policy   *Policy
	expires  int64  // dev.expires
	idKey    uint64 // the first 8 bytes of dev.id, big-endian: orders like the ID
	idHash   uint64 // dev.idHash, here so a lookup's draws read no device entry
	ipHash   uint64 // hash of dev.publicIP
	acctKey  uint64 // hash of dev.account when it is plain lowercase ASCII, else 0
	load     int32  // dev.load
	k        int32  // index of this holding in dev.held
	kind     uint8  // policyOpen, ...
	complete bool
}

// Slot policy kinds: how much of the policy a lookup must evaluate.
const (
	policyOpen       = iota // anyone, no lists: always allowed
	policyHousehold         // household, no lists: same account only
	policyAnyoneDeny        // anyone with lists: only Deny matters, owner irrelevant
	policyOther             // evaluate Policy.Allows with the owner's account
)

func slotKind(p *Policy) uint8 {
	anyone := p.Mode == "" || p.Mode == PolicyAnyone
	switch {
	case anyone && len(p.Allow) == 0 && len(p.Deny) == 0:
		return policyOpen
	case anyone:
		return policyAnyoneDeny
	case p.Mode == PolicyHousehold && len(p.Allow) == 0 && len(p.Deny) == 0:
		return policyHousehold
	}
	return policyOther
}

func idKey(id identity.ID) uint64 {
	var b [8]byte
	copy(b[:], id)
	return binary.BigEndian.Uint64(b[:])
}

func strHash(s string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h | 1 // never 0
}

// acctKey hashes a lowercase-ASCII account (what NormalizeAccount makes):
// different keys then mean accounts that differ even ignoring case.
func acctKey(a string) uint64 {
	if a == "" {
		return 0
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c >= 0x80 || c >= 'A' && c <= 'Z' {
			return 0
		}
	}
	return strHash(a)
}

// onlineBucket holds the holders of one content.
type onlineBucket struct {
	content sealed.ContentID
	holders []onlineSlot
}

func newOnlineIndex() *onlineIndex {
	return &onlineIndex{devs: make(map[identity.ID]*onlineDev), byContent: make(map[sealed.ContentID]*onlineBucket),
		policies: make(map[string]*Policy)}
}

// maxInterned caps the distinct policies shared through onlineIndex.policies.
const maxInterned = 100_000

// internLocked returns a shared copy of p: a million holdings carry a few
// distinct policies, and a shared policy stays in the CPU cache.
func (ix *onlineIndex) internLocked(p Policy) *Policy {
	key := p.Mode + us + strings.Join(p.Allow, rs) + us + strings.Join(p.Deny, rs)
	if sp, ok := ix.policies[key]; ok {
		return sp
	}
	sp := &p
	if len(ix.policies) < maxInterned {
		ix.policies[key] = sp
	}
	return sp
}

// Separators for intern keys (validation keeps control characters out of
// policy entries).
const (
	us = "\x1f"
	rs = "\x1e"
)

// newOnlineDev builds a device entry whose strings (ID, account, public IP
// and addresses) share one allocation and whose few addresses sit in the
// struct itself: answering a lookup reads them all, and at 100,000 devices
// every separate allocation is a cache miss.
func newOnlineDev(id identity.ID, account, publicIP string, addrs, private []string, load int, expires int64, holdings int) *onlineDev {
	n := len(id) + len(account) + len(publicIP)
	for _, a := range addrs {
		n += len(a)
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteString(string(id)) // what an answer reads first, side by side
	sb.WriteString(account)
	for _, a := range addrs {
		sb.WriteString(a)
	}
	sb.WriteString(publicIP)
	all := sb.String()
	next := func(l int) string {
		v := all[:l]
		all = all[l:]
		return v
	}
	d := &onlineDev{id: identity.ID(next(len(id))), idHash: strHash(string(id)), account: next(len(account)),
		priv: privatePrefixes(private), load: load, expires: expires, held: make([]heldRef, 0, holdings)}
	if len(addrs) <= len(d.addrBuf) {
		d.addrs = d.addrBuf[:len(addrs)]
	} else {
		d.addrs = make([]string, len(addrs))
	}
	for i, a := range addrs {
		d.addrs[i] = next(len(a))
	}
	d.publicIP = next(len(publicIP))
	return d
}

// privatePrefixes parses announced private addresses into LAN prefixes,
// dropping what does not parse (validation refuses it on the way in).
func privatePrefixes(addrs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		if p, ok := lanPrefix(a); ok {
			out = append(out, p)
		}
	}
	return out
}

// online returns the index, loading it from the store on first use (or
// waiting for the load under way).
func (s *Server) online(ctx context.Context) (*onlineIndex, error) {
	ix := s.idx
	if ix.ready.Load() { // a lookup's one other read-lock of the index: its counter is shared by both cores
		return ix, nil
	}
	ix.mu.RLock()
	loaded := ix.loaded
	ix.mu.RUnlock()
	if loaded {
		return ix, nil
	}
	// the load is shared by every waiting lookup: one client going away
	// must not abort it
	return ix, s.loadOnline(context.WithoutCancel(ctx))
}

// loadOnline fills the index from the store unless it is loaded already;
// if another load runs, it waits for that one.
func (s *Server) loadOnline(ctx context.Context) error {
	ix := s.idx
	ix.mu.Lock()
	if ix.loaded {
		ix.mu.Unlock()
		return nil
	}
	if ch := ix.loading; ch != nil {
		ix.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		if !ix.loaded {
			return fmt.Errorf("loading online holders: %w", ix.loadErr)
		}
		return nil
	}
	done := make(chan struct{})
	ix.loading = done
	ix.mu.Unlock()

	start := time.Now()
	tmp := newOnlineIndex()
	n, skipped := 0, 0
	bad := make(map[identity.ID]bool)
	skip := func(h *Candidate, err error) error {
		if skipped++; skipped <= 20 { // a flood of bad rows must not flood the log
			s.log.Warn("online holding skipped: bad row in the store", "device", fmt.Sprintf("%.80q", h.Device), "err", err)
		}
		return nil
	}
	err := s.st.OnlineHoldings(ctx, s.now(), func(c sealed.ContentID, h *Candidate) error {
		// a row the store hands back is checked like an announcement: one
		// written by an older version or altered on disk is skipped, not
		// trusted (and never stops the directory's start)
		if bad[h.Device] {
			return skip(h, errors.New("device fields invalid"))
		}
		if err := h.Policy.Validate(); err != nil {
			return skip(h, err)
		}
		d := tmp.devs[h.Device]
		if d == nil {
			if err := validateCandidateDevice(h); err != nil {
				if len(bad) < 100_000 {
					bad[h.Device] = true
				}
				return skip(h, err)
			}
			d = newOnlineDev(h.Device, h.Account, h.PublicIP, h.Addrs, h.PrivateAddrs, h.Load, h.Expires.UnixMilli(), 1)
			tmp.devs[h.Device] = d
		}
		tmp.addHoldingLocked(d, c, h.Complete, tmp.internLocked(h.Policy))
		n++
		return nil
	})

	ix.mu.Lock()
	defer ix.mu.Unlock()
	defer close(done)
	ix.loading = nil
	ix.loadErr = err
	if err != nil {
		ix.pending = nil
		return fmt.Errorf("loading online holders: %w", err)
	}
	tmp.compact()
	ix.devs, ix.byContent, ix.policies, ix.total = tmp.devs, tmp.byContent, tmp.policies, tmp.total
	for _, op := range ix.pending {
		op()
	}
	ix.pending = nil
	ix.loaded = true
	ix.ready.Store(true)
	s.log.Info("online holders loaded", "devices", len(ix.devs), "holdings", n, "contents", len(ix.byContent),
		"skipped", skipped, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// compact trims the slack append left in the slices a load grew (up to
// half of a million slots), before the index is published.
func (ix *onlineIndex) compact() {
	for _, b := range ix.byContent {
		if cap(b.holders) > len(b.holders)+len(b.holders)/8 {
			b.holders = slices.Clone(b.holders)
		}
	}
	for _, d := range ix.devs {
		if cap(d.held) > len(d.held)+len(d.held)/8 {
			d.held = slices.Clone(d.held)
		}
	}
}

// changeLocked applies op now if the index is loaded, after the load if
// one runs, and not at all otherwise (the load will read the store).
func (ix *onlineIndex) changeLocked(op func()) {
	switch {
	case ix.loaded:
		op()
	case ix.loading != nil:
		ix.pending = append(ix.pending, op)
	}
}

func (ix *onlineIndex) addHoldingLocked(d *onlineDev, c sealed.ContentID, complete bool, p *Policy) {
	b := ix.byContent[c]
	if b == nil {
		b = &onlineBucket{content: c}
		ix.byContent[c] = b
	}
	b.holders = append(b.holders, onlineSlot{dev: d, policy: p, expires: d.expires, idKey: idKey(d.id), idHash: d.idHash,
		ipHash: strHash(d.publicIP), acctKey: acctKey(d.account), load: int32(d.load), k: int32(len(d.held)),
		kind: slotKind(p), complete: complete})
	d.held = append(d.held, heldRef{bucket: b, pos: len(b.holders) - 1})
	ix.total++
}

// removeLocked takes device id and its holdings out of the index.
func (ix *onlineIndex) removeLocked(id identity.ID) {
	d := ix.devs[id]
	if d == nil {
		return
	}
	delete(ix.devs, id)
	ix.total -= len(d.held)
	for _, r := range d.held {
		b := r.bucket
		last := len(b.holders) - 1
		moved := b.holders[last]
		b.holders[r.pos] = moved
		moved.dev.held[moved.k].pos = r.pos
		b.holders[last] = onlineSlot{}
		b.holders = b.holders[:last]
		if last == 0 {
			delete(ix.byContent, b.content)
		}
	}
}

// announce replaces the device's entry with a (recorded in the store
// already). Two heartbeats of one device racing may reach the index in the
// other order than the store; either is a fresh announcement.
func (ix *onlineIndex) announce(a *AnnounceRecord, account string) {
	d := newOnlineDev(a.Device, account, a.PublicIP, a.Addrs, a.PrivateAddrs, a.Load, a.Expires.UnixMilli(), len(a.Holdings))
	hs := a.Holdings
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.changeLocked(func() {
		ix.removeLocked(d.id)
		ix.devs[d.id] = d
		for _, h := range hs {
			ix.addHoldingLocked(d, h.Content, h.Complete, ix.internLocked(h.Policy))
		}
	})
}

// remove drops a withdrawn or revoked device.
func (ix *onlineIndex) remove(id identity.ID) {
	ix.mu.Lock()
	ix.changeLocked(func() { ix.removeLocked(id) })
	ix.mu.Unlock()
}

// sweep drops every device whose announcement expired by now.
func (ix *onlineIndex) sweep(now time.Time) int {
	nowMS := now.UnixMilli()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := 0
	for id, d := range ix.devs {
		if d.expires <= nowMS {
			ix.removeLocked(id)
			n++
		}
	}
	return n
}

// runSweeper sweeps expired announcements every AnnounceTTL until ctx ends.
func (s *Server) runSweeper(ctx context.Context) error {
	t := time.NewTicker(s.o.AnnounceTTL)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n := s.idx.sweep(s.now()); n > 0 {
				s.log.Debug("expired announcements dropped", "devices", n)
			}
		}
	}
}

// slotRank is a slot with its asker-specific ranking keys.
type slotRank struct {
	s        *onlineSlot
	sameLAN  bool
	rttKnown bool
	rtt      int64
	key      float64 // supplierKey
}

// slotBefore is rankedBefore (the rule of doc.go) on slots: the device
// is touched only when two IDs share their first 8 bytes.
func slotBefore(a, b *slotRank) bool {
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
	return a.s.dev.id < b.s.dev.id
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
	var memoPol *Policy // last anyone-with-lists policy evaluated, and its answer
	var memoOK bool

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.byContent[c]
	if b == nil {
		return out
	}
	askerDev := ix.devs[asker.ID]
	sameIP := func(s *onlineSlot) bool { return s.ipHash == askerIPHash && s.dev.publicIP == askerIP }
	add := func(s *onlineSlot) {
		switch s.kind {
		case policyOpen:
		case policyHousehold:
			if s.acctKey != 0 && askerAcct != 0 && s.acctKey != askerAcct || !s.policy.Allows(s.dev.account, asker.ID, asker.Account) {
				return
			}
		case policyAnyoneDeny:
			if s.policy != memoPol {
				memoPol, memoOK = s.policy, s.policy.Allows("", asker.ID, asker.Account)
			}
			if !memoOK {
				return
			}
		default:
			if !s.policy.Allows(s.dev.account, asker.ID, asker.Account) {
				return
			}
		}
		e := slotRank{s: s, sameLAN: sameIP(s) && sharePrivatePrefixes(r.askerPriv, s.dev.priv),
			key: supplierKey(seed, s.idHash, s.complete, int(s.load))}
		if len(r.rtts) > 0 {
			e.rtt, e.rttKnown = r.rtts[string(s.dev.id)]
		}
		n := len(top)
		if n == limit && !slotBefore(&e, &top[n-1]) {
			return
		}
		i, hi := 0, n // the first entry e ranks before (sort.Search, without its closure call per probe)
		for i < hi {
			if m := int(uint(i+hi) >> 1); slotBefore(&e, &top[m]) {
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
	if len(hs) <= maxCandidates {
		for i := range hs {
			if s := &hs[i]; s.expires > nowMS && s.dev != askerDev {
				add(s)
			}
		}
	} else {
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
	// Two passes: each answered device entry and then its strings are a
	// cache miss (100,000 devices), and a pass whose steps do not depend
	// on each other lets the processor wait for all its misses at once
	// rather than for each behind the last.
	n := len(out)
	for i := range top {
		e := &top[i]
		d := e.s.dev
		out = append(out, Supplier{Device: d.id, Account: d.account, Addrs: d.addrs, Complete: e.s.complete,
			SameLAN: e.sameLAN, RTT: e.rtt, Load: d.load})
	}
	var touch byte
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
	return out
}

// crowdOf tells the origin budget about content c and an asker (nil:
// anonymous): others, whether another unexpired holder the asker may copy
// from is online; sharer, whether the asker itself announced c with a
// policy that lets someone copy it (it passes what it gets on).
//
// unreachable, if not nil, tells holders the asker cannot connect to (not
// directly, not through a relay, not on its LAN): they do not count as
// others.
func (ix *onlineIndex) crowdOf(c sealed.ContentID, now time.Time, asker *Device, unreachable func(dev identity.ID, publicIP string) bool) (others, sharer bool) {
	nowMS := now.UnixMilli()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.byContent[c]
	if b == nil {
		return false, false
	}
	var me *onlineDev
	if asker != nil {
		me = ix.devs[asker.ID]
	}
	for i := range b.holders {
		s := &b.holders[i]
		if s.expires <= nowMS {
			continue
		}
		if s.dev == me {
			sharer = s.policy.Mode != PolicyNobody
			continue
		}
		if !others && (asker == nil || s.policy.Allows(s.dev.account, asker.ID, asker.Account)) &&
			(unreachable == nil || !unreachable(s.dev.id, s.dev.publicIP)) {
			others = true
		}
	}
	return others, sharer
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
		if h.bucket.content == c && h.pos < len(h.bucket.holders) {
			s := &h.bucket.holders[h.pos]
			return s.dev == d && s.policy.Mode != PolicyNobody
		}
	}
	return false
}
