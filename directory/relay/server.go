package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// Options configure a relay Server. Zero values take the defaults shown.
type Options struct {
	Identity  *identity.Identity // the relay's own key, shown to suppliers (required)
	Directory identity.ID        // fingerprint of the directory whose tickets are honoured (required)

	MaxSuppliers         int           // control connections in total (10,000)
	MaxConnsPerIP        int           // connections of any kind from one IPv4 address or IPv6 /64 (64)
	MaxSessions          int           // spliced sessions in total (1,024)
	MaxSessionsPerDevice int           // sessions per device, as asker or supplier (16)
	RateTotal            int64         // bytes per second through the relay (1 GiB/s); < 0 unlimited
	RatePerDevice        int64         // bytes per second of one supplier's sessions (64 MiB/s); < 0 unlimited
	BytesPerDevice       int64         // bytes one supplier may relay per BytesWindow (32 GiB)
	BytesWindow          time.Duration // (1 h)
	JoinTimeout          time.Duration // how long an asker waits for its supplier (10 s)
	HandshakeTimeout     time.Duration // for a connection's first message or TLS handshake (10 s)
	PingInterval         time.Duration // keepalive on control connections (30 s)
	IdleTimeout          time.Duration // a session silent both ways this long is closed (5 min)
	Logger               *slog.Logger
	Now                  func() time.Time // for ticket expiry
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxSuppliers, 10000)
	def(&o.MaxSessions, 1024)
	def(&o.MaxSessionsPerDevice, 16)
	def(&o.MaxConnsPerIP, 64)
	if o.RateTotal == 0 {
		o.RateTotal = 1 << 30
	}
	if o.RatePerDevice == 0 {
		o.RatePerDevice = 64 << 20
	}
	if o.BytesPerDevice <= 0 {
		o.BytesPerDevice = 32 << 30
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&o.BytesWindow, time.Hour)
	dur(&o.JoinTimeout, 10*time.Second)
	dur(&o.HandshakeTimeout, 10*time.Second)
	dur(&o.PingInterval, 30*time.Second)
	dur(&o.IdleTimeout, 5*time.Minute)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server is a relay: it keeps suppliers' control connections and splices
// askers holding a directory ticket to them.
type Server struct {
	o     Options
	log   *slog.Logger
	total *bucket
	m     metrics

	mu        sync.Mutex
	suppliers map[identity.ID]*control
	pending   map[[keySize]byte]*pendingSession
	sessions  int
	usage     map[identity.ID]*usage
	conns     map[net.Conn]struct{}
	perIP     map[netip.Prefix]int
	closed    bool
	wg        sync.WaitGroup
}

// control is one supplier's control connection.
type control struct {
	dev     identity.ID
	conn    *tls.Conn
	invites chan invite
	done    chan struct{}
}

type pendingSession struct {
	joined chan net.Conn // buffered 1
}

// NewServer checks the options; Serve runs the relay.
func NewServer(o Options) (*Server, error) {
	if o.Identity == nil || !o.Directory.Valid() {
		return nil, errors.New("relay: Identity and Directory are required")
	}
	o.defaults()
	return &Server{o: o, log: o.Logger, total: newBucket(o.RateTotal), suppliers: map[identity.ID]*control{},
		pending: map[[keySize]byte]*pendingSession{}, usage: map[identity.ID]*usage{}, conns: map[net.Conn]struct{}{},
		perIP: map[netip.Prefix]int{}}, nil
}

// ID is the relay's device ID (suppliers pin it).
func (s *Server) ID() identity.ID { return s.o.Identity.ID() }

// Connected reports whether device keeps a control connection here.
func (s *Server) Connected(device identity.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.suppliers[device]
	return ok
}

// Serve accepts suppliers and askers on ln until ctx is cancelled, then
// closes every connection and waits for their goroutines.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			break
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(ctx, c)
		}()
	}
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("relay: accepting: %w", err)
}

// track admits a connection: at most two per session and one per
// supplier, plus a margin for those still saying who they are, and at
// most MaxConnsPerIP from one address (device keys are free to make:
// one host must not take every supplier slot).
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.o.MaxSuppliers+2*s.o.MaxSessions+256 {
		s.m.refused("connections")
		return false
	}
	p := ipKey(c.RemoteAddr())
	if s.perIP[p] >= s.o.MaxConnsPerIP {
		s.m.refused("connections_per_ip")
		return false
	}
	s.perIP[p]++
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	p := ipKey(c.RemoteAddr())
	s.mu.Lock()
	delete(s.conns, c)
	if s.perIP[p]--; s.perIP[p] <= 0 {
		delete(s.perIP, p)
	}
	s.mu.Unlock()
}

// ipKey is the address a connection counts against: its IPv4 address or
// its IPv6 /64.
func ipKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// bufConn reads through the reader that peeked at the first byte.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// handle tells a control connection (TLS) from a data connection (magic).
func (s *Server) handle(ctx context.Context, raw net.Conn) {
	raw.SetDeadline(time.Now().Add(s.o.HandshakeTimeout))
	br := bufio.NewReaderSize(raw, 4096)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	c := &bufConn{Conn: raw, r: br}
	if first[0] == 0x16 {
		s.serveControl(ctx, c)
		return
	}
	var m [len(magic)]byte
	if _, err := io.ReadFull(c, m[:]); err != nil || string(m[:]) != magic {
		s.m.refused("bad_request")
		return
	}
	typ, body, err := readFrame(c)
	if err != nil {
		s.m.refused("bad_request")
		writeFrame(c, msgResult, resultBody(CodeBadRequest, "malformed message"))
		return
	}
	switch typ {
	case msgConnect:
		s.serveConnect(ctx, c, body, false)
	case msgConnectPunch:
		s.serveConnect(ctx, c, body, true)
	case msgJoin:
		s.serveJoin(c, body)
	default:
		s.m.refused("bad_request")
		writeFrame(c, msgResult, resultBody(CodeBadRequest, "expected connect or join"))
	}
}

// serveControl keeps a supplier's control connection: invites out, pings
// both ways, until either side closes.
func (s *Server) serveControl(ctx context.Context, c net.Conn) {
	tc := tls.Server(c, s.o.Identity.ServerTLS(nil))
	if err := tc.HandshakeContext(ctx); err != nil {
		s.m.refused("tls")
		return
	}
	dev, _, err := identity.PeerID(tc.ConnectionState())
	if err != nil {
		return
	}
	ctl := &control{dev: dev, conn: tc, invites: make(chan invite, 8), done: make(chan struct{})}
	s.mu.Lock()
	old := s.suppliers[dev]
	if old == nil && len(s.suppliers) >= s.o.MaxSuppliers {
		s.mu.Unlock()
		s.m.refused("suppliers")
		writeFrame(tc, msgResult, resultBody(CodeBusy, "too many suppliers"))
		return
	}
	s.suppliers[dev] = ctl
	s.mu.Unlock()
	if old != nil {
		old.conn.Close() // the device reconnected: its old connection is dead
	}
	s.m.suppliers.Add(1)
	defer func() {
		s.mu.Lock()
		if s.suppliers[dev] == ctl {
			delete(s.suppliers, dev)
		}
		s.mu.Unlock()
		s.m.suppliers.Add(-1)
		close(ctl.done)
	}()
	s.log.Debug("relay: supplier connected", "device", dev, "addr", c.RemoteAddr())
	if err := writeFrame(tc, msgResult, resultBody(CodeOK, "")); err != nil {
		return
	}
	readErr := make(chan error, 1)
	go func() {
		for {
			tc.SetReadDeadline(time.Now().Add(3 * s.o.PingInterval))
			typ, _, err := readFrame(tc)
			if err != nil {
				readErr <- err
				return
			}
			switch typ {
			case msgPing, msgPong:
			default:
				readErr <- fmt.Errorf("%w: type %d on a control connection", errFrame, typ)
				return
			}
		}
	}()
	tick := time.NewTicker(s.o.PingInterval)
	defer tick.Stop()
	defer tc.Close()
	for {
		var typ byte
		var body []byte
		select {
		case <-ctx.Done():
			return
		case err := <-readErr:
			if !errors.Is(err, io.EOF) {
				s.log.Debug("relay: control connection ends", "device", dev, "err", err)
			}
			return
		case <-tick.C:
			typ = msgPing
		case v := <-ctl.invites:
			typ, body = msgInvite, v.marshal()
			if v.punch {
				typ = msgInvitePunch
			}
		}
		tc.SetWriteDeadline(time.Now().Add(s.o.HandshakeTimeout))
		if writeFrame(tc, typ, body) != nil {
			return
		}
	}
}

// serveConnect verifies an asker's ticket, invites the supplier and
// splices the two connections once it joins; for a punch, it tells each
// side the other's address instead and closes both.
func (s *Server) serveConnect(ctx context.Context, c net.Conn, ticket []byte, punch bool) {
	t, err := VerifyTicket(ticket, s.o.Directory, s.o.Now())
	if err != nil {
		code := CodeBadTicket
		if errors.Is(err, ErrExpiredTicket) {
			code = CodeExpired
		}
		s.m.refused(code.metric())
		s.log.Debug("relay: refusing a ticket", "addr", c.RemoteAddr(), "err", err)
		writeFrame(c, msgResult, resultBody(code, err.Error()))
		return
	}
	var key [keySize]byte
	rand.Read(key[:])
	ps := &pendingSession{joined: make(chan net.Conn, 1)}
	s.mu.Lock()
	ctl := s.suppliers[t.Supplier]
	code, why := s.admitLocked(t)
	if code == CodeOK && ctl == nil {
		code, why = CodeNoSupplier, "the supplier is not connected to this relay"
	}
	if code != CodeOK {
		s.mu.Unlock()
		s.m.refused(code.metric())
		writeFrame(c, msgResult, resultBody(code, why))
		return
	}
	s.pending[key] = ps
	s.sessions++
	s.usageLocked(t.Asker).sessions++
	s.usageLocked(t.Supplier).sessions++
	s.mu.Unlock()
	defer s.endSession(t, key)

	select {
	case ctl.invites <- invite{key: key, asker: t.Asker, addr: c.RemoteAddr().String(), punch: punch}:
	default:
		s.m.refused("busy")
		writeFrame(c, msgResult, resultBody(CodeBusy, "the supplier has too many invitations waiting"))
		return
	}
	// The asker's connection waits for the join, then gets the result.
	c.SetDeadline(time.Now().Add(s.o.JoinTimeout + s.o.HandshakeTimeout))
	timer := time.NewTimer(s.o.JoinTimeout)
	defer timer.Stop()
	var sc net.Conn
	select {
	case sc = <-ps.joined:
	case <-timer.C:
		s.m.refused("timeout")
		writeFrame(c, msgResult, resultBody(CodeTimeout, "the supplier did not join"))
		return
	case <-ctl.done:
		s.m.refused("no_supplier")
		writeFrame(c, msgResult, resultBody(CodeNoSupplier, "the supplier went away"))
		return
	case <-ctx.Done():
		return
	}
	defer sc.Close()
	if punch {
		// Both dial each other's address as seen here, at about the same
		// time: a NAT that keeps one public port per local port lets the
		// crossing connection attempts through (punch.go).
		s.m.punches.Add(1)
		writeFrame(sc, msgPunch, punchBody(punchDelay, c.RemoteAddr().String()))
		writeFrame(c, msgPunch, punchBody(punchDelay, sc.RemoteAddr().String()))
		return
	}
	if writeFrame(sc, msgResult, resultBody(CodeOK, "")) != nil || writeFrame(c, msgResult, resultBody(CodeOK, "")) != nil {
		return
	}
	c.SetDeadline(time.Time{})
	sc.SetDeadline(time.Time{})
	s.m.sessionsTotal.Add(1)
	s.m.sessions.Add(1)
	defer s.m.sessions.Add(-1)
	s.splice(ctx, t.Supplier, c, sc)
}

// admitLocked applies the session caps and the supplier's byte budget.
func (s *Server) admitLocked(t *Ticket) (Code, string) {
	if s.sessions >= s.o.MaxSessions {
		return CodeBusy, "too many sessions"
	}
	for _, d := range []identity.ID{t.Asker, t.Supplier} {
		if u := s.usage[d]; u != nil && u.sessions >= s.o.MaxSessionsPerDevice {
			return CodeBusy, "too many sessions for device " + d.Short()
		}
	}
	if u := s.usage[t.Supplier]; u != nil && s.windowLocked(u) && u.bytes >= s.o.BytesPerDevice {
		return CodeBusy, "the supplier's relayed bytes are used up for now"
	}
	return CodeOK, ""
}

// windowLocked starts a new byte window when the old one is over; it
// reports true (for use in conditions).
func (s *Server) windowLocked(u *usage) bool {
	if now := time.Now(); now.Sub(u.window) >= s.o.BytesWindow {
		u.window, u.bytes = now, 0
	}
	return true
}

func (s *Server) usageLocked(d identity.ID) *usage {
	u := s.usage[d]
	if u == nil {
		if len(s.usage) >= 4*s.o.MaxSessions+s.o.MaxSuppliers {
			for id, v := range s.usage { // forget idle devices whose window is over
				if v.sessions == 0 && time.Since(v.window) >= s.o.BytesWindow {
					delete(s.usage, id)
				}
			}
		}
		u = &usage{window: time.Now(), rate: newBucket(s.o.RatePerDevice)}
		s.usage[d] = u
	}
	return u
}

func (s *Server) endSession(t *Ticket, key [keySize]byte) {
	s.mu.Lock()
	delete(s.pending, key)
	s.sessions--
	s.usage[t.Asker].sessions--
	s.usage[t.Supplier].sessions--
	s.mu.Unlock()
}

// serveJoin hands a supplier's data connection to the asker waiting for it.
func (s *Server) serveJoin(c net.Conn, body []byte) {
	var key [keySize]byte
	if len(body) != keySize {
		s.m.refused("bad_request")
		writeFrame(c, msgResult, resultBody(CodeBadRequest, "bad session key"))
		return
	}
	copy(key[:], body)
	s.mu.Lock()
	ps := s.pending[key]
	delete(s.pending, key)
	s.mu.Unlock()
	if ps == nil {
		s.m.refused("unknown_join")
		writeFrame(c, msgResult, resultBody(CodeUnknownJoin, "no session waits for this key"))
		return
	}
	// The asker's goroutine owns the connection from here; this one waits
	// so the connection stays tracked until the session ends.
	done := make(chan struct{})
	ps.joined <- &joinedConn{Conn: c, done: done}
	<-done
}

// joinedConn tells serveJoin when the session is over.
type joinedConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (j *joinedConn) Close() error {
	err := j.Conn.Close()
	j.once.Do(func() { close(j.done) })
	return err
}
