package peer

// The server's side of the chunk wire (chunkwire.go): a connection on
// which a client chose WireProto, its requests served by the same
// handlers as HTTP's through a ResponseWriter of the wire, and the
// corking of an answer's TLS records into one write.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// serveWire serves one chunk-wire connection until the client closes it,
// it breaks the protocol, it is idle for IdleTimeout, or the server stops
// (ctx, which carries the connection's connPeer).
func (s *Server) serveWire(ctx context.Context, tc *tls.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc := &wireServerConn{s: s, tc: tc, cs: tc.ConnectionState(), remote: tc.RemoteAddr().String(), active: map[uint32]context.CancelFunc{},
		wmu: new(sync.Mutex), ctx: ctx}
	stop := context.AfterFunc(ctx, func() { tc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	br := bufio.NewReaderSize(tc, 4<<10)
	defer func() {
		// Requests in flight end with the connection (their answers
		// have nowhere to go).
		cancel()
		tc.Close()
		sc.wg.Wait()
	}()
	for {
		sc.mu.Lock()
		if len(sc.active) == 0 {
			tc.SetReadDeadline(time.Now().Add(s.o.IdleTimeout))
		}
		sc.mu.Unlock()
		q, err := readRequest(br)
		if err != nil {
			if errors.Is(err, errWireFrame) {
				s.log.Debug("peer: chunk wire: closing", "addr", sc.remote, "err", err)
			}
			return
		}
		tc.SetReadDeadline(time.Time{})
		if err := sc.accept(q); err != nil {
			s.log.Debug("peer: chunk wire: closing", "addr", sc.remote, "err", err)
			return
		}
	}
}

// serveBoth serves a connection on which the client chose WireProto2: its
// requests as serveWire does, and requests of ours to the client's device
// (the one whose certificate the handshake verified) by any Client whose
// ClientOptions.Server is s, until either end closes it, it breaks the
// protocol, it is idle both ways for IdleTimeout, or the server stops.
func (s *Server) serveBoth(ctx context.Context, tc *tls.Conn) {
	id, _, err := identity.PeerID(tc.ConnectionState())
	if err != nil {
		tc.Close()
		return
	}
	wc := newWireConn(tc, id, s.o.IdleTimeout)
	wc.serveBoth(s, ctx)
	wc.onClose = func(wc *wireConn) {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.wires[id], wc)
		if len(s.wires[id]) == 0 {
			delete(s.wires, id)
		}
	}
	s.mu.Lock()
	if s.wires == nil {
		s.wires = map[identity.ID]map[*wireConn]struct{}{}
	}
	if s.wires[id] == nil {
		s.wires[id] = map[*wireConn]struct{}{}
	}
	s.wires[id][wc] = struct{}{}
	if s.added != nil {
		close(s.added)
		s.added = nil
	}
	s.mu.Unlock()
	wc.start()
	wc.readLoop()
	wc.sc.wg.Wait()
}

// wiresFrom lists the WireProto2 connections device id dialled to us.
func (s *Server) wiresFrom(id identity.ID) []*wireConn {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*wireConn, 0, len(s.wires[id]))
	for wc := range s.wires[id] {
		out = append(out, wc)
	}
	return out
}

// wireServerConn is the server's side of one chunk-wire connection.
type wireServerConn struct {
	s      *Server
	tc     *tls.Conn
	cs     tls.ConnectionState
	remote string
	ctx    context.Context // the connection's: requests' contexts derive from it
	wc     *wireConn       // WireProto2: the connection's reader and our requests on it
	wg     sync.WaitGroup  // requests being served
	wmu    *sync.Mutex     // one frame at a time (shared with wc)
	mu     sync.Mutex
	active map[uint32]context.CancelFunc // requests being served, by tag
	n      atomic.Int32                  // len(active)
}

// accept starts serving a request frame, or cancels the request a cancel
// frame names; an error (a tag in use, more than maxStreams requests in
// flight) ends the connection.
func (sc *wireServerConn) accept(q *wireReq) error {
	sc.mu.Lock()
	if q.typ == wireCancel {
		if c := sc.active[q.tag]; c != nil {
			c()
		}
		sc.mu.Unlock()
		return nil
	}
	if _, dup := sc.active[q.tag]; dup || len(sc.active) >= maxStreams {
		sc.mu.Unlock()
		return wireErr("a request beyond the streams allowed, or a tag in use")
	}
	rctx, rcancel := context.WithCancel(sc.ctx)
	sc.active[q.tag] = rcancel
	sc.n.Store(int32(len(sc.active)))
	sc.mu.Unlock()
	if sc.wc != nil {
		sc.wc.served() // no read deadline while serving
	}
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		defer rcancel()
		sc.serve(rctx, q)
	}()
	return nil
}

// serve runs the mux on one request and sends its answer.
func (sc *wireServerConn) serve(ctx context.Context, q *wireReq) {
	ww := &wireWriter{sc: sc, tag: q.tag, h: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			sc.s.log.Error("peer: chunk wire: handler panicked", "path", q.path, "panic", p)
			ww.fail(http.StatusInternalServerError)
		}
		ww.finish()
	}()
	r, err := http.NewRequestWithContext(ctx, q.method, "https://kith-peer"+q.path, nil)
	if err != nil || r.URL.Host != "kith-peer" {
		ww.fail(http.StatusBadRequest)
		return
	}
	r.Header = q.header
	r.RequestURI = q.path
	r.RemoteAddr = sc.remote
	r.TLS = &sc.cs
	if len(q.body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(q.body))
		r.ContentLength = int64(len(q.body))
	}
	sc.s.mux.ServeHTTP(ww, r)
}

// done ends tag's request: from now the client may reuse its tag and
// stream.
func (sc *wireServerConn) done(tag uint32) {
	sc.mu.Lock()
	delete(sc.active, tag)
	sc.n.Store(int32(len(sc.active)))
	if len(sc.active) == 0 && sc.wc == nil {
		sc.tc.SetReadDeadline(time.Now().Add(sc.s.o.IdleTimeout))
	}
	sc.mu.Unlock()
}

// lock takes the connection for one answer frame, with the answer's
// write deadline (ServerOptions.WriteTimeout unless the handler set one).
func (sc *wireServerConn) lock(deadline time.Time) {
	if deadline.IsZero() {
		deadline = time.Now().Add(sc.s.o.WriteTimeout)
	}
	sc.wmu.Lock()
	sc.tc.SetWriteDeadline(deadline)
	if cc, ok := sc.tc.NetConn().(*corkConn); ok {
		cc.cork()
	}
}

// unlock sends what the frame's records gathered and frees the connection.
// On WireProto2 the connection's read deadline then follows what is in
// flight both ways (wireConn.served).
func (sc *wireServerConn) unlock() error {
	var err error
	if cc, ok := sc.tc.NetConn().(*corkConn); ok {
		if err = cc.uncork(); err != nil {
			sc.tc.Close()
		}
	}
	sc.wmu.Unlock()
	if sc.wc != nil {
		sc.wc.served()
	}
	return err
}

// write writes parts of a frame (the connection locked). A frame cut short
// (a reader that stopped reading, past the deadline) leaves nothing to say
// on the connection: it is closed, which ends its other requests too.
func (sc *wireServerConn) write(parts ...[]byte) error {
	for _, b := range parts {
		if len(b) == 0 {
			continue
		}
		if _, err := sc.tc.Write(b); err != nil {
			sc.tc.Close()
			return err
		}
	}
	return nil
}

// wireWriter is a handler's http.ResponseWriter on the chunk wire. An
// answer is one frame: a body whose Content-Length was set goes out as
// written (one Write of it all: a chunk, from the handler's buffer),
// but for its last TLS record's bytes, kept until the handler has
// returned; anything else is kept until then, up to maxWireBuffered. So an
// answer is complete at the client only once its handler is done (its
// upload slot released, its bytes counted), as over HTTP/2, where the
// stream ends when the handler returns.
type wireWriter struct {
	sc       *wireServerConn
	tag      uint32
	h        http.Header
	status   int
	buf      []byte // the body kept, or the tail of one written
	sent     bool   // the frame's head went out
	holding  bool   // the connection is ours until finish writes buf
	err      error
	deadline time.Time
}

func (w *wireWriter) Header() http.Header { return w.h }

func (w *wireWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 && code <= 999 {
		w.status = code
	}
}

// wireRecord is the most a TLS record carries: the tail a written body
// keeps back is what its last record would carry (a sealed chunk's 16
// bytes beyond 256 KiB), so it costs no record more.
const wireRecord = 16 << 10

func (w *wireWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.err != nil:
		return 0, w.err
	case w.sent:
		w.err = errors.New("chunk wire: write after the answer's declared length")
		return 0, w.err
	}
	if len(w.buf) == 0 && len(b) > 0 && len(b) <= maxWireBody && w.h.Get("Content-Length") == strconv.Itoa(len(b)) {
		w.h.Del("Content-Length") // the frame's length says it
		head, ok := answerHead(w.tag, w.status, w.h, len(b))
		if !ok {
			w.fail(http.StatusInternalServerError)
			return 0, errors.New("chunk wire: answer headers over the bounds")
		}
		k := len(b) % wireRecord
		if k == 0 {
			k = min(len(b), wireRecord)
		}
		w.sent = true
		w.sc.lock(w.deadline)
		if err := w.sc.write(head, b[:len(b)-k]); err != nil {
			w.sc.done(w.tag)
			w.sc.unlock()
			w.err = err
			return 0, err
		}
		w.holding = true
		w.buf = append(w.buf[:0], b[len(b)-k:]...)
		return len(b), nil
	}
	// A body over the bound, declared or written, is refused before its
	// bytes are taken: a handler counts what Write took as uploaded.
	if len(w.buf)+len(b) > maxWireBuffered || w.declared() > maxWireBuffered {
		w.fail(http.StatusInternalServerError)
		w.err = fmt.Errorf("chunk wire: answer over %d bytes", maxWireBuffered)
		return 0, w.err
	}
	w.buf = append(w.buf, b...)
	return len(b), nil
}

// declared is the body's Content-Length, 0 when none is set.
func (w *wireWriter) declared() int64 {
	n, _ := strconv.ParseInt(w.h.Get("Content-Length"), 10, 64)
	return n
}

// SetWriteDeadline bounds the answer's write (http.ResponseController).
func (w *wireWriter) SetWriteDeadline(t time.Time) error {
	w.deadline = t
	return nil
}

// fail replaces an answer whose head has not gone out by a bare status,
// sent when the handler returns; later writes are dropped.
func (w *wireWriter) fail(status int) {
	if w.sent {
		return
	}
	w.status = status
	w.h = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	w.buf = append(w.buf[:0], http.StatusText(status)...)
	w.err = errors.New("chunk wire: answer failed")
}

// finish completes the answer, once the handler has returned.
func (w *wireWriter) finish() {
	if w.holding {
		w.holding = false
		w.sc.done(w.tag)
		w.sc.write(w.buf)
		w.sc.unlock()
		return
	}
	if w.sent {
		return
	}
	if cl := w.h.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(w.buf)) {
		// The handler wrote another length than it declared (a copy
		// that failed midway): over HTTP the client sees the body end
		// short; here the frame's length would make it look whole.
		w.sc.s.log.Debug("peer: chunk wire: answer cut short", "declared", cl, "written", len(w.buf))
		w.fail(http.StatusInternalServerError)
	}
	w.sent = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.h.Del("Content-Length")
	head, ok := answerHead(w.tag, w.status, w.h, len(w.buf))
	if !ok {
		w.buf = []byte("answer headers over the bounds")
		head, _ = answerHead(w.tag, http.StatusInternalServerError, nil, len(w.buf))
	}
	w.sc.lock(w.deadline)
	w.sc.done(w.tag)
	w.sc.write(head, w.buf)
	w.sc.unlock()
}

// corkListener gives Serve's connections a corkConn under their TLS.
type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

// corkConn is a connection whose writes can be gathered (one Serve
// accepted, or one a Client dialled directly: on WireProto2 that end
// answers the peer's requests too; not one through a relay): while
// a chunk-wire answer is written (corked), its TLS records collect in a
// buffer and go to the socket in one write, not one per 16 KiB record.
// Uncorked (HTTP, handshakes) it writes through.
//
// Small answers (have, polls, refusals) are corked too, on purpose: the
// cork is flushed when the answer's frame is done (unlock), so it holds
// nothing back, and it sends the frame's head and body records in one
// write instead of two. BenchmarkRequest/have A/B, corking off for B,
// 3000 requests a run, two rounds alternated at load 25-27: 73-76 µs and
// 76-78 µs of CPU a request corked against 90-93 µs and 92-93 µs; strace
// of 2000: 4,088 write calls against 6,080 (the request's and the
// answer's: 2 against 3 a request).
//
// Reads are gathered the same way once a stream is running. crypto/tls
// reads the socket into an input buffer sized for a record or three, so a
// chunk arriving as 17 records cost its reader 9-17 reads. Once a read
// fills all that TLS asked for, more is likely waiting: the next read goes
// into a readAhead buffer (aheadArena), one socket read for what is
// waiting up to a chunk's records, and TLS is handed its bytes from
// there. A read that comes up short ends the run, so an idle connection
// blocks in a read of TLS's own buffer and holds no read-ahead one.
type corkConn struct {
	net.Conn
	mu  sync.Mutex // TLS writes (a close's alert too) and (un)corking
	buf *[]byte    // while corked

	// Read's state. crypto/tls reads under its own lock, so one Read
	// runs at a time; rmu orders it with Close, which gives a buffer
	// still held back to the arena (a socket read into a buffer runs
	// without rmu: its buffer is not in ahead until the read returns).
	rmu       sync.Mutex
	ahead     *[]byte // bytes read ahead, [aheadOff:aheadEnd] not yet handed on
	aheadOff  int
	aheadEnd  int
	aheadErr  error // the socket's error, returned once ahead is drained
	streaming bool  // the last read filled what it read into
	closed    bool
}

// readAhead is the read-ahead buffer's size: a chunk answer's records,
// as corkSize. BenchmarkRequest, 8 rounds alternated, cpu_us a request
// (median): chunk-2 297 without, 279 with; chunk 285 and 271; strace of
// 1,000 chunk requests: 9,100 socket reads that returned data without,
// 3,083 with (a 64 KiB buffer: 6,086).
const readAhead = corkSize

// aheadArena holds read-ahead buffers in huge pages, as corkArena does
// cork buffers (beyond its slots, from its heap pool).
var aheadArena = bufArena{size: readAhead}

// readAheadOff turns the read-ahead off in every corkConn: set only by
// BenchmarkRequest/chunk-noahead, the baseline its gain is measured
// against in the same run.
var readAheadOff atomic.Bool

func (c *corkConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	if c.ahead != nil {
		defer c.rmu.Unlock()
		n := copy(p, (*c.ahead)[c.aheadOff:c.aheadEnd])
		c.aheadOff += n
		if c.aheadOff < c.aheadEnd {
			return n, nil
		}
		aheadArena.give(c.ahead)
		c.ahead = nil
		err := c.aheadErr
		c.aheadErr = nil
		return n, err
	}
	streaming := c.streaming
	c.rmu.Unlock()
	if !streaming || len(p) >= readAhead || len(p) == 0 || readAheadOff.Load() {
		n, err := c.Conn.Read(p)
		if len(p) > 0 {
			c.rmu.Lock()
			c.streaming = err == nil && n == len(p)
			c.rmu.Unlock()
		}
		return n, err
	}
	b := aheadArena.take()
	n, err := c.Conn.Read(*b)
	m := copy(p, (*b)[:n])
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.streaming = err == nil && n == len(*b)
	if m == n || c.closed {
		aheadArena.give(b)
		return m, err
	}
	c.ahead, c.aheadOff, c.aheadEnd, c.aheadErr = b, m, n, err
	return m, nil
}

// Close closes the connection and gives back a read-ahead buffer it held.
func (c *corkConn) Close() error {
	c.rmu.Lock()
	c.closed = true
	if c.ahead != nil {
		aheadArena.give(c.ahead)
		c.ahead = nil
	}
	c.rmu.Unlock()
	return c.Conn.Close()
}

// corkSize holds a chunk answer's records (256 KiB + 16 in 17 records).
// A smaller cork, flushed as it fills, made no difference that showed
// (BenchmarkRequest/chunk, 3 rounds alternated at load 1.4, cpu_us a
// request: 264 KiB 362/325/309, 64 KiB 377/316/312, 32 KiB 365/321/342),
// and one record a write (17 KiB) cost more: 389/336/393.
const corkSize = 264 << 10

// corkArena holds the first cork buffers in use at once in huge pages, as
// chunkArena does chunk buffers (a fresh one is 66 page faults), and
// those beyond in its heap pool.
var corkArena = bufArena{size: corkSize}

func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = corkArena.take()
		*c.buf = (*c.buf)[:0]
	}
}

func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(b)
	}
	if len(*c.buf)+len(b) > cap(*c.buf) {
		if err := c.flush(); err != nil {
			return 0, err
		}
		if len(b) > cap(*c.buf) {
			return c.Conn.Write(b)
		}
	}
	*c.buf = append(*c.buf, b...)
	return len(b), nil
}

func (c *corkConn) flush() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.Conn.Write(b)
	return err
}

// uncork writes what was gathered and writes through again.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.flush()
	corkArena.give(c.buf)
	c.buf = nil
	return err
}
