package peer

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// ErrNotEnrolled is wrapped by Accounts answers for a device the directory
// does not know or has revoked: such a device gets nothing from a peer.
var ErrNotEnrolled = errors.New("device is not enrolled in this directory")

// errLookupLimited: the caller (or everyone together) asked about too many
// unknown devices lately; it is refused until the limit refills.
var errLookupLimited = errors.New("too many device lookups")

// Whoiser looks a device up in the directory (*directory.Client implements it).
type Whoiser interface {
	Whois(ctx context.Context, id identity.ID) (*directory.Device, error)
}

// WhoisAccounts implements Accounts with the directory's Whois: the
// account of an enrolled device; ErrNotEnrolled for an unknown (404) or
// revoked one; any other failure as is. It does not cache: the Server
// caches and rate-limits lookups (LookupLimits).
func WhoisAccounts(w Whoiser) Accounts { return whoisAccounts{w} }

type whoisAccounts struct{ w Whoiser }

func (a whoisAccounts) Account(ctx context.Context, id identity.ID) (string, error) {
	d, err := a.w.Whois(ctx, id)
	var de *directory.Error
	switch {
	case errors.As(err, &de) && de.Status == 404:
		return "", fmt.Errorf("%w: %s", ErrNotEnrolled, id.Short())
	case err != nil:
		return "", err
	case d == nil || d.ID != id:
		return "", fmt.Errorf("directory answered for %s with another device", id.Short())
	case d.Account == "":
		return "", fmt.Errorf("directory answered for %s without an account", id.Short())
	case d.Revoked:
		return "", fmt.Errorf("%w: %s is revoked", ErrNotEnrolled, id.Short())
	}
	return d.Account, nil
}

// LookupLimits bound what a Server asks its Accounts (the directory, on
// the owner's quota) about callers. Zero fields take the defaults.
type LookupLimits struct {
	TTL         time.Duration // how long an enrolled device's account is kept (default 5 min)
	NegativeTTL time.Duration // how long "not enrolled" is kept (default 30 s)
	MaxEntries  int           // answers kept, least recently used dropped first (default 4096)
	// PerCaller is lookups per second for one caller address (an IPv4
	// address or an IPv6 /64, not the device key, which is free to make),
	// in bursts of PerCallerBurst (defaults 1/15 and 4).
	PerCaller      float64
	PerCallerBurst int
	// Total is lookups per second for all callers together, in bursts of
	// TotalBurst (defaults 2 and 20): far below the directory's per-device
	// request limit, so strangers cannot spend the owner's quota.
	Total      float64
	TotalBurst int
	// Expected is lookups per second, in bursts of ExpectedBurst (defaults
	// 10 and 64), of devices the directory itself named to this one
	// lately (Server.Expect: the suppliers of a content it downloads),
	// for ExpectedTTL (default 10 min). A crowd's members poll each other
	// from the start; the directory vouched for them (it lists only
	// enrolled devices that announced the content), so they are not
	// strangers spending the owner's quota, and they draw from this bucket
	// instead of the per-address and total ones. A device key nobody
	// named still meets those limits: no one can enlarge the set but the
	// directory.
	Expected      float64
	ExpectedBurst int
	ExpectedTTL   time.Duration
	// Timeout bounds one lookup (default 5 s).
	Timeout time.Duration
}

func (l LookupLimits) withDefaults() LookupLimits {
	if l.TTL <= 0 {
		l.TTL = 5 * time.Minute
	}
	if l.NegativeTTL <= 0 {
		l.NegativeTTL = 30 * time.Second
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 4096
	}
	if l.PerCaller <= 0 {
		l.PerCaller = 1.0 / 15
	}
	if l.PerCallerBurst <= 0 {
		l.PerCallerBurst = 4
	}
	if l.Total <= 0 {
		l.Total = 2
	}
	if l.TotalBurst <= 0 {
		l.TotalBurst = 20
	}
	if l.Expected <= 0 {
		l.Expected = 10
	}
	if l.ExpectedBurst <= 0 {
		l.ExpectedBurst = 64
	}
	if l.ExpectedTTL <= 0 {
		l.ExpectedTTL = 10 * time.Minute
	}
	if l.Timeout <= 0 {
		l.Timeout = 5 * time.Second
	}
	return l
}

// accountCache answers "which account is this caller's" from a bounded
// LRU of earlier answers (enrolled and not enrolled), and asks the
// Accounts behind it only within the per-caller and total limits. Failed
// lookups are not kept (but count against the limits).
type accountCache struct {
	look   Accounts // nil: nobody is enrolled
	lim    LookupLimits
	now    func() time.Time
	flight singleflight.Group

	mu      sync.Mutex
	entries map[identity.ID]*list.Element // of *cacheEntry
	lru     list.List                     // front: most recently used
	callers map[netip.Prefix]*tokens
	total   tokens
	sweep   time.Time
	// expected: devices the directory named to us, until when (Expect).
	expected    map[identity.ID]time.Time
	expectedBkt tokens
}

type cacheEntry struct {
	id      identity.ID
	account string // "" = not enrolled
	expires time.Time
	refused bool // by the owner (refuse), not by a lookup
}

// tokens is a token bucket.
type tokens struct {
	n    float64
	last time.Time
}

// refill adds rate tokens a second since the last refill, up to burst (a
// new bucket is full).
func (b *tokens) refill(now time.Time, rate float64, burst int) {
	if b.last.IsZero() {
		b.n = float64(burst)
	} else {
		b.n = min(float64(burst), b.n+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
}

// take refills b and takes a token if there is one.
func (b *tokens) take(now time.Time, rate float64, burst int) bool {
	b.refill(now, rate, burst)
	if b.n < 1 {
		return false
	}
	b.n--
	return true
}

func newAccountCache(look Accounts, lim LookupLimits, now func() time.Time) *accountCache {
	return &accountCache{look: look, lim: lim.withDefaults(), now: now,
		entries: map[identity.ID]*list.Element{}, callers: map[netip.Prefix]*tokens{}, expected: map[identity.ID]time.Time{}}
}

// callerPrefix is the unit the per-caller limit counts: the IPv4 address,
// or the IPv6 /64 (one host's share of a network).
func callerPrefix(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// account returns the account of enrolled device id, calling from
// remoteAddr; the error wraps ErrNotEnrolled, errLookupLimited or the
// lookup's failure.
func (c *accountCache) account(ctx context.Context, id identity.ID, remoteAddr string) (string, error) {
	if c.look == nil {
		return "", fmt.Errorf("%w: no directory to ask", ErrNotEnrolled)
	}
	now := c.now()
	c.mu.Lock()
	if el, ok := c.entries[id]; ok {
		e := el.Value.(*cacheEntry)
		if now.Before(e.expires) {
			c.lru.MoveToFront(el)
			acct := e.account // read under mu: keep refreshes entries in place
			c.mu.Unlock()
			if acct == "" {
				return "", fmt.Errorf("%w: %s", ErrNotEnrolled, id.Short())
			}
			return acct, nil
		}
		c.removeLocked(el)
	}
	c.mu.Unlock()
	v, err, _ := c.flight.Do(string(id), func() (any, error) {
		if !c.allow(remoteAddr, id) {
			return "", errLookupLimited
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.lim.Timeout)
		defer cancel()
		acct, err := c.look.Account(lctx, id)
		switch {
		case err == nil && acct == "":
			err = fmt.Errorf("%w: %s has no account", ErrNotEnrolled, id.Short())
			fallthrough
		case errors.Is(err, ErrNotEnrolled):
			c.keep(id, "", c.lim.NegativeTTL)
		case err == nil:
			ttl := c.lim.TTL
			if strings.HasPrefix(acct, directory.PseudonymPrefix) {
				// The directory names another account's device only to an asker
				// whose announced policies name that account: a pseudonym is
				// only true until our next announcement (ForgetAccounts).
				ttl = c.lim.NegativeTTL
			}
			if !c.keep(id, acct, ttl) {
				// Refused while the lookup was in flight: the refusal is the
				// newer word.
				acct, err = "", fmt.Errorf("%w: %s was refused", ErrNotEnrolled, id.Short())
			}
		}
		return acct, err
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// know keeps accounts the directory told us outside a lookup (its
// suppliers answer names the account of the asker's own devices), as a
// lookup's answer is kept (TTL): a crowd of one household's devices then
// costs each server no lookup of a caller, where it cost one for every
// connection a member opened to it. Empty accounts and pseudonyms are
// not kept (a lookup decides those).
//
// A download tells them every resupply round, a big crowd's the same
// devices each time: an entry kept with the same account and more than
// half its TTL left is left as it is (one lock for the whole answer; it
// took the lock, the clock and the LRU's front for each device, half the
// local work of a 200-device crowd's resupply rounds).
func (c *accountCache) know(accounts map[identity.ID]string) {
	if len(accounts) == 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, acct := range accounts {
		if acct == "" || strings.HasPrefix(acct, directory.PseudonymPrefix) {
			continue
		}
		if el, ok := c.entries[id]; ok {
			if e := el.Value.(*cacheEntry); e.account == acct && !e.refused && e.expires.Sub(now) > c.lim.TTL/2 {
				continue
			}
		}
		c.keepLocked(now, id, acct, c.lim.TTL, false)
	}
}

// expect marks ids as named to us by the directory, for ExpectedTTL.
// The set is bounded by MaxEntries: when full, expired names go first,
// and then nobody new is added until some expire.
func (c *accountCache) expect(ids []identity.ID) {
	now := c.now()
	until := now.Add(c.lim.ExpectedTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if _, ok := c.expected[id]; !ok && len(c.expected) >= c.lim.MaxEntries {
			for k, t := range c.expected {
				if !now.Before(t) {
					delete(c.expected, k)
				}
			}
			if len(c.expected) >= c.lim.MaxEntries {
				return
			}
		}
		c.expected[id] = until
	}
}

// allow takes a lookup token for device id calling from remoteAddr: from
// the expected bucket when the directory named id to us lately, else (or
// when that bucket is empty) for the caller's address and from the total.
func (c *accountCache) allow(remoteAddr string, id identity.ID) bool {
	now := c.now()
	p := callerPrefix(remoteAddr)
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.expected[id]; ok {
		if now.Before(until) && c.expectedBkt.take(now, c.lim.Expected, c.lim.ExpectedBurst) {
			return true
		}
		if !now.Before(until) {
			delete(c.expected, id)
		}
	}
	if now.Sub(c.sweep) > time.Minute || len(c.callers) > c.lim.MaxEntries {
		full := float64(c.lim.PerCallerBurst) / c.lim.PerCaller
		for k, b := range c.callers { // a refilled bucket carries no state
			if now.Sub(b.last).Seconds() >= full {
				delete(c.callers, k)
			}
		}
		c.sweep = now
	}
	b := c.callers[p]
	if b == nil {
		if len(c.callers) > c.lim.MaxEntries {
			return false // more distinct callers than we keep track of: refuse new ones
		}
		b = &tokens{}
		c.callers[p] = b
	}
	b.refill(now, c.lim.PerCaller, c.lim.PerCallerBurst)
	if b.n < 1 || !c.total.take(now, c.lim.Total, c.lim.TotalBurst) {
		return false
	}
	b.n--
	return true
}

// refused reports whether a kept, unexpired answer says device id is not
// enrolled (a lookup's, or Server.Refuse's).
func (c *accountCache) refused(id identity.ID) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return false
	}
	e := el.Value.(*cacheEntry)
	return e.account == "" && now.Before(e.expires)
}

// forget drops every kept answer but the owner's refusals (refuse: a
// changed policy does not make them stale); the per-caller limits stay.
func (c *accountCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.entries {
		if !el.Value.(*cacheEntry).refused {
			c.removeLocked(el)
		}
	}
}

// keep keeps device id's account ("" = not enrolled) for ttl. It keeps
// no account over an unexpired refusal (refuse): a lookup in flight when
// the owner refused the device, or a suppliers answer (know), may carry
// the directory's word from before the revocation, and would otherwise
// serve the device for TTL. It reports whether it kept the answer.
func (c *accountCache) keep(id identity.ID, account string, ttl time.Duration) bool {
	return c.keepAs(id, account, ttl, false)
}

// refuse keeps device id as not enrolled for NegativeTTL, as its owner
// learnt outside a lookup (Server.Refuse): no account is kept over it
// until it expires.
func (c *accountCache) refuse(id identity.ID) { c.keepAs(id, "", c.lim.NegativeTTL, true) }

func (c *accountCache) keepAs(id identity.ID, account string, ttl time.Duration, refused bool) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keepLocked(now, id, account, ttl, refused)
}

// keepLocked is keepAs at now, with c.mu held.
func (c *accountCache) keepLocked(now time.Time, id identity.ID, account string, ttl time.Duration, refused bool) bool {
	if el, ok := c.entries[id]; ok {
		// Kept again (a crowd's suppliers answer names the same devices
		// every resupply round): refreshed in place.
		e := el.Value.(*cacheEntry)
		if account != "" && e.refused && now.Before(e.expires) {
			return false
		}
		e.account, e.expires, e.refused = account, now.Add(ttl), refused
		c.lru.MoveToFront(el)
		return true
	}
	for c.lru.Len() >= c.lim.MaxEntries {
		c.removeLocked(c.lru.Back())
	}
	c.entries[id] = c.lru.PushFront(&cacheEntry{id: id, account: account, expires: now.Add(ttl), refused: refused})
	return true
}

func (c *accountCache) removeLocked(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).id)
	c.lru.Remove(el)
}
