package install

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tlsHandshake is the first byte of every TLS connection: the content type
// of the record carrying the ClientHello.
const tlsHandshake = 0x16

// Defaults for DemuxOptions.
const (
	DefaultPeekTimeout = 5 * time.Second // a connection silent this long is closed unrouted
	DefaultMaxPending  = 512             // connections waiting for their first byte at once
)

// DemuxOptions tune a Demux.
type DemuxOptions struct {
	// PeekTimeout bounds the wait for a connection's first byte; default
	// DefaultPeekTimeout.
	PeekTimeout time.Duration
	// MaxPending is how many connections may wait for their first byte at
	// once; connections beyond it are closed at once rather than queued, so
	// silent connections cannot stall the others. Default DefaultMaxPending.
	MaxPending int
	Logger     *slog.Logger
}

// Demux splits one listening socket in two by the first byte each client
// sends: TLS connections (0x16) go to TLS(), everything else to Plain().
// Both sides hand out the raw connection with the peeked byte put back, so
// the TLS side is wrapped by its server (http.Server.ServeTLS) as usual.
//
// The first byte is read on a goroutine per connection, under PeekTimeout,
// never in the accept loop: a client that connects and says nothing holds
// only its own goroutine.
type Demux struct {
	ln    net.Listener
	o     DemuxOptions
	log   *slog.Logger
	tls   *side
	plain *side
	sem   chan struct{}

	mu      sync.Mutex
	peeking map[net.Conn]struct{} // connections waiting for their first byte
	stopped bool                  // Serve is returning: peeks are cut short

	stop   chan struct{} // closed when Serve returns: queued connections are dropped
	failed chan struct{} // closed when the listener failed: Accept returns err
	err    error         // why the listener failed; set before failed is closed
	once   sync.Once
}

// NewDemux wraps ln; Serve runs the accept loop.
func NewDemux(ln net.Listener, o DemuxOptions) *Demux {
	if o.PeekTimeout <= 0 {
		o.PeekTimeout = DefaultPeekTimeout
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := &Demux{ln: ln, o: o, log: o.Logger, sem: make(chan struct{}, o.MaxPending),
		stop: make(chan struct{}), failed: make(chan struct{}), peeking: map[net.Conn]struct{}{}}
	d.tls = &side{d: d, name: "tls", ch: make(chan net.Conn), closed: make(chan struct{})}
	d.plain = &side{d: d, name: "plain", ch: make(chan net.Conn), closed: make(chan struct{})}
	return d
}

// TLS is the listener of connections that start a TLS handshake.
func (d *Demux) TLS() net.Listener { return d.tls }

// Plain is the listener of every other connection (plain HTTP from a
// browser, or garbage, which its server answers with 400).
func (d *Demux) Plain() net.Listener { return d.plain }

// Addr is the shared listening address.
func (d *Demux) Addr() net.Addr { return d.ln.Addr() }

// Serve accepts connections and routes them until ctx is cancelled (then
// it closes the listener and returns nil) or the listener fails (then both
// sides' Accept return the error too). After a cancelled ctx the sides'
// Accept block until each side is closed (http.Server.Shutdown closes its
// listener), so the servers on them see their own shutdown first.
func (d *Demux) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		close(d.stop)
		d.mu.Lock()
		d.stopped = true
		for c := range d.peeking {
			c.SetReadDeadline(time.Now()) // unblocks the peek; route closes c
		}
		d.mu.Unlock()
		wg.Wait()
	}()
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		select {
		case <-ctx.Done():
			d.ln.Close()
		case <-quit:
		}
	}()
	var delay time.Duration
	for {
		c, err := d.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of file descriptors and the like: wait and retry, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				d.log.Warn("install: accepting", "err", err, "retry", delay)
				select {
				case <-time.After(delay):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			d.once.Do(func() {
				d.err = fmt.Errorf("demux: accepting: %w", err)
				close(d.failed)
			})
			d.ln.Close()
			return d.err
		}
		delay = 0
		select {
		case d.sem <- struct{}{}:
		default:
			d.log.Debug("install: too many silent connections, closing one", "remote", c.RemoteAddr())
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.route(c)
		}()
	}
}

// route reads c's first byte and hands c to its side.
func (d *Demux) route(c net.Conn) {
	var b [1]byte
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		<-d.sem
		c.Close()
		return
	}
	d.peeking[c] = struct{}{}
	c.SetReadDeadline(time.Now().Add(d.o.PeekTimeout))
	d.mu.Unlock()
	_, err := c.Read(b[:])
	d.mu.Lock()
	delete(d.peeking, c)
	if !d.stopped {
		c.SetReadDeadline(time.Time{})
	}
	d.mu.Unlock()
	<-d.sem
	if err != nil {
		d.log.Debug("install: connection closed before its first byte", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	s := d.plain
	if b[0] == tlsHandshake {
		s = d.tls
	}
	sc := &sniffedConn{Conn: c, first: b[0], pending: true}
	select {
	case s.ch <- sc:
	case <-s.closed:
		c.Close()
	case <-d.stop:
		c.Close()
	}
}

// side is one of a Demux's two listeners.
type side struct {
	d      *Demux
	name   string
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (s *side) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	case <-s.d.failed:
		return nil, s.d.err
	}
}

// Close stops this side; connections routed to it afterwards are closed.
// The shared listener stays open (Serve owns it).
func (s *side) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *side) Addr() net.Addr { return s.d.ln.Addr() }

// sniffedConn is a connection whose first byte was read by the Demux and is
// given back by the first Read.
type sniffedConn struct {
	net.Conn
	first   byte
	pending bool // first not yet returned; only Read touches it (readers are not concurrent)
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		p[0] = c.first
		c.pending = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes a TCP connection, as net/http does after an error
// so the client reads the answer before the connection goes.
func (c *sniffedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
