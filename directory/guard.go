package directory

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// Defaults for the limits on unauthenticated work (Options fields left zero).
const (
	// DefaultMaxInFlight caps requests being handled at once (all routes
	// but /healthz and origin content downloads, which stream for long and
	// hold no body); more are answered 503 at once.
	DefaultMaxInFlight = 256
	// DefaultMaxBodyInFlight caps the bytes of request bodies held in
	// memory at once, over all clients (a body is held from its first byte
	// until its request ends: announcements are read in full before their
	// signature can be checked).
	DefaultMaxBodyInFlight = 24 << 20
	// DefaultMaxBodyPerClient caps the same per client (IPv4 address or
	// IPv6 /64), so one client cannot take the whole budget.
	DefaultMaxBodyPerClient = 8<<20 + 64<<10
	// DefaultMaxPasswordChecks caps argon2id checks (19 MiB each) running
	// at once; more wait up to passwordWait, then get 503.
	DefaultMaxPasswordChecks = 2
	// DefaultRateAccountGuesses is the sustained rate of wrong passwords
	// per account (bursts of DefaultAccountGuessBurst): 6 a minute.
	DefaultRateAccountGuesses = 0.1
	DefaultAccountGuessBurst  = 10
	// DefaultRateGuesses is the sustained rate of wrong passwords over all
	// accounts (bursts of twice as many).
	DefaultRateGuesses = 10
	// DefaultMaxHoldingsTotal caps the holdings of all online devices
	// together (about 200 bytes of memory each in the index).
	DefaultMaxHoldingsTotal = 2_000_000
	// DefaultMaxDevices caps one account's enrolled devices: a household's
	// phones, computers, tablets and speakers, with room to spare. Without
	// a cap one account's devices could multiply the per-device
	// allowances (rate limits, holdings) and, announcing one content,
	// make a crowd of it (the origin budget's stuck ratio from 128).
	DefaultMaxDevices = 32
	// maxCredentialBody bounds the body of account creation and enrollment.
	maxCredentialBody = 16 << 10
	// passwordWait is how long a password check waits for a free slot.
	passwordWait = 5 * time.Second
)

// clientKey is the key of per-client limits for ip: the address for IPv4,
// its /64 for IPv6 (one subscriber or LAN gets a whole /64, so limits per
// IPv6 address would be limits per guess).
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() { // dotted IPv4 is only accepted in its canonical form: ip is the key
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// bodyBudget accounts the bytes of bodies held in memory, globally and per
// client.
type bodyBudget struct {
	max, perClient int64

	mu     sync.Mutex
	used   int64
	client map[string]int64
}

func newBodyBudget(max, perClient int64) *bodyBudget {
	return &bodyBudget{max: max, perClient: perClient, client: make(map[string]int64)}
}

// take reserves n bytes for client, or reports false if that would pass a cap.
func (b *bodyBudget) take(client string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max || b.client[client]+n > b.perClient {
		return false
	}
	b.used += n
	b.client[client] += n
	return true
}

// give returns n bytes of client's reservation.
func (b *bodyBudget) give(client string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.client[client] -= n; b.client[client] <= 0 {
		delete(b.client, client)
	}
}

// announceWait is how long an announcement or withdrawal waits for a
// slot (Server.announcing) before it is refused busy. A flash crowd
// announces at once: refused at once, each device waited out the retry
// it was told (a second, then longer on each refusal) and asked again,
// and of 500 devices announcing together 724 were refused (8 MiB N=500
// crowd), some starting 23 s late; waiting, each takes the first free
// slot. It waits before its body is read and holds no slot of the
// requests in flight meanwhile (the lookups' cap), so it costs a
// goroutine and its connection. Waiting senders take the slots in the
// order they came (a channel's), so a longer wait is a fairer queue:
// with 2 s, those refused came back behind the others and 10 % of 500
// devices started 11 s late; with 5 s, as long as a password check
// waits, the refusals fell from 1.8-2.9 to 0.6-1.1 a device.
const announceWait = 5 * time.Second

// announceSlot takes a slot of the announcements in flight, waiting up to
// announceWait for one (or until ctx ends); false if none came.
func (s *Server) announceSlot(ctx context.Context) bool {
	select {
	case s.announcing <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(announceWait)
	defer t.Stop()
	select {
	case s.announcing <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func busy(what string) error {
	return &retryError{e: newError(http.StatusServiceUnavailable, CodeBusy,
		"the directory is busy (%s); retry in a second", what), wait: time.Second}
}

// readBody reads r's body within the route's limit, holding its bytes in
// the body budget until release is called (the handler's end).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, rq *request, route string) (release func(), err error) {
	release = func() {}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return release, nil
	}
	limit := s.o.MaxBody
	switch route {
	case "announce":
		limit = s.o.MaxAnnounceBody
	case "publish":
		limit = MaxPublishBody
	case "accounts", "enroll", "leave":
		limit = min(limit, maxCredentialBody)
	}
	if r.ContentLength > limit {
		return release, newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "body of %d bytes is over the %d byte limit", r.ContentLength, limit)
	}
	key := clientKey(rq.ip)
	var held int64
	release = func() { s.bodies.give(key, held) }
	grow := func(n int64) error {
		if !s.bodies.take(key, n) {
			return busy("too many request bodies in flight")
		}
		held += n
		return nil
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var buf []byte
	if r.ContentLength >= 0 {
		if err := grow(r.ContentLength); err != nil {
			return release, err
		}
		buf = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(body, buf); err != nil {
			return release, bodyError(err, limit)
		}
		if n, _ := body.Read(make([]byte, 1)); n > 0 {
			return release, newError(http.StatusBadRequest, CodeBadRequest, "body longer than its Content-Length")
		}
	} else { // chunked: grow in steps, each reserved before it is allocated
		const step = 64 << 10
		for {
			if len(buf) == cap(buf) {
				n := min(max(int64(cap(buf)), step), limit+1-int64(cap(buf)))
				if n <= 0 {
					n = 1
				}
				if err := grow(n); err != nil {
					return release, err
				}
				nb := make([]byte, len(buf), int64(cap(buf))+n)
				copy(nb, buf)
				buf = nb
			}
			n, err := body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return release, bodyError(err, limit)
			}
		}
	}
	rq.body = buf
	return release, nil
}

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, "body is over the %d byte limit", limit)
	}
	return newError(http.StatusBadRequest, CodeBadRequest, "reading body: %v", err)
}

// passwordGuard bounds what checking passwords can cost: argon2id checks
// run at most MaxPasswordChecks at once, and wrong passwords are limited
// per account and over all accounts (a guess is refused before its check
// when the budget is spent, whatever address it comes from).
type passwordGuard struct {
	slots   chan struct{}
	account *limiter // wrong passwords per account
	global  *limiter // wrong passwords over all accounts
}

func newPasswordGuard(o *Options) *passwordGuard {
	acct := newLimiter(o.RateAccountGuesses, o.Now)
	if o.RateAccountGuesses > 0 {
		acct.burst = DefaultAccountGuessBurst
	}
	return &passwordGuard{slots: make(chan struct{}, o.MaxPasswordChecks), account: acct,
		global: newLimiter(o.RateGuesses, o.Now)}
}

// check runs an argon2id check of password against hash for account
// (hash "" = no such account: the dummy hash is checked instead, so the
// answer costs the same). It refuses with 429 when the account's or the
// directory's budget of wrong guesses is spent and with 503 when no
// check slot frees up in time.
func (s *Server) checkPassword(ctx context.Context, account, hash, password string) (bool, error) {
	g := s.pw
	// a guess takes its tokens before it is checked (concurrent guesses
	// cannot all pass a budget of one) and gives them back if it was right
	wait, ok := g.account.allow(account)
	if !ok {
		s.log.Warn("password guesses limited", "account", account)
		return false, rateLimited(wait)
	}
	if wait, ok := g.global.allow(""); !ok {
		g.account.refund(account)
		s.log.Warn("password guesses limited over all accounts")
		return false, rateLimited(wait)
	}
	refund := func() { g.account.refund(account); g.global.refund("") }
	t := time.NewTimer(passwordWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		refund()
		return false, busy("password checks queued")
	case <-ctx.Done():
		refund()
		return false, ctx.Err()
	}
	ok = false
	if hash == "" {
		CheckPassword(dummyHash(), password)
	} else {
		ok = CheckPassword(hash, password)
	}
	<-g.slots
	s.metrics.passwordChecks.add("", 1)
	if ok {
		refund()
	}
	return ok, nil
}

// hashPassword is HashPassword in a password check slot.
func (s *Server) hashPassword(ctx context.Context, password string) (string, error) {
	t := time.NewTimer(passwordWait)
	defer t.Stop()
	select {
	case s.pw.slots <- struct{}{}:
	case <-t.C:
		return "", busy("password checks queued")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.pw.slots }()
	s.metrics.passwordChecks.add("", 1)
	return HashPassword(password)
}

// roomFor refuses (503 capacity) an announcement of n holdings by dev when
// it would take the index over max holdings; dev's current holdings are
// replaced, so they count as freed. Announcements racing each other may
// overshoot by what is in flight.
func (ix *onlineIndex) roomFor(dev identity.ID, n, max int) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	cur := 0
	if d := ix.devs[dev]; d != nil {
		cur = len(d.held)
	}
	if n > cur && ix.total-cur+n > max {
		return &retryError{e: newError(http.StatusServiceUnavailable, CodeCapacity,
			"the directory holds its maximum of %d holdings; announce fewer or retry later", max), wait: time.Minute}
	}
	return nil
}

// DefaultMaxConns caps the connections open at once to the API listener;
// more are closed as soon as they are accepted.
const DefaultMaxConns = 4096

// capListener closes connections accepted past max open ones: a client
// opening connections it never uses (each holds a goroutine and buffers
// until the header timeout) cannot grow the directory past the cap.
type capListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused func()
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			c.Close()
			l.refused()
			continue
		}
		return &capConn{Conn: c, l: l}, nil
	}
}

type capConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *capConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
