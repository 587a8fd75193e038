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
// record; the index is loaded from it once (Store.OnlineHoldings) and then
// kept current by this server's own announce, withdraw and revoke
// handlers, so the serving process must be the only one writing
// announcements (the kith-directory admin commands never do). Expired
// holders are skipped by lookups and dropped by sweep.
type onlineIndex struct {
	mu        sync.RWMutex
	loaded    bool
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
	addrs    []string       // never nil
	priv     []netip.Prefix // the announced private addresses as LAN prefixes
	load     int
	expires  int64 // unix milliseconds
	held     []*onlineHolding
}

type onlineHolding struct {
	dev      *onlineDev
	bucket   *onlineBucket
	policy   *Policy
	complete bool
	pos      int // index in bucket.holders
}

// onlineBucket holds the holders of one content.
type onlineBucket struct {
	content sealed.ContentID
	holders []*onlineHolding
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

func internPolicy(p Policy) *Policy {
	if len(p.Allow) == 0 && len(p.Deny) == 0 {
		if sp, ok := modePolicies[p.Mode]; ok {
			return sp
		}
	}
	return &p
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

// online returns the index, loading it from the store on first use.
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

// loadOnline fills the index from the store unless it is loaded already.
// The write lock is held throughout, so announcements recorded meanwhile
// are applied after the load (and are idempotent if it saw them).
func (s *Server) loadOnline(ctx context.Context) error {
	ix := s.idx
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.loaded {
		return nil
	}
	start := time.Now()
	n := 0
	err := s.st.OnlineHoldings(ctx, s.now(), func(c sealed.ContentID, h *Candidate) error {
		d := ix.devs[h.Device]
		if d == nil {
			addrs := h.Addrs
			if addrs == nil {
				addrs = []string{}
			}
			d = &onlineDev{id: h.Device, account: h.Account, publicIP: h.PublicIP, addrs: addrs,
				priv: privatePrefixes(h.PrivateAddrs), load: h.Load, expires: h.Expires.UnixMilli()}
			ix.devs[h.Device] = d
		}
		ix.addHoldingLocked(d, c, h.Complete, internPolicy(h.Policy))
		n++
		return nil
	})
	if err != nil {
		clear(ix.devs)
		clear(ix.byContent)
		return fmt.Errorf("loading online holders: %w", err)
	}
	ix.loaded = true
	s.log.Info("online holders loaded", "devices", len(ix.devs), "holdings", n, "contents", len(ix.byContent),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (ix *onlineIndex) addHoldingLocked(d *onlineDev, c sealed.ContentID, complete bool, p *Policy) {
	b := ix.byContent[c]
	if b == nil {
		b = &onlineBucket{content: c}
		ix.byContent[c] = b
	}
	h := &onlineHolding{dev: d, bucket: b, policy: p, complete: complete, pos: len(b.holders)}
	b.holders = append(b.holders, h)
	d.held = append(d.held, h)
}

// removeLocked takes device id and its holdings out of the index.
func (ix *onlineIndex) removeLocked(id identity.ID) {
	d := ix.devs[id]
	if d == nil {
		return
	}
	delete(ix.devs, id)
	for _, h := range d.held {
		b := h.bucket
		last := len(b.holders) - 1
		moved := b.holders[last]
		b.holders[h.pos] = moved
		moved.pos = h.pos
		b.holders[last] = nil
		b.holders = b.holders[:last]
		if last == 0 {
			delete(ix.byContent, b.content)
		}
	}
}

// announce replaces the device's entry with a (recorded in the store
// already); an older announcement than the one indexed is ignored.
func (ix *onlineIndex) announce(a *AnnounceRecord, account string) {
	exp := a.Expires.UnixMilli()
	addrs := a.Addrs
	if addrs == nil {
		addrs = []string{}
	}
	d := &onlineDev{id: a.Device, account: account, publicIP: a.PublicIP, addrs: addrs,
		priv: privatePrefixes(a.PrivateAddrs), load: a.Load, expires: exp, held: make([]*onlineHolding, 0, len(a.Holdings))}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.loaded {
		return // the load will read it from the store
	}
	if old := ix.devs[a.Device]; old != nil && old.expires > exp {
		return
	}
	ix.removeLocked(a.Device)
	ix.devs[a.Device] = d
	for _, h := range a.Holdings {
		ix.addHoldingLocked(d, h.Content, h.Complete, internPolicy(h.Policy))
	}
}

// remove drops a withdrawn or revoked device.
func (ix *onlineIndex) remove(id identity.ID) {
	ix.mu.Lock()
	ix.removeLocked(id)
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
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := ix.byContent[c]
	if b == nil {
		return nil
	}
	add := func(h *onlineHolding) {
		d := h.dev
		r.add(d.id, d.account, h.policy, d.addrs, h.complete, d.load,
			d.publicIP == askerIP && sharePrivatePrefixes(r.askerPriv, d.priv))
	}
	if len(b.holders) <= maxCandidates {
		for _, h := range b.holders {
			if h.dev.expires > nowMS {
				add(h)
			}
		}
		return r.result()
	}
	n := 0
	for _, h := range b.holders {
		if n < maxCandidates && h.dev.expires > nowMS && h.dev.publicIP == askerIP {
			add(h)
			n++
		}
	}
	for _, h := range b.holders {
		if n < maxCandidates && h.dev.expires > nowMS && h.dev.publicIP != askerIP {
			add(h)
			n++
		}
	}
	return r.result()
}
