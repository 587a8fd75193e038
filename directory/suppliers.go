package directory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Supplier listing limits: at most maxCandidates holders are considered
// per lookup, and at most MaxSuppliers are answered (plus the origin).
const (
	maxCandidates    = 1000
	MaxSuppliers     = 50
	DefaultSuppliers = 16
)

func (s *Server) handleAnnounce(w http.ResponseWriter, r *http.Request, rq *request) error {
	var a Announcement
	if err := decodeStrict(rq.body, &a); err != nil {
		return err
	}
	if err := validateAnnouncementMax(&a, s.o.MaxHoldingsPerDevice); err != nil {
		return err
	}
	lookup, err := announceLookupOf(r) // checked before anything is recorded
	if err != nil {
		return err
	}
	if err := s.sameHoldings(rq.device.ID, &a); err != nil {
		return err
	}
	ix, err := s.online(r.Context()) // the cap counts what the loaded index holds
	if err != nil {
		return err
	}
	if err := ix.roomFor(rq.device.ID, len(a.Holdings), s.o.MaxHoldingsTotal); err != nil {
		return err
	}
	var reachable *bool
	if s.o.Relay != nil { // a probe from outside: before the lock, it may take a while
		reachable = s.observe(r.Context(), rq.device.ID, rq.ip, &a)
	}
	dev, rec, err := s.recordAnnouncement(r.Context(), rq, a)
	if err != nil {
		return err
	}
	ans := AnnounceAnswer{Expires: rec.Expires, TTLSeconds: int(s.o.AnnounceTTL.Seconds()), PublicIP: rq.ip,
		Reachable: reachable, Relay: s.o.Relay}
	if lookup != nil {
		bp := jsonBufs.Get().(*[]byte)
		defer jsonBufs.Put(bp) // the answer is encoded (copied) before this returns
		ans.SuppliersBin = s.lookupAfterAnnounce(r.Context(), (*bp)[:0], rq, dev, rec, lookup)
		if ans.SuppliersBin != nil && cap(ans.SuppliersBin) <= 64<<10 {
			*bp = ans.SuppliersBin[:0]
		}
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// recordAnnouncement stores a and puts it in the index of who is online,
// under the device's lock: a revoke or leave that finished since the
// request was authenticated is seen here, and one that starts waits until
// the index has this announcement. It returns the device as read then.
func (s *Server) recordAnnouncement(ctx context.Context, rq *request, a Announcement) (*Device, *AnnounceRecord, error) {
	unlock := s.members.lock(rq.device.ID)
	defer unlock()
	dev, err := s.device(ctx, rq.device.ID)
	if err != nil {
		return nil, nil, err
	}
	if dev.Revoked {
		return nil, nil, newError(http.StatusForbidden, CodeForbidden, "device %s is revoked", dev.ID.Short())
	}
	now := s.now().UTC()
	rec, same := s.unchanged(dev.ID, rq.ip, &a, now) // a heartbeat (heartbeat.go)
	if same {
		s.metrics.requests.add(unchangedKey, 1)
	} else {
		rec = &AnnounceRecord{Device: dev.ID, PublicIP: rq.ip, Announcement: a, Expires: now.Add(s.o.AnnounceTTL)}
		if err := s.st.Announce(ctx, rec); err != nil {
			s.written.forget(dev.ID) // the row may or may not be the one written
			return nil, nil, fmt.Errorf("recording announcement: %w", err)
		}
		s.stored(rec)
	}
	s.askers.put(dev.ID, rec, rec.Expires)
	s.idx.announce(rec, dev.Account)
	s.o.Origin.Announced(dev.ID, a.Holdings, now) // parts of a title it stopped sharing (originleft.go)
	return dev, rec, nil
}

// lanPrefix turns "192.168.1.7" into 192.168.1.0/24 (/64 for IPv6) and a
// CIDR into its masked prefix.
func lanPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p, true
}

// sharePrivateSubnet reports whether two address lists have a private
// (RFC 1918, ULA or link-local) subnet in common.
func sharePrivateSubnet(a, b []string) bool {
	var priv []netip.Prefix
	for _, p := range privatePrefixes(a) {
		if p.Addr().IsPrivate() || p.Addr().IsLinkLocalUnicast() {
			priv = append(priv, p)
		}
	}
	return sharePrivatePrefixes(priv, privatePrefixes(b))
}

// sharePrivatePrefixes reports whether any of the (already private)
// prefixes a overlaps any of b.
func sharePrivatePrefixes(a, b []netip.Prefix) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Overlaps(y) {
				return true
			}
		}
	}
	return false
}

func (s *Server) handleWithdraw(w http.ResponseWriter, r *http.Request, rq *request) error {
	// Under the device's lock, as an announcement is recorded: a
	// heartbeat that found its row unchanged (heartbeat.go) is answered
	// before the withdrawal or after it, never across it.
	unlock := s.members.lock(rq.device.ID)
	defer unlock()
	s.written.forget(rq.device.ID)
	if err := s.st.Withdraw(r.Context(), rq.device.ID); err != nil {
		return fmt.Errorf("withdrawing: %w", err)
	}
	s.askers.forget(rq.device.ID)
	s.idx.remove(rq.device.ID)
	s.o.Origin.Announced(rq.device.ID, nil, s.now())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var (
	jsonContentType = []string{"application/json"}
	varyAccept      = []string{"Accept"} // a lookup's form depends on it
)

// supplierBufs holds the lists lookups rank into (MaxSuppliers and the
// origin, cleared after use): a list per lookup was its largest allocation.
var supplierBufs = sync.Pool{New: func() any { b := make([]Supplier, 0, MaxSuppliers+1); return &b }}

// handleSuppliers answers the ranked suppliers of a content for the asking
// device (see the ranking rule in doc.go), from the in-memory index.
func (s *Server) handleSuppliers(w http.ResponseWriter, r *http.Request, rq *request) error {
	c, err := pathContent(r)
	if err != nil {
		return err
	}
	var q string
	if r.URL.RawQuery != "" { // most lookups have none: skip parsing into a map
		q = r.URL.Query().Get("limit")
	}
	limit, err := intParam(q, DefaultSuppliers, 1, MaxSuppliers, "limit")
	if err != nil {
		return err
	}
	ctx := r.Context()
	asker := rq.device
	askerAnn, err := s.askerAnnouncement(ctx, asker.ID)
	if err != nil {
		return err
	}
	out, done, err := s.rankedSuppliers(ctx, c, asker, rq.ip, askerAnn, limit)
	if err != nil {
		return err
	}
	defer done()
	bp := jsonBufs.Get().(*[]byte)
	b, bin := (*bp)[:0], false
	v2 := acceptsMedia(r.Header["Accept"], SuppliersMediaTypeV2)
	if v2 || acceptsMedia(r.Header["Accept"], SuppliersMediaType) {
		b, bin = appendSuppliersBinary(b, out, v2)
	}
	h := w.Header()
	switch {
	case bin && v2:
		h["Content-Type"] = suppliersBinV2ContentType // shared, never written to
	case bin:
		h["Content-Type"] = suppliersBinContentType
	default:
		b = appendSuppliersJSON(b, out)
		h["Content-Type"] = jsonContentType
	}
	h["Vary"] = varyAccept
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		jsonBufs.Put(bp)
	}
	return nil
}

// rankedSuppliers is the answer to a lookup of c by asker (announced as
// askerAnn, nil when it has not), ranked and scored, the origin last; the
// caller calls done once it has encoded it (the slice goes back to a pool).
func (s *Server) rankedSuppliers(ctx context.Context, c sealed.ContentID, asker *Device, ip string, askerAnn *AnnounceRecord, limit int) (out []Supplier, done func(), err error) {
	ix, err := s.online(ctx)
	if err != nil {
		return nil, nil, err
	}
	sp := supplierBufs.Get().(*[]Supplier)
	out = ix.suppliers((*sp)[:0], c, s.now(), asker, ip, askerAnn, limit, rand.Uint64())
	if s.originHas(c) {
		out = append(out, Supplier{Device: s.id.ID(), Addrs: []string{}, Origin: true, Complete: true})
	}
	s.addReach(out)
	for i := range out {
		out[i].Score = float64(len(out)-i) / float64(len(out))
	}
	return out, func() {
		clear(out) // drop the references to device entries
		if cap(out) <= MaxSuppliers+1 {
			*sp = out[:0]
			supplierBufs.Put(sp)
		}
	}, nil
}

// RankSuppliers filters candidates by their owners' policies for asker and
// orders them by the rule of doc.go: same LAN first, then known RTT
// (lowest first, unknown last), then a weighted random order (supplierKey
// with salt: each lookup's own salt gives each asker its own sample of a
// big crowd). It returns at most limit. The server's index gives the same
// answer over the same holders and salt; the swarm simulator calls this.
func RankSuppliers(cands []Candidate, asker *Device, askerIP string, askerAnn *AnnounceRecord, limit int, salt uint64) []Supplier {
	return rankSuppliers(cands, asker, askerIP, askerAnn, limit, salt)
}

func rankSuppliers(cands []Candidate, asker *Device, askerIP string, askerAnn *AnnounceRecord, limit int, salt uint64) []Supplier {
	r := newRanker(asker, askerIP, askerAnn, limit)
	r.seed = drawSeed(salt, asker.ID)
	for i := range cands {
		c := &cands[i]
		addrs := c.Addrs
		if addrs == nil {
			addrs = []string{}
		}
		r.add(c.Device, c.Account, &c.Policy, addrs, c.Complete, c.Load,
			c.PublicIP == askerIP && sharePrivatePrefixes(r.askerPriv, privatePrefixes(c.PrivateAddrs)))
	}
	return r.result()
}

// supplierKey is a holder's place in the weighted random order (lower
// first): an exponential draw divided by its weight, so a holder twice
// the weight comes first twice as often (Efraimidis–Spirakis sampling).
// The weight is 2 for a complete holder, 1 for a partial one, divided by
// 1 + its load (uploads running). The draw hashes salt, asker and holder
// (drawSeed of the salt and the asker's strHash, then the holder's
// strHash): the same lookup ranks alike wherever it is computed. A lookup
// hashes the asker once and each holder's hash is kept with it, so a draw
// is a few multiplications and a logarithm.
func supplierKey(seed, holder uint64, complete bool, load int) float64 {
	h := mix64(seed ^ holder)
	u := (float64(h>>11) + 0.5) / (1 << 53) // in (0, 1)
	w := 1.0
	if complete {
		w = 2
	}
	w /= 1 + float64(max(load, 0))
	return -math.Log(u) / w
}

// drawSeed is the part of a lookup's draws shared by every holder.
func drawSeed(salt uint64, asker identity.ID) uint64 {
	return mix64(salt ^ 0x9e3779b97f4a7c15 ^ mix64(strHash(string(asker))))
}

// mix64 is MurmurHash3's 64-bit finalizer: every input bit moves every
// output bit.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// ranker keeps the best limit suppliers seen so far, in order. The order
// is total (device IDs differ), so keeping the top entries sorted by
// insertion gives what a full sort cut to limit would.
type ranker struct {
	asker     *Device
	askerPriv []netip.Prefix // the asker's private subnets (only private ones count)
	rtts      map[string]int64
	limit     int
	seed      uint64 // drawSeed of the salt and the asker
	top       []rankedSupplier
}

type rankedSupplier struct {
	Supplier
	rttKnown bool
	key      float64
}

func newRanker(asker *Device, askerIP string, askerAnn *AnnounceRecord, limit int) *ranker {
	r := &ranker{asker: asker, limit: limit}
	if askerAnn != nil {
		r.rtts = askerAnn.RTTs
		for _, p := range privatePrefixes(askerAnn.PrivateAddrs) {
			if p.Addr().IsPrivate() || p.Addr().IsLinkLocalUnicast() {
				r.askerPriv = append(r.askerPriv, p)
			}
		}
	}
	return r
}

// add considers one holder; sameLAN is computed by the caller.
func (r *ranker) add(dev identity.ID, account string, p *Policy, addrs []string, complete bool, load int, sameLAN bool) {
	if dev == r.asker.ID || !p.Allows(account, r.asker.ID, r.asker.Account) {
		return
	}
	r.insert(dev, account, addrs, complete, load, sameLAN)
}

// insert ranks one holder already known to be allowed and not the asker.
func (r *ranker) insert(dev identity.ID, account string, addrs []string, complete bool, load int, sameLAN bool) {
	rtt, known := r.rtts[string(dev)]
	e := rankedSupplier{Supplier: Supplier{Device: dev, Account: ownAccount(account, r.asker.Account), Addrs: addrs, Complete: complete,
		SameLAN: sameLAN, RTT: rtt, Load: load}, rttKnown: known, key: supplierKey(r.seed, strHash(string(dev)), complete, load)}
	n := len(r.top)
	if n == r.limit && !rankedBefore(&e, &r.top[n-1]) {
		return
	}
	i := sort.Search(n, func(i int) bool { return rankedBefore(&e, &r.top[i]) })
	if n < r.limit {
		r.top = append(r.top, rankedSupplier{})
	}
	copy(r.top[i+1:], r.top[i:])
	r.top[i] = e
}

func (r *ranker) result() []Supplier {
	if len(r.top) == 0 {
		return nil
	}
	out := make([]Supplier, len(r.top), len(r.top)+1) // room for the origin
	for i := range r.top {
		out[i] = r.top[i].Supplier
	}
	return out
}

// rankedBefore is the ranking rule of doc.go.
func rankedBefore(a, b *rankedSupplier) bool {
	switch {
	case a.SameLAN != b.SameLAN:
		return a.SameLAN
	case a.rttKnown != b.rttKnown:
		return a.rttKnown
	case a.rttKnown && a.RTT != b.RTT:
		return a.RTT < b.RTT
	case a.key != b.key:
		return a.key < b.key
	}
	return a.Device < b.Device
}

// The asker cache keeps devices' own announcements (their private
// addresses and measured RTTs, used to rank for them) until they expire,
// and a miss (nil) for annMissTTL; announcing puts the new one, withdrawing
// and revoking forget it.
const (
	annMissTTL          = 5 * time.Second
	maxCachedAnnouncers = 200_000
)

func (s *Server) askerAnnouncement(ctx context.Context, id identity.ID) (*AnnounceRecord, error) {
	now := s.now()
	ca, gen, ok := s.askers.get(id, now)
	if ok {
		return ca, nil
	}
	a, err := s.st.Announcement(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		s.askers.putIf(gen, id, nil, now.Add(annMissTTL))
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading announcement: %w", err)
	}
	exp := a.Expires
	if !now.Before(exp) {
		a, exp = nil, now.Add(annMissTTL)
	}
	s.askers.putIf(gen, id, a, exp)
	return a, nil
}
