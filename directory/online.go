package directory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
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
	total     int    // holdings in byContent
	arrivals  uint32 // the last onlineSlot.arrival given (wraps: compared as serial numbers)

	// The holdings (a million slots, and as many references back from the
	// devices) hold no pointers: a slot names its device, a device's
	// holding its bucket and a slot its policy by index into these
	// tables, so the garbage collector never scans the slots, and a cycle
	// costs a fraction of what it did when each held two pointers
	// (BenchmarkOnlineIndexGC). A free index is reused only once nothing
	// refers to it: a device's slots and held list leave with it, a bucket
	// is freed when its last slot leaves, a policy when its last holding does.
	devTab     []*onlineDev    // by onlineDev.ref; nil when free
	devFree    []int32         // free indices of devTab
	buckets    []*onlineBucket // by onlineBucket.ref; nil when free
	bucketFree []int32
	pols       []onlinePolicy   // by the slots' policy index
	polFree    []int32          // free indices of pols
	policies   map[string]int32 // interned policies: key → index in pols
}

// onlinePolicy is one interned policy and how many slots use it.
type onlinePolicy struct {
	p    *Policy
	key  string // its key in onlineIndex.policies
	refs int32
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
	ref      int32          // its index in onlineIndex.devTab while in the index
	_        [12]byte       // to 192 bytes
}

// heldRef locates one of a device's holdings: holders[pos] of the bucket
// at onlineIndex.buckets[bucket]. It holds no pointer (see onlineIndex).
type heldRef struct {
	bucket int32
	pos    int32
}

// onlineSlot is one holding in a content's bucket, stored by value with
// everything filtering and ranking compare, so a lookup walks a flat array
// and touches a holder's device only when it is answered (or on exact
// ties): with 100,000 devices, each touch is a cache miss. It holds no
// pointer (the device and policy are indices: see onlineIndex) and is 64
// bytes, one cache line.
type onlineSlot struct {
	expires  int64  // dev.expires
	idKey    uint64 // the first 8 bytes of dev.id, big-endian: orders like the ID
	idHash   uint64 // dev.idHash, here so a lookup's draws read no device entry
	ipHash   uint64 // hash of dev.publicIP
	acctKey  uint64 // hash of dev.account when it is plain lowercase ASCII, else 0
	dev      int32  // the device: onlineIndex.devTab[dev]
	policy   int32  // its policy: onlineIndex.pols[policy]
	load     int32  // dev.load
	k        int32  // index of this holding in dev.held
	kind     uint8  // policyOpen, ...
	complete bool
	// arrival orders the downloads of a content by when each was first
	// announced (onlineIndex.arrivals when the holding came in
	// incomplete; kept by the device's later announcements, complete or
	// not): a lookup answers each listed download's place in that order
	// (Supplier.Arrival), so a forming crowd's devices agree on who came
	// first. 0: complete when it came in, or loaded from the store.
	arrival uint32
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
	ref     int32 // its index in onlineIndex.buckets
}

func newOnlineIndex() *onlineIndex {
	return &onlineIndex{devs: make(map[identity.ID]*onlineDev), byContent: make(map[sealed.ContentID]*onlineBucket),
		policies: make(map[string]int32)}
}

// internLocked returns the index in ix.pols of a shared copy of p, counting
// one more holding that uses it (releasePolicyLocked undoes it): a million
// holdings carry a few distinct policies, and a shared policy stays in the
// CPU cache.
func (ix *onlineIndex) internLocked(p Policy) int32 {
	key := p.Mode + us + strings.Join(p.Allow, rs) + us + strings.Join(p.Deny, rs)
	if i, ok := ix.policies[key]; ok {
		ix.pols[i].refs++
		return i
	}
	e := onlinePolicy{p: &p, key: key, refs: 1}
	var i int32
	if n := len(ix.polFree); n > 0 {
		i, ix.polFree = ix.polFree[n-1], ix.polFree[:n-1]
		ix.pols[i] = e
	} else {
		i = int32(len(ix.pols))
		ix.pols = append(ix.pols, e)
	}
	ix.policies[key] = i
	return i
}

// releasePolicyLocked drops one holding's use of policy i, freeing it
// with its last.
func (ix *onlineIndex) releasePolicyLocked(i int32) {
	e := &ix.pols[i]
	if e.refs--; e.refs > 0 {
		return
	}
	delete(ix.policies, e.key)
	*e = onlinePolicy{}
	ix.polFree = append(ix.polFree, i)
}

// putDevLocked enters device d (whose ID is not in the index) and gives it
// its index in devTab.
func (ix *onlineIndex) putDevLocked(d *onlineDev) {
	if n := len(ix.devFree); n > 0 {
		d.ref, ix.devFree = ix.devFree[n-1], ix.devFree[:n-1]
		ix.devTab[d.ref] = d
	} else {
		d.ref = int32(len(ix.devTab))
		ix.devTab = append(ix.devTab, d)
	}
	ix.devs[d.id] = d
}

// bucketLocked returns c's bucket, entering a new one if c has none.
func (ix *onlineIndex) bucketLocked(c sealed.ContentID) *onlineBucket {
	if b := ix.byContent[c]; b != nil {
		return b
	}
	b := &onlineBucket{content: c}
	if n := len(ix.bucketFree); n > 0 {
		b.ref, ix.bucketFree = ix.bucketFree[n-1], ix.bucketFree[:n-1]
		ix.buckets[b.ref] = b
	} else {
		b.ref = int32(len(ix.buckets))
		ix.buckets = append(ix.buckets, b)
	}
	ix.byContent[c] = b
	return b
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
			tmp.putDevLocked(d)
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
	ix.devs, ix.byContent, ix.total = tmp.devs, tmp.byContent, tmp.total
	ix.devTab, ix.devFree, ix.buckets, ix.bucketFree = tmp.devTab, tmp.devFree, tmp.buckets, tmp.bucketFree
	ix.pols, ix.polFree, ix.policies = tmp.pols, tmp.polFree, tmp.policies
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

// addHoldingLocked enters a holding of c by d (in the index) under
// policy p (an index internLocked returned, whose use it takes over).
func (ix *onlineIndex) addHoldingLocked(d *onlineDev, c sealed.ContentID, complete bool, p int32) {
	b := ix.bucketLocked(c)
	b.holders = append(b.holders, onlineSlot{dev: d.ref, policy: p, expires: d.expires, idKey: idKey(d.id), idHash: d.idHash,
		ipHash: strHash(d.publicIP), acctKey: acctKey(d.account), load: int32(d.load), k: int32(len(d.held)),
		kind: slotKind(ix.pols[p].p), complete: complete})
	d.held = append(d.held, heldRef{bucket: b.ref, pos: int32(len(b.holders) - 1)})
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
		b := ix.buckets[r.bucket]
		ix.releasePolicyLocked(b.holders[r.pos].policy)
		last := int32(len(b.holders) - 1)
		moved := b.holders[last]
		b.holders[r.pos] = moved
		ix.devTab[moved.dev].held[moved.k].pos = r.pos
		b.holders[last] = onlineSlot{}
		b.holders = b.holders[:last]
		if last == 0 {
			delete(ix.byContent, b.content)
			ix.buckets[b.ref] = nil
			ix.bucketFree = append(ix.bucketFree, b.ref)
		}
	}
	ix.devTab[d.ref] = nil
	ix.devFree = append(ix.devFree, d.ref)
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
		kept := ix.arrivalsLocked(d.id)
		ix.removeLocked(d.id)
		ix.putDevLocked(d)
		for _, h := range hs {
			ix.addHoldingLocked(d, h.Content, h.Complete, ix.internLocked(h.Policy))
			s := &ix.buckets[d.held[len(d.held)-1].bucket].holders[d.held[len(d.held)-1].pos]
			switch a, ok := kept[h.Content]; {
			case ok:
				s.arrival = a
			case !h.Complete:
				ix.arrivals++
				if ix.arrivals == 0 { // 0 means none
					ix.arrivals++
				}
				s.arrival = ix.arrivals
			}
		}
	})
}

// arrivalsLocked returns the arrivals of device id's holdings that have
// one (its downloads, usually none or a few), by content.
func (ix *onlineIndex) arrivalsLocked(id identity.ID) map[sealed.ContentID]uint32 {
	d := ix.devs[id]
	if d == nil {
		return nil
	}
	var kept map[sealed.ContentID]uint32
	for _, r := range d.held {
		b := ix.buckets[r.bucket]
		if a := b.holders[r.pos].arrival; a != 0 {
			if kept == nil {
				kept = make(map[sealed.ContentID]uint32)
			}
			kept[b.content] = a
		}
	}
	return kept
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
