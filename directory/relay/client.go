package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// Dial connects to the supplier named in ticket through the relay at addr
// and returns the spliced stream, over which the caller runs its own TLS
// with the supplier. A refusal is a *RefusedError.
func Dial(ctx context.Context, addr string, ticket []byte) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", addr, err)
	}
	if err := preamble(ctx, c, msgConnect, ticket); err != nil {
		c.Close()
		return nil, fmt.Errorf("relay %s: %w", addr, err)
	}
	return c, nil
}

// preamble sends magic and one message on a data connection and reads the
// relay's result. The result is read byte-exact, so nothing of the spliced
// stream that follows is consumed.
func preamble(ctx context.Context, c net.Conn, typ byte, body []byte) error {
	dl := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var b bytes.Buffer
	b.WriteString(magic)
	if err := writeFrame(&b, typ, body); err != nil {
		return err
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		return err
	}
	rt, rb, err := readFrame(c)
	if err != nil {
		return fmt.Errorf("reading the relay's answer: %w", err)
	}
	if rt != msgResult {
		return fmt.Errorf("%w: type %d instead of a result", errFrame, rt)
	}
	if err := parseResult(rb); err != nil {
		return err
	}
	if !stop() {
		return ctx.Err()
	}
	c.SetDeadline(time.Time{})
	return nil
}

// ListenerOptions configure a supplier's Listener.
type ListenerOptions struct {
	Identity *identity.Identity // the supplier's device key (required)
	Addr     string             // the relay's host:port (required)
	RelayID  identity.ID        // the relay's device ID, pinned (required)
	// PingInterval is how often the relay is expected to ping; three
	// missed pings end the control connection (default 30 s, as the relay's).
	PingInterval time.Duration
	// OnConnected, if set, is told when the control connection comes up
	// (true) and when it is lost (false); it must not block.
	OnConnected func(up bool)
	Logger      *slog.Logger
}

// Listener is a supplier's presence at a relay: Serve keeps a mutual-TLS
// control connection (reconnecting with backoff) and turns each
// invitation into a data connection that Accept returns, so a peer
// server serves relayed askers exactly as direct ones.
type Listener struct {
	o      ListenerOptions
	log    *slog.Logger
	conns  chan net.Conn
	joins  chan struct{} // invitations being answered (at most maxJoins)
	closed chan struct{}
	once   sync.Once

	mu        sync.Mutex
	connected bool
}

// maxJoins bounds the invitations a supplier answers at once (each is a
// connection to the relay, or a hole punch).
const maxJoins = 32

// NewListener checks the options; Serve connects.
func NewListener(o ListenerOptions) (*Listener, error) {
	if o.Identity == nil || o.Addr == "" || !o.RelayID.Valid() {
		return nil, errors.New("relay listener: Identity, Addr and RelayID are required")
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Listener{o: o, log: o.Logger, conns: make(chan net.Conn), joins: make(chan struct{}, maxJoins), closed: make(chan struct{})}, nil
}

// Accept returns the next relayed connection. Its RemoteAddr is the
// asker's address as the relay saw it.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept (Serve ends with its context).
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the relay's address.
func (l *Listener) Addr() net.Addr { return relayAddr(l.o.Addr) }

type relayAddr string

func (a relayAddr) Network() string { return "kith-relay" }
func (a relayAddr) String() string  { return string(a) }

// Connected reports whether the control connection is up.
func (l *Listener) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

// Serve keeps the control connection until ctx is cancelled or the
// listener is closed; a lost connection is retried after 1 s, doubling to 30 s.
func (l *Listener) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := time.Second
	for {
		start := time.Now()
		err := l.control(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		l.log.Warn("relay: control connection lost; retrying", "relay", l.o.Addr, "err", err, "in", backoff)
		t := time.NewTimer(backoff + rand.N(backoff/4+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// control runs one control connection.
func (l *Listener) control(ctx context.Context) error {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", l.o.Addr)
	if err != nil {
		return err
	}
	tc := tls.Client(raw, l.o.Identity.ClientTLS(l.o.RelayID))
	defer tc.Close()
	stop := context.AfterFunc(ctx, func() { tc.Close() })
	defer stop()
	tc.SetDeadline(time.Now().Add(15 * time.Second))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("relay handshake: %w", err)
	}
	typ, body, err := readFrame(tc)
	if err != nil {
		return fmt.Errorf("relay registration: %w", err)
	}
	if typ != msgResult {
		return fmt.Errorf("relay registration: %w: type %d", errFrame, typ)
	}
	if err := parseResult(body); err != nil {
		return fmt.Errorf("relay registration: %w", err)
	}
	tc.SetDeadline(time.Time{})
	l.setConnected(true)
	defer l.setConnected(false)
	l.log.Info("relay: connected", "relay", l.o.Addr)
	var wmu sync.Mutex
	for {
		tc.SetReadDeadline(time.Now().Add(3 * l.o.PingInterval))
		typ, body, err := readFrame(tc)
		if err != nil {
			return err
		}
		switch typ {
		case msgPing:
			wmu.Lock()
			tc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			err = writeFrame(tc, msgPong, nil)
			wmu.Unlock()
			if err != nil {
				return err
			}
		case msgInvite, msgInvitePunch:
			v, err := parseInvite(body)
			if err != nil {
				return err
			}
			// A relay's invitations are bounded like anything from the
			// network: beyond maxJoins at once they are dropped (the
			// asker's wait times out at the relay).
			select {
			case l.joins <- struct{}{}:
			default:
				l.log.Warn("relay: too many invitations at once; dropping one", "asker", v.asker)
				continue
			}
			go func() {
				defer func() { <-l.joins }()
				if typ == msgInvitePunch {
					l.punch(ctx, v)
				} else {
					l.join(ctx, v)
				}
			}()
		case msgPong:
		default:
			return fmt.Errorf("%w: type %d on a control connection", errFrame, typ)
		}
	}
}

func (l *Listener) setConnected(v bool) {
	l.mu.Lock()
	l.connected = v
	l.mu.Unlock()
	if l.o.OnConnected != nil {
		l.o.OnConnected(v)
	}
}

// join opens the data connection of one invitation and hands it to Accept.
func (l *Listener) join(ctx context.Context, v *invite) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.o.Addr)
	if err != nil {
		l.log.Warn("relay: joining a session", "asker", v.asker, "err", err)
		return
	}
	if err := preamble(ctx, c, msgJoin, v.key[:]); err != nil {
		c.Close()
		l.log.Warn("relay: joining a session", "asker", v.asker, "err", err)
		return
	}
	l.deliver(ctx, &Conn{Conn: c, Asker: v.asker, remote: relayAddr(v.addr)})
}

// deliver hands a connection to Accept.
func (l *Listener) deliver(ctx context.Context, rc *Conn) {
	c := rc.Conn
	select {
	case l.conns <- rc:
	case <-ctx.Done():
		c.Close()
	case <-l.closed:
		c.Close()
	}
}

// Conn is a relayed connection as a supplier's Listener accepts it.
type Conn struct {
	net.Conn
	// Asker is the device the directory's ticket was issued to; the TLS
	// handshake over the connection proves who is really there.
	Asker identity.ID
	// Punched is true for a direct connection the relay only coordinated
	// (hole punching), false for one it splices.
	Punched bool
	remote  net.Addr
}

// RemoteAddr is the asker's address as the relay saw it, so per-address
// limits apply per asker, not to the relay.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote.String() == "" {
		return c.Conn.RemoteAddr()
	}
	if ap, err := netip.ParseAddrPort(c.remote.String()); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return c.remote
}
