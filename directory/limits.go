package directory

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// replayCache remembers request signatures until their window closes, so an
// exact copy of a signed request is refused inside the window (outside it
// the time check refuses it). ed25519 signatures are deterministic, so the
// signature identifies the signed bytes.
type replayCache struct {
	mu    sync.Mutex
	seen  map[string]time.Time // signature → when it may be forgotten
	sweep time.Time
}

func newReplayCache() *replayCache { return &replayCache{seen: make(map[string]time.Time)} }

// add records sig until expires; false if it was already there.
func (c *replayCache) add(sig string, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.sweep) > 5*time.Second {
		for k, exp := range c.seen {
			if now.After(exp) {
				delete(c.seen, k)
			}
		}
		c.sweep = now
	}
	if exp, ok := c.seen[sig]; ok && !now.After(exp) {
		return false
	}
	c.seen[sig] = expires
	return true
}

// limiter is a set of token buckets keyed by client IP or device ID:
// rate tokens per second, bursts of 2×rate (at least 1).
type limiter struct {
	rate  float64 // <0: unlimited
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, now func() time.Time) *limiter {
	burst := 2 * rate
	if burst < 1 {
		burst = 1
	}
	return &limiter{rate: rate, burst: burst, now: now, buckets: make(map[string]*bucket)}
}

// allow takes a token for key, or says how long until one is there.
func (l *limiter) allow(key string) (time.Duration, bool) {
	if l.rate < 0 {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.buckets { // full buckets carry no state
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// refund gives back a token taken from key (capped at the burst).
func (l *limiter) refund(key string) {
	if l.rate < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key]; b != nil {
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// The device cache keeps enrolled devices for deviceCacheTTL so signed
// requests and registrations do not each read the store; enrolling,
// revoking and leaving through this server forget the entry at once (and a
// store read that began before is not cached); through another instance or
// the CLI, within deviceCacheTTL.
const (
	deviceCacheTTL   = 5 * time.Second
	maxCachedDevices = 100_000
)

// memberLocks serialize, per device, a change of its enrollment (revoke,
// leave) with its announcements, so a heartbeat read before the change
// cannot put the device back in the online index under the account it
// just left. Striped: a device maps to one of 64 mutexes.
type memberLocks [64]sync.Mutex

func (l *memberLocks) lock(id identity.ID) func() {
	m := &l[idKey(id)%uint64(len(l))]
	m.Lock()
	return m.Unlock
}

// device returns the enrolled device id (cached) or a 401.
func (s *Server) device(ctx context.Context, id identity.ID) (*Device, error) {
	d, err := s.deviceRecord(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, newError(http.StatusUnauthorized, CodeUnauthorized, "device %s is not enrolled", id.Short())
	}
	return d, err
}

// deviceRecord returns the enrolled device id through the device cache
// (ErrNotFound when it is not enrolled; that is not cached).
func (s *Server) deviceRecord(ctx context.Context, id identity.ID) (*Device, error) {
	now := s.now()
	cd, gen, ok := s.devices.get(id, now)
	if ok {
		return &cd, nil
	}
	d, err := s.st.Device(ctx, id)
	if err != nil {
		return nil, err
	}
	s.devices.putIf(gen, id, *d, now.Add(deviceCacheTTL))
	return d, nil
}

// The title cache keeps title records for registrations for
// titleCacheTTL. A title never changes once published (PutTitle refuses
// an existing ID, publishing again gives a new title) except for its
// withdrawal, which only `kith-directory withdraw` makes, in another
// process: a purchase of a title withdrawn less than titleCacheTTL ago can
// still go through, as one that raced the withdrawal always could. Absent
// titles are not cached (a new title is found at once). The records are
// shared: read only.
const (
	titleCacheTTL   = time.Second // bounds how long a withdrawal takes to stop new purchases
	maxCachedTitles = 20_000
)

// titleRecord returns title id (cached; the record is shared, read only).
func (s *Server) titleRecord(ctx context.Context, id string) (*TitleRecord, error) {
	now := s.now()
	if t, _, ok := s.titles.get(id, now); ok {
		return t, nil
	}
	t, err := s.st.Title(ctx, id)
	if err != nil {
		return nil, err
	}
	s.titles.put(id, t, now.Add(titleCacheTTL))
	return t, nil
}
