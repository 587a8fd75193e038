package directory

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connTransport is the directory client's HTTP/1.1 transport: each request
// runs on its caller's goroutine, which writes it on an idle connection (or
// a new one) and reads the answer from it. net/http's Transport gives every
// connection a reading and a writing goroutine and hands each request and
// answer between them and the caller over channels: a lookup's small
// request and answer then paid for three goroutine hand-offs and their
// scheduling, more CPU than writing and reading the bytes. The protocol on
// the wire is the same HTTP/1.1 over TLS 1.3, with keep-alive.
//
// What it keeps of net/http's Transport: at most maxConns connections per
// host (a request waits for one when all are busy), idle connections closed
// after idleTimeout, the TLS handshake bounded by handshakeTimeout, a
// request's context cancelling it at any point (the connection is then
// closed), and a request that failed on a reused connection before any of
// its answer arrived retried once on a new one when it is safe to send
// again (isReplayable: GET, HEAD, OPTIONS or DELETE with a rewindable body);
// a signed one is left to the client to sign anew (unansweredError).
// An idle connection the directory closed is noticed when it is next taken
// (connAlive, where the platform allows it) and dropped. Informational (1xx)
// answers before the final one are read past.
type connTransport struct {
	cfg              *tls.Config // the client's pinned configuration (ServerName set per host)
	maxConns         int
	idleTimeout      time.Duration
	handshakeTimeout time.Duration
	dialAfter        time.Duration // how long a request waits for a busy connection before opening one
	dialer           net.Dialer

	mu      sync.Mutex
	hosts   map[string]*hostConns
	janitor *time.Timer // closes expired idle connections; nil when not armed
}

// hostConns are one host's connections.
type hostConns struct {
	cfg     *tls.Config
	idle    []*clientConn // most recently used last
	open    int           // connections open or being dialled
	short   int           // connections serving a short request (soon free)
	waiters []waiter
}

// waiter is a request waiting for a connection.
type waiter struct {
	ch   chan *clientConn // nil sent: a turn to dial (a connection closed)
	long bool
}

// clientConn is one keep-alive connection.
type clientConn struct {
	t      *connTransport
	key    string
	tc     *tls.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	short  bool // serving a short request (counted in hostConns.short)
}

// mark counts cc as serving a request (long or not); unmark as free. With t.mu.
func (h *hostConns) mark(cc *clientConn, long bool) {
	cc.short = !long
	if cc.short {
		h.short++
	}
}

func (h *hostConns) unmark(cc *clientConn) {
	if cc.short {
		h.short--
		cc.short = false
	}
}

// longRequest: a request that may hold its connection for long (an origin
// read streams ciphertext for as long as its reader takes; a big body), so
// another does not wait for it.
func longRequest(req *http.Request) bool {
	return strings.HasPrefix(req.URL.Path, "/v1/content/") || req.ContentLength > 64<<10 ||
		req.ContentLength < 0 && req.Body != nil && req.Body != http.NoBody
}

func newConnTransport(cfg *tls.Config, maxConns int, idleTimeout, handshakeTimeout, dialAfter time.Duration) *connTransport {
	return &connTransport{cfg: cfg, maxConns: maxConns, idleTimeout: idleTimeout, handshakeTimeout: handshakeTimeout, dialAfter: dialAfter,
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, hosts: map[string]*hostConns{}}
}

// aLongTimeAgo is a deadline that makes a blocked read or write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip implements http.RoundTripper.
func (t *connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "https" || req.URL.Host == "" {
		closeBody(req)
		return nil, fmt.Errorf("directory transport: %v: only https URLs", req.URL)
	}
	key := req.URL.Host
	if req.URL.Port() == "" {
		key = net.JoinHostPort(req.URL.Hostname(), "443")
	}
	ctx := req.Context()
	for retried := false; ; retried = true {
		cc, reused, err := t.conn(ctx, key, req.URL.Hostname(), longRequest(req))
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err, answered := cc.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		cc.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !reused || answered || retried || !isReplayable(req) {
			return nil, err
		}
		if req.Header.Get(HeaderSignature) != "" {
			// Sent again as it is, a signed request the directory did
			// receive would be refused as a replay (401): the caller signs
			// it anew and sends it again (Client.do).
			return nil, &unansweredError{err}
		}
		if req.GetBody != nil { // the failed write consumed the body
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r2 := *req
			r2.Body = body
			req = &r2
		}
	}
}

// unansweredError is RoundTrip's error for a signed request that failed on
// a reused connection before any of its answer came and could otherwise
// have been sent again: Client.do signs it anew and sends it once more.
type unansweredError struct{ err error }

func (e *unansweredError) Error() string { return e.err.Error() }
func (e *unansweredError) Unwrap() error { return e.err }

// isReplayable: the request may be sent again after a connection failed
// before answering it (as net/http's Transport decides).
func isReplayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
		return true
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// conn returns an idle connection to key (reused) or a new one. While all
// of key's connections are busy and some with a short request (or being
// dialled for one), a request waits up to dialAfter for one to come back
// before it opens another (and without limit once maxConns are open).
func (t *connTransport) conn(ctx context.Context, key, host string, long bool) (cc *clientConn, reused bool, err error) {
	waited := false
	for {
		t.mu.Lock()
		h := t.hosts[key]
		if h == nil {
			cfg := t.cfg.Clone()
			cfg.ServerName = host
			cfg.NextProtos = []string{"http/1.1"}
			h = &hostConns{cfg: cfg}
			t.hosts[key] = h
		}
		if n := len(h.idle); n > 0 {
			cc = h.idle[n-1]
			h.idle[n-1] = nil
			h.idle = h.idle[:n-1]
			h.mark(cc, long)
			t.mu.Unlock()
			if time.Since(cc.idleAt) < t.idleTimeout && connAlive(cc.tc) {
				return cc, true, nil
			}
			cc.close()
			continue
		}
		canDial := h.open < t.maxConns
		if canDial && (h.short == 0 || waited || t.dialAfter <= 0) {
			h.open++
			if !long { // counted from the dial: a short request arriving meanwhile waits for it
				h.short++
			}
			cfg := h.cfg
			t.mu.Unlock()
			cc, err = t.dial(ctx, key, cfg)
			if err != nil {
				t.closed(key, &clientConn{short: !long}) // undoes the counts above
				return nil, false, err
			}
			t.mu.Lock()
			cc.short = !long // already counted
			t.mu.Unlock()
			return cc, false, nil
		}
		w := waiter{ch: make(chan *clientConn, 1), long: long}
		h.waiters = append(h.waiters, w)
		t.mu.Unlock()
		var timeout <-chan time.Time
		var tm *time.Timer
		if canDial {
			tm = time.NewTimer(t.dialAfter)
			timeout = tm.C
		}
		var done error
		select {
		case cc = <-w.ch: // nil: a connection closed; try again (dial or idle)
		case <-timeout:
			waited = true
			cc, _ = t.leave(h, w) // a turn handed over as it left: taken next round
		case <-ctx.Done():
			// A connection or a turn to dial handed over as the context
			// ended goes to the next waiter: dropped, a request queued
			// behind could wait for its own context's end.
			if cc, handed := t.leave(h, w); cc != nil {
				cc.release()
			} else if handed {
				t.mu.Lock()
				h.wakeLocked()
				t.mu.Unlock()
			}
			done = ctx.Err()
		}
		if tm != nil {
			tm.Stop()
		}
		if done != nil {
			return nil, false, done
		}
		if cc != nil {
			return cc, true, nil
		}
	}
}

// leave takes waiter w off h's list; what was handed to it as it left is
// returned: a connection, or (nil, true) a turn to dial.
func (t *connTransport) leave(h *hostConns, w waiter) (*clientConn, bool) {
	t.mu.Lock()
	for i, x := range h.waiters {
		if x.ch == w.ch {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	select {
	case cc := <-w.ch:
		return cc, true
	default:
		return nil, false
	}
}

func (t *connTransport) dial(ctx context.Context, key string, cfg *tls.Config) (*clientConn, error) {
	hctx := ctx
	if t.handshakeTimeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, t.handshakeTimeout)
		defer cancel()
	}
	d := tls.Dialer{NetDialer: &t.dialer, Config: cfg}
	c, err := d.DialContext(hctx, "tcp", key)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", key, err)
	}
	tc := c.(*tls.Conn)
	return &clientConn{t: t, key: key, tc: tc, br: bufio.NewReaderSize(tc, 4<<10), bw: bufio.NewWriterSize(tc, 4<<10)}, nil
}

// closed counts a connection to key gone and lets a waiter dial instead.
func (t *connTransport) closed(key string, cc *clientConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[key]
	if cc != nil {
		h.unmark(cc)
	}
	h.open--
	h.wakeLocked()
}

// wakeLocked gives the first waiter, if any, a turn to dial (t.mu held).
func (h *hostConns) wakeLocked() {
	if len(h.waiters) > 0 {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		w.ch <- nil
	}
}

// release gives cc back: to a waiting request, or to the idle list.
func (cc *clientConn) release() {
	t := cc.t
	t.mu.Lock()
	h := t.hosts[cc.key]
	h.unmark(cc)
	if len(h.waiters) > 0 {
		w := h.waiters[0]
		h.waiters = h.waiters[1:]
		h.mark(cc, w.long)
		t.mu.Unlock()
		w.ch <- cc
		return
	}
	cc.idleAt = time.Now()
	h.idle = append(h.idle, cc)
	if t.janitor == nil {
		t.janitor = time.AfterFunc(t.idleTimeout, t.closeExpired)
	}
	t.mu.Unlock()
}

func (cc *clientConn) close() {
	cc.tc.Close()
	cc.t.closed(cc.key, cc)
}

// closeExpired closes the connections idle for idleTimeout, and runs again
// while any stay idle.
func (t *connTransport) closeExpired() {
	var expired []*clientConn
	t.mu.Lock()
	t.janitor = nil
	now, any := time.Now(), false
	for _, h := range t.hosts {
		keep := h.idle[:0]
		for _, cc := range h.idle {
			if now.Sub(cc.idleAt) >= t.idleTimeout {
				expired = append(expired, cc)
			} else {
				keep = append(keep, cc)
			}
		}
		clear(h.idle[len(keep):])
		h.idle = keep
		any = any || len(keep) > 0
	}
	if any {
		t.janitor = time.AfterFunc(t.idleTimeout/4, t.closeExpired)
	}
	t.mu.Unlock()
	for _, cc := range expired {
		cc.close()
	}
}

// CloseIdleConnections closes the idle connections (http.Client's method of
// the same name calls it).
func (t *connTransport) CloseIdleConnections() {
	var idle []*clientConn
	t.mu.Lock()
	for _, h := range t.hosts {
		idle = append(idle, h.idle...)
		clear(h.idle)
		h.idle = h.idle[:0]
	}
	t.mu.Unlock()
	for _, cc := range idle {
		cc.close()
	}
}

// roundTrip writes req and reads its answer's head; the body is read
// through the returned response, which gives the connection back once the
// body was read to its end and closed (or closes it otherwise). answered
// tells an error came after some of the answer did (no retry then).
func (cc *clientConn) roundTrip(req *http.Request) (resp *http.Response, err error, answered bool) {
	ctx := req.Context()
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = cc.tc.SetDeadline(aLongTimeAgo) })
	}
	if err := req.Write(cc.bw); err != nil {
		stop()
		return nil, err, false
	}
	if err := cc.bw.Flush(); err != nil {
		stop()
		return nil, err, false
	}
	// Nothing of the answer yet: an error here may be retried.
	if _, err := cc.br.Peek(1); err != nil {
		stop()
		return nil, err, false
	}
	// Informational answers (1xx, bodiless) before the final one are read
	// past, as net/http's Transport does (at most 5); the directory sends
	// none itself (the client never sends Expect: 100-continue), but every
	// HTTP/1.1 client must be able to. 101 would switch protocols: refused.
	for n1xx := 0; ; n1xx++ {
		resp, err = http.ReadResponse(cc.br, req)
		if err != nil {
			stop()
			return nil, err, true
		}
		if resp.StatusCode >= 200 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || n1xx == 5 {
			stop()
			return nil, fmt.Errorf("directory transport: unexpected informational answer %s", resp.Status), true
		}
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody || resp.ContentLength == 0 {
		if !stop() {
			cc.close()
		} else if keep {
			cc.release()
		} else {
			cc.close()
		}
		resp.Body = http.NoBody
		return resp, nil, true
	}
	resp.Body = &connBody{cc: cc, rc: resp.Body, stop: stop, keep: keep, ctx: ctx}
	return resp, nil, true
}

// connBody is an answer's body: its end gives the connection back.
type connBody struct {
	cc   *clientConn
	rc   io.ReadCloser
	stop func() bool
	ctx  context.Context
	keep bool

	// state: bodyOpen; bodyDone once a read reached the end or failed (that
	// read gave the connection back or closed it); bodyClosed once Close
	// came first (Close closes the connection). Exactly one of the two
	// happens.
	state atomic.Int32
	mu    sync.Mutex // held by a read in progress
	eof   bool
}

const (
	bodyOpen int32 = iota
	bodyDone
	bodyClosed
)

func (b *connBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state.Load() != bodyOpen {
		if b.eof {
			return 0, io.EOF
		}
		return 0, errors.New("directory transport: read on a closed body")
	}
	n, err := b.rc.Read(p)
	if err == nil {
		return n, nil
	}
	if err != io.EOF && b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	if b.state.CompareAndSwap(bodyOpen, bodyDone) {
		b.eof = err == io.EOF
		// the connection is given back after a whole body unless the
		// context fired or the answer closes it
		if b.stop() && b.eof && b.keep {
			b.cc.release()
		} else {
			b.cc.close()
		}
	}
	return n, err
}

// Close ends the body; before its end, the connection is closed (a read in
// progress returns at once).
func (b *connBody) Close() error {
	if !b.state.CompareAndSwap(bodyOpen, bodyClosed) {
		return nil
	}
	_ = b.cc.tc.SetReadDeadline(aLongTimeAgo) // unblocks a read in progress
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stop()
	b.cc.close()
	return nil
}
