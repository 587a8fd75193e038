package lan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Defaults for BrowserOptions.
const (
	DefaultInterval     = 10 * time.Second
	DefaultQueryTimeout = time.Second
	DefaultExpiry       = 90 * time.Second
)

// MaxNeighbours caps the neighbour list; announcements of further instances
// are ignored until some expire, so a flood of fake instances cannot grow
// memory without bound.
const MaxNeighbours = 256

// maxAddrs caps the addresses kept per neighbour (a neighbour announcing a
// new address each round must not grow memory).
const maxAddrs = 16

// BrowserOptions configure a Browser.
type BrowserOptions struct {
	// Kind selects the service browsed for (Device or Directory).
	Kind Kind
	// Fingerprint, if set, keeps only neighbours of that directory: devices
	// whose dir= or directories whose fp= equals it.
	Fingerprint string
	// Self hides our own announcement: records whose instance name or
	// device ID equals it are ignored. Use Announcer.Instance().
	Self string
	// Interval is the pause between the end of one query round and the
	// start of the next (default DefaultInterval).
	Interval time.Duration
	// QueryTimeout is how long each query listens for answers (default
	// DefaultQueryTimeout); a query always listens this long (answers
	// have no end marker).
	QueryTimeout time.Duration
	// Expiry removes a neighbour (or one of its addresses) not seen for
	// this long (default DefaultExpiry, 90 s).
	Expiry time.Duration
	// Interfaces names the interfaces queried, concurrently. Empty means
	// every up, multicast-capable, non-loopback interface with an address,
	// re-read each round (or the kernel's default if there is none).
	Interfaces []string
	// IPv4Only queries over IPv4 only and ignores IPv6 addresses.
	IPv4Only bool
	// Logger receives the browser's messages; nil means
	// slog.Default().
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now. Tests inject one.
	Clock func() time.Time
}

// Neighbour is a service seen on the LAN.
type Neighbour struct {
	Service
	// Addrs are the addresses the service was seen at: those in a subnet of
	// the interface the answer came in on first, then by address.
	Addrs []netip.AddrPort
	// LastSeen is the end of the last query round the service answered.
	LastSeen time.Time
}

// Browser keeps the list of neighbours announcing one kind of service.
type Browser struct {
	opts    BrowserOptions
	log     *slog.Logger
	changes chan struct{}

	mu      sync.Mutex
	table   map[string]*neighbour // by instance name
	lastErr map[string]string     // by interface, to log each failure once
}

// neighbour is a table entry: a service and when each address was seen.
type neighbour struct {
	svc   Service
	addrs map[netip.AddrPort]seenAddr
}

type seenAddr struct {
	at     time.Time
	onLink bool // in a subnet of the interface the answer came in on
}

// link is the interface an answer came in on.
type link struct {
	name     string
	loopback bool
	prefixes []netip.Prefix
}

func linkOf(ifi *net.Interface) link {
	l := link{name: ifaceName(ifi)}
	if ifi == nil {
		return l
	}
	l.loopback = ifi.Flags&net.FlagLoopback != 0
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(ipn.String()); err == nil {
				l.prefixes = append(l.prefixes, p.Masked())
			}
		}
	}
	return l
}

func (l link) onLink(a netip.Addr) bool {
	a = a.WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// NewBrowser checks the options and builds a Browser; it starts nothing.
func NewBrowser(opts BrowserOptions) (*Browser, error) {
	if !opts.Kind.valid() {
		return nil, fmt.Errorf("new browser: unknown kind %d", opts.Kind)
	}
	if opts.Fingerprint != "" {
		if _, err := checkID(opts.Fingerprint); err != nil {
			return nil, fmt.Errorf("new browser: fingerprint: %w", err)
		}
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.Expiry <= 0 {
		opts.Expiry = DefaultExpiry
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Browser{
		opts:    opts,
		log:     orDefault(opts.Logger).With("component", "lan", "service", opts.Kind.String()),
		changes: make(chan struct{}, 1),
		table:   map[string]*neighbour{},
		lastErr: map[string]string{},
	}, nil
}

// Changes returns a channel that receives a value after the neighbour list
// changed (one pending value at most: bursts are merged). Read Neighbours
// for the new list.
func (b *Browser) Changes() <-chan struct{} { return b.changes }

// Neighbours returns the current neighbours sorted by device ID,
// fingerprint and instance name. The result is a copy.
func (b *Browser) Neighbours() []Neighbour {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Neighbour, 0, len(b.table))
	for _, n := range b.table {
		out = append(out, n.snapshot())
	}
	slices.SortFunc(out, func(x, y Neighbour) int {
		return cmp.Or(cmp.Compare(x.DeviceID, y.DeviceID), cmp.Compare(x.Fingerprint, y.Fingerprint),
			cmp.Compare(x.Instance, y.Instance))
	})
	return out
}

func (n *neighbour) snapshot() Neighbour {
	nb := Neighbour{Service: n.svc}
	nb.URLs = slices.Clone(n.svc.URLs)
	for a, seen := range n.addrs {
		nb.Addrs = append(nb.Addrs, a)
		if seen.at.After(nb.LastSeen) {
			nb.LastSeen = seen.at
		}
	}
	// Addresses on the link the answer came from first: on a multi-homed
	// neighbour the others may not be reachable from here.
	slices.SortFunc(nb.Addrs, func(x, y netip.AddrPort) int {
		if ox, oy := n.addrs[x].onLink, n.addrs[y].onLink; ox != oy {
			if ox {
				return -1
			}
			return 1
		}
		return x.Compare(y)
	})
	return nb
}

// Serve queries every Interval until ctx is done, then returns nil (after
// the running round's queries finish, at most QueryTimeout).
func (b *Browser) Serve(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if err := b.Round(ctx, b.opts.QueryTimeout); err != nil && ctx.Err() == nil {
			b.log.Warn("mdns query round failed", "err", err)
		}
		timer.Reset(b.opts.Interval)
	}
}

// Round runs one query on each interface concurrently, each listening for
// timeout, then updates the list and drops expired neighbours. It returns
// an error only if every query failed.
func (b *Browser) Round(ctx context.Context, timeout time.Duration) error {
	ifaces, err := interfaces(b.opts.Interfaces)
	if err != nil {
		return err
	}
	if len(ifaces) == 0 {
		ifaces = []*net.Interface{nil}
	}
	// IPv4 and IPv6 are queried separately: one family failing to send
	// (an interface without IPv6, or with its link-local address still
	// tentative) must not cost the other's answers.
	type round struct {
		from    link
		ifi     *net.Interface
		v6      bool
		answers []answer
		err     error
	}
	var queries []*round
	for _, ifi := range ifaces {
		from := linkOf(ifi)
		queries = append(queries, &round{from: from, ifi: ifi})
		if !b.opts.IPv4Only {
			queries = append(queries, &round{from: from, ifi: ifi, v6: true})
		}
	}
	service := b.opts.Kind.String() + ".local."
	var wg sync.WaitGroup
	for _, q := range queries {
		wg.Go(func() {
			q.answers, q.err = query(ctx, q.ifi, q.v6, service, timeout, b.log)
		})
	}
	wg.Wait()
	now := b.opts.Clock()
	changed := false
	var errs []error
	for _, q := range queries {
		b.noteErr(q.from.name, q.v6, q.err)
		if q.err != nil {
			errs = append(errs, q.err)
		}
		for _, a := range q.answers {
			changed = b.observe(a, q.from, now) || changed
		}
	}
	changed = b.expire(now) || changed
	if changed {
		b.notify()
	}
	if len(errs) == len(queries) && ctx.Err() == nil {
		return fmt.Errorf("querying %s: %w", b.opts.Kind, errors.Join(errs...))
	}
	return nil
}

// noteErr logs a query error once per interface and family until it
// changes; IPv6 failures only at debug level, as many LANs have no IPv6.
func (b *Browser) noteErr(iface string, v6 bool, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	key := iface + "/ipv4"
	if v6 {
		key = iface + "/ipv6"
	}
	b.mu.Lock()
	prev := b.lastErr[key]
	b.lastErr[key] = msg
	b.mu.Unlock()
	if msg == "" || msg == prev {
		return
	}
	level := slog.LevelWarn
	if v6 {
		level = slog.LevelDebug
	}
	b.log.Log(context.Background(), level, "mdns query failed", "interface", iface, "ipv6", v6, "err", err)
}

func (b *Browser) notify() {
	select {
	case b.changes <- struct{}{}:
	default:
	}
}

// accept checks one answer and turns it into a neighbour with addresses.
func (b *Browser) accept(e answer, loopback bool) (Service, []netip.AddrPort, error) {
	inst, err := instanceFromName(b.opts.Kind, e.Name)
	if err != nil {
		return Service{}, nil, err
	}
	svc, err := ParseTXT(b.opts.Kind, e.TXT)
	if err != nil {
		return Service{}, nil, err
	}
	svc.Instance = inst
	if e.Port < 1 || e.Port > 65535 {
		return Service{}, nil, fmt.Errorf("port %d out of range", e.Port)
	}
	svc.Port = e.Port
	var addrs []netip.AddrPort
	for _, ip := range e.Addrs {
		a, ok := usableAddr(ip, loopback)
		if !ok || a.Is6() && b.opts.IPv4Only {
			continue
		}
		addrs = append(addrs, netip.AddrPortFrom(a, uint16(e.Port)))
	}
	if len(addrs) == 0 {
		return Service{}, nil, errors.New("no usable address")
	}
	return svc, addrs, nil
}

// usableAddr accepts unicast addresses; loopback ones only in answers
// received on a loopback interface (a LAN neighbour announcing 127.0.0.1
// would point us at ourselves).
func usableAddr(a netip.Addr, loopback bool) (netip.Addr, bool) {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() && !loopback {
		return netip.Addr{}, false
	}
	return a, true
}

// observe records one answer seen at now and reports whether the list
// changed. Malformed, foreign and own answers are logged at debug level and
// dropped.
func (b *Browser) observe(e answer, from link, now time.Time) bool {
	iface := from.name
	svc, addrs, err := b.accept(e, from.loopback)
	if err != nil {
		b.log.Debug("ignoring malformed mdns answer", "interface", iface, "name", clip(e.Name, 100), "err", err)
		return false
	}
	switch {
	case b.opts.Self != "" && (svc.Instance == b.opts.Self || svc.DeviceID == b.opts.Self):
		return false
	case b.opts.Fingerprint != "" && svc.Fingerprint != b.opts.Fingerprint:
		b.log.Debug("ignoring neighbour of another directory", "instance", svc.Instance, "fingerprint", svc.Fingerprint)
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.table[svc.Instance]
	if !ok {
		if len(b.table) >= MaxNeighbours {
			b.log.Debug("neighbour list full, ignoring", "instance", svc.Instance)
			return false
		}
		b.log.Info("neighbour appeared", "instance", svc.Instance, "device", svc.DeviceID, "addrs", addrs)
		n = &neighbour{addrs: map[netip.AddrPort]seenAddr{}}
		b.table[svc.Instance] = n
	}
	changed := !ok || !sameService(n.svc, svc)
	n.svc = svc
	for _, a := range addrs {
		if _, had := n.addrs[a]; !had {
			if len(n.addrs) >= maxAddrs {
				b.log.Debug("too many addresses for neighbour, ignoring", "instance", svc.Instance, "addr", a)
				continue
			}
			changed = true
		}
		n.addrs[a] = seenAddr{at: now, onLink: from.onLink(a.Addr())}
	}
	return changed
}

func sameService(x, y Service) bool {
	return x.Kind == y.Kind && x.Instance == y.Instance && x.DeviceID == y.DeviceID &&
		x.Fingerprint == y.Fingerprint && x.Name == y.Name && x.Port == y.Port &&
		x.Proto == y.Proto && slices.Equal(x.URLs, y.URLs)
}

// expire drops addresses and neighbours not seen for Expiry and reports
// whether anything was dropped.
func (b *Browser) expire(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := false
	for inst, n := range b.table {
		for a, seen := range n.addrs {
			if now.Sub(seen.at) >= b.opts.Expiry {
				delete(n.addrs, a)
				changed = true
			}
		}
		if len(n.addrs) == 0 {
			delete(b.table, inst)
			b.log.Info("neighbour left", "instance", inst, "device", n.svc.DeviceID)
			changed = true
		}
	}
	return changed
}

// FindDirectory looks for directories on the LAN for up to timeout and
// returns those found, sorted; it returns as soon as a query round found
// one. Rounds run back to back; opts.Kind is forced to Directory and
// opts.QueryTimeout capped so at least two rounds fit into timeout. Set
// opts.Fingerprint to look for one directory only. Finding none is not an
// error: the result is empty.
func FindDirectory(ctx context.Context, timeout time.Duration, opts BrowserOptions) ([]Neighbour, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("finding directory: timeout %v, want > 0", timeout)
	}
	opts.Kind = Directory
	if opts.QueryTimeout <= 0 || opts.QueryTimeout > timeout/2 {
		opts.QueryTimeout = max(timeout/3, 100*time.Millisecond)
	}
	b, err := NewBrowser(opts)
	if err != nil {
		return nil, fmt.Errorf("finding directory: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		q := opts.QueryTimeout
		if dl, ok := ctx.Deadline(); ok {
			q = min(q, time.Until(dl))
		}
		if q <= 0 {
			break
		}
		lastErr = b.Round(ctx, q)
		if found := b.Neighbours(); len(found) > 0 {
			return found, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("finding directory: %w", err)
	}
	if lastErr != nil {
		return nil, fmt.Errorf("finding directory: %w", lastErr)
	}
	return nil, nil
}

// clip shortens untrusted text for a log line.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
