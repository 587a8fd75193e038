package peer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/internal/oneline"
	"github.com/kith-media/kith/share/identity"
)

// ErrMisbehaving is wrapped by errors that prove a peer broke the protocol
// (wrong length, wrong bytes): the fetcher bans it. A wrong certificate
// at an address is not one: it proves only that the address is not the
// peer's (the dialer tries the peer's other addresses).
var ErrMisbehaving = errors.New("peer misbehaving")

// StatusError is a non-2xx answer from a peer.
type StatusError struct {
	Status     int
	Message    string
	RetryAfter time.Duration // from Retry-After on 503
	Slots      bool          // 503 with Kith-Busy: slots (BusyHeader)
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("peer answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Transport, if set, is used as is (tests); otherwise one is built with
	// mutual TLS pinned to the peer's ID, HTTP/2 (HTTP/1.1 for a peer
	// that offers only that, and through a relay).
	Transport http.RoundTripper
	// DialTimeout bounds connecting (default 5 s).
	DialTimeout time.Duration
	// ConnsPerPeer caps HTTP/1.1 connections to the peer (default 8);
	// HTTP/2 uses one.
	ConnsPerPeer int
	// Relay, if set, opens a stream to the peer through a relay (package
	// directory/relay): tried when no address completes a handshake, and
	// first while the last handshake was relayed or PreferRelay is set.
	// A stream with a method Direct() bool answering true is a direct
	// connection the relay only coordinated (a hole punch): a failure on
	// it is not blamed on the relay, and RetireRelayed leaves it alone.
	// The TLS over it is the same mutual TLS pinned to the peer.
	Relay func(ctx context.Context) (net.Conn, error)
	// PreferRelay tries the relay before the addresses (the directory
	// found the peer not reachable directly).
	PreferRelay bool
	Logger      *slog.Logger
	// Clock times how long an address that presented another device's
	// certificate, and a relay whose handshake failed, go last (nil: the
	// wall clock).
	Clock clock.Clock

	// Server is this device's peer server, if it runs one: the client then
	// offers the chunk wire both ways (WireProto2), so the peer's requests
	// to us come back over the connection we dialled, and requests to a
	// peer that dialled us with WireProto2 go over that connection rather
	// than a new one (one connection, one handshake, per pair).
	Server *Server

	// httpOnly offers only HTTP/2 and HTTP/1.1, as a client before the
	// chunk wire did (tests: interplay with such peers, and the
	// baseline of BenchmarkRequest).
	httpOnly bool
}

// Client talks to one peer device over mutual TLS, checking it presents
// the certificate of the expected device ID.
type Client struct {
	self  *identity.Identity
	peer  identity.ID
	addrs []string
	clk   clock.Clock
	hc    *http.Client
	tr    *http.Transport

	relay func(ctx context.Context) (net.Conn, error)
	srv   *Server // ClientOptions.Server

	// bulk carries chunk requests of a bulk download from the peer
	// (bulk.go); nil with ClientOptions.Transport.
	bulk *bulkLane

	// warm is set once a request got an answer (a connection is open, and
	// with HTTP/2 shared); until then requests go one at a time (first),
	// so a burst to a new peer opens one connection, not one each.
	warm  atomic.Bool
	first chan struct{} // holds one token

	handshakes atomic.Int64 // connections opened (Handshakes)
	yields     atomic.Int64 // dials given up for the peer's connection (Yields)
	havePolls  atomic.Int64 // Have polls sent (HavePolls)
	revoked    atomic.Bool  // Revoke was called: nothing more is sent
	// gone is cancelled by Revoke: a held Have poll in flight ends then
	// (HaveWait), not when the peer answers it up to MaxHaveWait later.
	gone    context.Context
	goneNow context.CancelFunc

	mu         sync.Mutex
	wrongAt    map[string]time.Time      // addresses that answered with another certificate, and when
	lastGood   string                    // the address of the last handshake with the peer (relayAddr: the relay)
	relayBad   time.Time                 // when a relayed handshake last failed (a relay that alters bytes)
	spliced    map[*relayedConn]struct{} // open connections through the relay's splice
	retires    int                       // RetireRelayed calls so far
	lastSplice bool                      // the last handshake went through the splice
	wires      map[*wireConn]struct{}    // open chunk-wire connections (chunkwire_client.go)
}

// relayAddr stands for the relay in dialOrder and lastGood.
const relayAddr = "(relay)"

// wrongAddrMemory is how long an address that presented another device's
// certificate is tried only after the others.
const wrongAddrMemory = 10 * time.Minute

// NewClient builds a client for device peer reachable at addrs (host:port,
// tried in order, every one of them: an address that answers with another
// device's certificate is skipped and blamed, not the peer, and tried
// last for a while). It does not connect. With no address and no relay,
// the client reaches the peer only over the peer's own WireProto2
// connection to o.Server (a crowd member that dialled us, whose addresses
// we were not told): once that is gone, requests fail with ErrNoAddress.
func NewClient(self *identity.Identity, peer identity.ID, addrs []string, o ClientOptions) (*Client, error) {
	if self == nil || peer == "" || len(addrs) == 0 && o.Relay == nil && o.Server == nil {
		return nil, errors.New("peer client: identity, peer ID and an address (or a relay, or a server the peer connects to) are required")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.ConnsPerPeer <= 0 {
		o.ConnsPerPeer = 8
	}
	c := &Client{self: self, peer: peer, addrs: append([]string(nil), addrs...), wrongAt: map[string]time.Time{}, relay: o.Relay, clk: clock.Or(o.Clock), srv: o.Server,
		spliced: map[*relayedConn]struct{}{}, first: make(chan struct{}, 1)}
	c.first <- struct{}{}
	c.gone, c.goneNow = context.WithCancel(context.Background())
	if o.Relay != nil && o.PreferRelay {
		c.lastGood = relayAddr
	}
	rt := o.Transport
	if rt == nil {
		cfg := self.ClientTLS(peer)
		// HTTP/2 first: every request to the peer is a stream of one
		// connection (one handshake per pair of devices, and a cancelled
		// request resets its stream instead of closing the connection).
		// A peer that speaks only HTTP/1.1 still gets it. Before both,
		// the chunk wire (chunkwire.go): the same requests in binary
		// frames, for a peer that offers it.
		cfg.NextProtos = []string{WireProto, "h2", "http/1.1"}
		if o.httpOnly {
			cfg.NextProtos = cfg.NextProtos[1:]
		}
		// Resumed sessions skip the certificates and signatures: reconnecting
		// after an idle connection closed stays cheap.
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
		// Full-size TLS records from the first byte: what this end sends
		// on a both-ways connection is chunks too (see Server.TLSConfig).
		cfg.DynamicRecordSizingDisabled = true
		// Through a relay (its splice, or a connection it helped punch),
		// HTTP/1.1 as before: spliced connections are wrapped (a record
		// that fails to decrypt blames the relay; RetireRelayed closes
		// them one by one), which the transport does not see as TLS.
		relayCfg := cfg.Clone()
		relayCfg.NextProtos = []string{"http/1.1"}
		d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
		protos := new(http.Protocols)
		protos.SetHTTP1(true)
		protos.SetHTTP2(true)
		// Both ways (WireProto2) while our server runs to answer the
		// peer's requests on the connection.
		both := cfg.Clone()
		if !o.httpOnly && o.Server != nil {
			both.NextProtos = append([]string{WireProto2}, cfg.NextProtos...)
		}
		c.tr = peerTransport(protos, o.ConnsPerPeer, func(ctx context.Context, _, _ string) (net.Conn, error) {
			if c.srv.serving() != nil {
				return c.dial(ctx, d, both, relayCfg)
			}
			return c.dial(ctx, d, cfg, relayCfg)
		})
		c.tr.HTTP2 = &http.HTTP2Config{
			// Requests beyond the peer's stream limit wait for a
			// stream rather than open another connection.
			StrictMaxConcurrentRequests: true,
			// A connection that went silent (a peer that vanished) is
			// found by a ping and closed, failing its streams.
			SendPingTimeout: 15 * time.Second,
			PingTimeout:     10 * time.Second,
			// Bounds on what one peer can make us buffer.
			MaxReceiveBufferPerStream:     1 << 20,
			MaxReceiveBufferPerConnection: 4<<20 - 1,
			// A chunk answer arrives as one DATA frame, not sixteen:
			// net/http's client otherwise advertises HTTP/2's 16 KiB
			// minimum, and the server then writes every 16 KiB from
			// its own goroutine after a round trip through its serve
			// loop (issue 10). Bounds the one read buffer a
			// connection keeps.
			MaxReadFrameSize: maxFrame,
		}
		c.tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{WireProto: c.wireProto, WireProto2: c.wireProto}
		rt = c.tr
		c.bulk = newBulkLane(c, d, relayCfg, o.ConnsPerPeer)
	}
	c.hc = &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// dial connects to the first of the peer's addresses that completes a
// handshake as the peer. A wrong certificate at one address proves
// nothing about the peer (anyone on the LAN can announce an address under
// its name), so it is not ErrMisbehaving: the address is remembered and
// tried last, and the next address is tried.
func (c *Client) dial(ctx context.Context, d *net.Dialer, cfg, relayCfg *tls.Config) (net.Conn, error) {
	var errs []error
	yield := slices.Contains(cfg.NextProtos, WireProto2)
	for _, a := range c.dialOrder() {
		if yield && c.peerDialled() {
			c.yields.Add(1)
			return nil, errPeerDialled
		}
		var raw net.Conn
		var err error
		var retires int
		if a == relayAddr {
			c.mu.Lock()
			retires = c.retires
			c.mu.Unlock()
			raw, err = c.relay(ctx)
		} else {
			raw, err = d.DialContext(ctx, "tcp", a)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if a != relayAddr {
			// The peer's requests on a WireProto2 connection are
			// answered from this end: their records gather into one
			// write as an accepted connection's do (corkConn).
			raw = &corkConn{Conn: raw}
		}
		var tc *tls.Conn
		var pd *pairDial
		if a == relayAddr {
			tc = tls.Client(raw, relayCfg)
		} else {
			if yield {
				pd = c.watchPeer(raw)
				tc = tls.Client(raw, c.yieldingConfig(cfg, pd))
			} else {
				tc = tls.Client(raw, cfg)
			}
		}
		err = tc.HandshakeContext(ctx)
		if testHookDialHandshakeDone != nil && pd != nil {
			testHookDialHandshakeDone(c, tc.ConnectionState(), pd)
		}
		if pd.done() {
			raw.Close()
			c.yields.Add(1)
			return nil, errPeerDialled
		}
		if err != nil {
			raw.Close()
			if a == relayAddr {
				// Through a relay, a failed handshake proves nothing
				// about the peer: the relay may have altered the bytes.
				// The relay goes last for a while.
				c.mu.Lock()
				c.relayBad = c.clk.Now()
				c.mu.Unlock()
				errs = append(errs, fmt.Errorf("%w: through the relay: %w", ErrRelay, err))
				continue
			}
			if errors.Is(err, identity.ErrWrongPeer) {
				c.mu.Lock()
				c.wrongAt[a] = c.clk.Now()
				c.mu.Unlock()
				err = fmt.Errorf("address %s is not %s: %w", a, c.peer.Short(), err)
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		c.handshakes.Add(1)
		c.mu.Lock()
		delete(c.wrongAt, a)
		c.lastGood = a
		c.lastSplice = false
		if a != relayAddr {
			c.mu.Unlock()
			return tc, nil
		}
		if d, ok := raw.(interface{ Direct() bool }); ok && d.Direct() {
			c.mu.Unlock()
			return tc, nil
		}
		rc := &relayedConn{Conn: tc, c: c}
		c.spliced[rc] = struct{}{}
		c.lastSplice = true
		late := c.retires != retires // dialled before a RetireRelayed, done after it
		c.mu.Unlock()
		if late {
			rc.retire()
		}
		return rc, nil
	}
	if len(errs) == 0 { // no address to try (NewClient: only the peer's connection to us)
		return nil, fmt.Errorf("connecting to %s: %w", c.peer.Short(), ErrNoAddress)
	}
	return nil, fmt.Errorf("connecting to %s: %w", c.peer.Short(), errors.Join(errs...))
}

// ErrNoAddress is wrapped by the error of a request to a peer we know no
// address of (NewClient with none) once its connection to us is gone.
var ErrNoAddress = errors.New("no address known for the peer, and its connection to us is gone")

// dialOrder is the addresses to try: the last one that worked, the rest in
// order, and those that lately presented another certificate last.
func (c *Client) dialOrder() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	var first, rest, wrong []string
	addrs := c.addrs
	if c.relay != nil {
		addrs = append(addrs[:len(addrs):len(addrs)], relayAddr)
	}
	for _, a := range addrs {
		switch at, bad := c.wrongAt[a]; {
		case a == relayAddr && !c.relayBad.IsZero() && now.Sub(c.relayBad) < relayBadMemory:
			wrong = append(wrong, a)
		case bad && now.Sub(at) < wrongAddrMemory:
			wrong = append(wrong, a)
		case a == c.lastGood:
			first = append(first, a)
		default:
			rest = append(rest, a)
		}
	}
	return append(append(first, rest...), wrong...)
}

// Relayed reports whether the last connection to the peer went through
// the relay's splice (not a direct connection the relay coordinated).
func (c *Client) Relayed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastGood == relayAddr && c.lastSplice
}

// Spliced is how many connections to the peer are open through the
// relay's splice.
func (c *Client) Spliced() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.spliced)
}

// Handshakes is how many connections to the peer the client has opened
// (handshakes completed as the peer, over either lane, directly or
// through a relay). Each costs both devices a mutual TLS handshake, the
// largest cost per pair in a crowd of small titles.
func (c *Client) Handshakes() int64 { return c.handshakes.Load() }

// ID is the peer's device ID.
func (c *Client) ID() identity.ID { return c.peer }

// Addrs are the peer's addresses.
func (c *Client) Addrs() []string { return append([]string(nil), c.addrs...) }

// Close drops idle connections.
func (c *Client) Close() {
	if c.tr != nil {
		c.tr.CloseIdleConnections()
	}
	if c.bulk != nil {
		c.bulk.tr.CloseIdleConnections()
	}
	c.mu.Lock()
	wires := make([]*wireConn, 0, len(c.wires))
	for wc := range c.wires {
		wires = append(wires, wc)
	}
	c.mu.Unlock()
	for _, wc := range wires {
		wc.closeIdle()
	}
}

// ErrRevoked is wrapped by the error of every request a Client sends
// after Revoke.
var ErrRevoked = errors.New("the directory no longer vouches for this device (revoked, or no longer enrolled)")

// Revoke tells the client its owner learnt the directory no longer
// vouches for the peer: every later request fails at once with
// ErrRevoked, so nothing more is sent to it (it would learn what we
// fetch), and a running download that holds the client as a source drops
// it as one that refused us. A held Have poll in flight ends at once with
// ErrRevoked; other requests in flight end as they would; idle
// connections are closed.
func (c *Client) Revoke() {
	c.revoked.Store(true)
	c.goneNow()
	c.Close()
}

// roundTrip sends req. Until a request has been answered, requests wait
// for each other: the first opens the connection (an HTTP/2 one carries
// every later request), the rest then find it instead of dialling their
// own. A failure lets the next request try again on its own.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	if !c.warm.Load() && c.srv != nil {
		// The peer dialled us and speaks the wire both ways: no dial.
		if resp, sent, err := c.onWire(req); sent {
			return resp, err
		}
	}
	if c.warm.Load() {
		return c.warmTrip(req)
	}
	select {
	case <-c.first:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	defer func() { c.first <- struct{}{} }()
	if c.warm.Load() {
		// The request this one waited for opened the connection: this
		// one goes the way warm requests do. The transport lists a new
		// chunk-wire connection among those it reuses only after the
		// dialling request was handed it, which can be after that
		// request's answer came (see onWire): a waiter sent straight to
		// the transport could dial a second connection
		// (TestOneConnectionPerPeer, once in a CI run).
		return c.warmTrip(req)
	}
	resp, err := c.dialled(req)
	if err == nil {
		c.warm.Store(true)
	}
	return resp, err
}

// warmTrip sends req once a request has been answered: on an open
// chunk-wire connection if there is one, else through the transport. A
// failure that is not req's own cancellation makes the next request wait
// for a dial again.
func (c *Client) warmTrip(req *http.Request) (*http.Response, error) {
	resp, sent, err := c.onWire(req)
	if !sent {
		resp, err = c.dialled(req)
	}
	if err != nil && req.Context().Err() == nil {
		c.warm.Store(false)
	}
	return resp, err
}

// dialled sends req through the transport, which dials if it has no
// connection; a dial that gave way to the peer's own connection (see
// errPeerDialled) sends it over that connection instead.
func (c *Client) dialled(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err == nil || !errors.Is(err, errPeerDialled) {
		return resp, err
	}
	// Nothing of req was sent; its body (if any) was closed.
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, err
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	if resp, sent, err := c.onWire(req); sent {
		return resp, err
	}
	// The peer's connection closed meanwhile: dial as usual.
	return c.hc.Do(req)
}

// get performs a GET and returns the response if 2xx.
func (c *Client) get(ctx context.Context, path string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://kith-peer"+path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	return c.do(req)
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	return c.doVia(req, c.roundTrip)
}

// doVia is do with the round trip rt (the pair's connection, or the bulk
// lane's).
func (c *Client) doVia(req *http.Request, rt func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if c.revoked.Load() {
		return nil, fmt.Errorf("asking %s: %w", c.peer.Short(), ErrRevoked)
	}
	// Which relayed connection carries the request (for RetireRelayed);
	// a request the transport retries gets another connection. A client
	// without a relay has no relayed connection to follow, and skips the
	// trace (a context, a request copy and the hooks' calls per request).
	var on *relayedConn
	if c.relay != nil {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if on != nil {
				on.end()
			}
			on, _ = i.Conn.(*relayedConn)
			if on != nil {
				on.begin()
			}
		}}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	resp, err := rt(req)
	if err != nil {
		if on != nil {
			on.end()
		}
		return nil, err
	}
	if on != nil {
		resp.Body = &requestBody{ReadCloser: resp.Body, end: on.end}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		// The message is the peer's words, shown in the app's status line, a
		// log and kithctl's fetch lines: one plain line (no terminal escape,
		// line break or U+202E from a hostile peer), as a directory's is.
		se := &StatusError{Status: resp.StatusCode, Message: oneline.Text(string(msg), oneline.MaxMessage)}
		if ms, err := strconv.Atoi(resp.Header.Get(RetryAfterMsHeader)); err == nil && ms >= 0 {
			se.RetryAfter = time.Duration(ms) * time.Millisecond
		} else if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			se.RetryAfter = time.Duration(s) * time.Second
		}
		se.Slots = resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(BusyHeader) == "slots"
		if resp.StatusCode/100 == 4 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			var de directory.Error
			if json.Unmarshal(msg, &de) == nil && de.Code != "" {
				de.Status = resp.StatusCode
				return nil, &de
			}
		}
		return nil, se
	}
	return resp, nil
}

// AwaitPeer waits until the peer has dialled our server (ClientOptions.Server)
// with the wire both ways, so requests to it need no connection of their
// own, or until d passes or ctx ends; it reports whether the peer's
// connection is there. A client without a server does not wait.
func (c *Client) AwaitPeer(ctx context.Context, d time.Duration) bool {
	if c.srv == nil || c.srv.serving() == nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		added := c.srv.wireAdded()
		if len(c.srv.wiresFrom(c.peer)) > 0 {
			return true
		}
		select {
		case <-added:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}
