package directory

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// onlineIndex is who is online holding what: every unexpired, unwithdrawn,
// unrevoked holding, by content, in memory. The Store stays the durable
// record; the index is loaded from it once (Store.OnlineHoldings, by Serve
// while it already serves, or by the first lookup) and then kept current by
// this server's own announce, withdraw and revoke handlers, so the serving
// process must be the only one writing announcements (the kith-directory
// admin commands never do). Changes made while the load reads the store
// are replayed onto its result. Expired holders are skipped by lookups and
// dropped by sweep.
type onlineIndex struct {
	mu      sync.RWMutex
	loaded  bool
	loading chan struct{} // non-nil while a load runs; closed when it ends
	loadErr error         // the last load's failure
	pending []func()      // changes to replay onto the load's result

	devs      map[identity.ID]*onlineDev
	byContent map[sealed.ContentID]*onlineBucket
}

// onlineDev is one device's latest announcement, shared by its holdings.
// It is never changed once in the index (an announcement replaces it), so
// lookups may hand out its slices.
type onlineDev struct {
	id       identity.ID
	account  string
	publicIP string
	ip       netip.Addr     // publicIP parsed (compared without touching the string)
	addrs    []string       // never nil
	priv     []netip.Prefix // the announced private addresses as LAN prefixes
	load     int
	expires  int64     // unix milliseconds
	held     []heldRef // where its holdings sit
}

// heldRef locates one of a device's holdings: holders[pos] of bucket.
type heldRef struct {
	bucket *onlineBucket
	pos    int
}

// onlineSlot is one holding in a content's bucket, stored by value so a
// lookup walks a flat array and touches each holder's device once.
type onlineSlot struct {
	dev      *onlineDev
	policy   *Policy
	k        int // index of this holding in dev.held
	complete bool
	open     bool // policy allows anyone (no lists): no check needed
}

// onlineBucket holds the holders of one content.
type onlineBucket struct {
	content sealed.ContentID
	holders []onlineSlot
}

func newOnlineIndex() *onlineIndex {
	return &onlineIndex{devs: make(map[identity.ID]*onlineDev), byContent: make(map[sealed.ContentID]*onlineBucket)}
}

// modePolicies are shared by every holding whose policy is a bare mode (the
// common case), so a million holdings do not carry a million policies.
var modePolicies = func() map[string]*Policy {
	m := map[string]*Policy{}
	for _, mode := range []string{"", PolicyAnyone, PolicyHousehold, PolicyList, PolicyNobody} {
		m[mode] = &Policy{Mode: mode}
	}
	return m
}()

// openPolicy is the shared policy that allows anyone without lists.
var openPolicy = modePolicies[PolicyAnyone]

func internPolicy(p Policy) *Policy {
	if len(p.Allow) == 0 && len(p.Deny) == 0 {
		if sp, ok := modePolicies[p.Mode]; ok {
			return sp
		}
	}
	return &p
}

func newOnlineDev(id identity.ID, account, publicIP string, addrs, private []string, load int, expires int64, holdings int) *onlineDev {
	if addrs == nil {
		addrs = []string{}
	}
	ip, _ := netip.ParseAddr(publicIP)
	return &onlineDev{id: id, account: account, publicIP: publicIP, ip: ip, addrs: addrs,
		priv: privatePrefixes(private), load: load, expires: expires, held: make([]heldRef, 0, holdings)}
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
	ix.mu.RLock()
	loaded := ix.loaded
	ix.mu.RUnlock()
	if loaded {
		return ix, nil
	}
	return ix, s.loadOnline(ctx)
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
	n := 0
	err := s.st.OnlineHoldings(ctx, s.now(), func(c sealed.ContentID, h *Candidate) error {
		d := tmp.devs[h.Device]
		if d == nil {
			d = newOnlineDev(h.Device, h.Account, h.PublicIP, h.Addrs, h.PrivateAddrs, h.Load, h.Expires.UnixMilli(), 1)
			tmp.devs[h.Device] = d
		}
		tmp.addHoldingLocked(d, c, h.Complete, internPolicy(h.Policy))
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
	ix.devs, ix.byContent = tmp.devs, tmp.byContent
	for _, op := range ix.pending {
		op()
	}
	ix.pending = nil
	ix.loaded = true
	s.log.Info("online holders loaded", "devices", len(ix.devs), "holdings", n, "contents", len(ix.byContent),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
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
	b.holders = append(b.holders, onlineSlot{dev: d, policy: p, k: len(d.held), complete: complete,
		open: p == modePolicies[""] || p == modePolicies[PolicyAnyone]})
	d.held = append(d.held, heldRef{bucket: b, pos: len(b.holders) - 1})
}

// removeLocked takes device id and its holdings out of the index.
func (ix *onlineIndex) removeLocked(id identity.ID) {
	d := ix.devs[id]
	if d == nil {
		return
	}
	delete(ix.devs, id)
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
			ix.addHoldingLocked(d, h.Content, h.Complete, internPolicy(h.Policy))
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

// suppliers ranks the online holders of c for the asker (see rankSuppliers
// for the rule). At most maxCandidates holders are considered; when there
// are more, those announced from askerIP come first.
func (ix *onlineIndex) suppliers(c sealed.ContentID, now time.Time, asker *Device, askerIP string, askerAnn *AnnounceRecord, limit int) []Supplier {
	r := newRanker(asker, askerIP, askerAnn, limit)
	nowMS := now.UnixMilli()
	askerAddr, _ := netip.ParseAddr(askerIP)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.byContent[c]
	if b == nil {
		return nil
	}
	askerDev := ix.devs[asker.ID]
	sameIP := func(d *onlineDev) bool {
		if d.ip.IsValid() {
			return d.ip == askerAddr
		}
		return d.publicIP == askerIP
	}
	add := func(s *onlineSlot) {
		d := s.dev
		if !s.open && !s.policy.Allows(d.account, asker.ID, asker.Account) {
			return
		}
		r.insert(d.id, d.account, d.addrs, s.complete, d.load, sameIP(d) && sharePrivatePrefixes(r.askerPriv, d.priv))
	}
	hs := b.holders
	if len(hs) <= maxCandidates {
		for i := range hs {
			if s := &hs[i]; s.dev.expires > nowMS && s.dev != askerDev {
				add(s)
			}
		}
		return r.result()
	}
	n := 0
	for i := range hs {
		if s := &hs[i]; n < maxCandidates && s.dev.expires > nowMS && s.dev != askerDev && sameIP(s.dev) {
			add(s)
			n++
		}
	}
	for i := range hs {
		if s := &hs[i]; n < maxCandidates && s.dev.expires > nowMS && s.dev != askerDev && !sameIP(s.dev) {
			add(s)
			n++
		}
	}
	return r.result()
}
