package peer

// The client's side of the chunk wire (chunkwire.go): the pair's
// connection, when the peer chose WireProto, as the http.RoundTripper the
// client's transport uses for every request to the peer.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// Liveness: a connection with requests in flight that receives nothing for
// wireAnswerTimeout is broken (a held /have poll answers within
// MaxHaveWait); one with none in flight is closed after wireIdle.
const (
	wireAnswerTimeout = MaxHaveWait + 20*time.Second
	wireIdle          = 90 * time.Second
)

// wireConn is one chunk-wire connection to the peer: the side that sends
// requests and reads their answers. On a connection speaking WireProto2
// both ends have one (the dialled end's from its Client, the accepting
// end's from Serve), and sc serves the peer's requests: the one reader,
// readLoop, hands each request frame to sc and each answer to its caller.
type wireConn struct {
	peer    identity.ID
	tc      *tls.Conn
	br      *bufio.Reader
	cs      tls.ConnectionState
	slots   chan struct{}   // a token per request in flight (maxStreams), until its answer has ended
	dead    chan struct{}   // closed with err
	wmu     *sync.Mutex     // one frame at a time (shared with sc)
	sc      *wireServerConn // WireProto2: serves the peer's requests; nil on WireProto
	idle    time.Duration   // how long the connection stays open unused
	onClose func(*wireConn) // drops it from its owner's list

	mu       sync.Mutex
	next     uint32
	streams  map[uint32]*wireStream
	deadline time.Time // of the reads
	cut      bool      // the body being read was given up: reads end now, until it has ended
	body     bool      // an answer's body is being read (by its caller, or skipped here)
	closing  bool      // Client.Close came: close once no request is in flight
	heard    bool      // a frame came from the peer (the connection was live)
	err      error

	stopServing context.CancelFunc // ends sc's requests
}

type wireStream struct {
	ctx       context.Context     // the request's
	ch        chan *http.Response // the answer (buffered)
	abandoned bool                // its caller went away: the body is discarded
}

// errWireClosed is the error of a connection the client closed.
var errWireClosed = errors.New("connection closed")

// wireNoConn is a request that was not sent because the connection is
// broken: the transport drops the connection and sends the request on a
// new one (as it does for an HTTP/2 connection that is going away).
type wireNoConn struct{ err error }

func (e wireNoConn) Error() string                                   { return "chunk wire: connection broken: " + e.err.Error() }
func (e wireNoConn) Unwrap() error                                   { return e.err }
func (e wireNoConn) IsHTTP2NoCachedConnError()                       {}
func (wc *wireConn) noConn() error                                   { return wireNoConn{wc.err} }
func (wc *wireConn) peerName() string                                { return wc.peer.Short() }
func (c *Client) wireProto(_ string, tc *tls.Conn) http.RoundTripper { return c.newWire(tc) }

// openWires lists the open connections of c's peer that may carry a
// request: the client's own, then those the peer dialled to our server
// and on which it chose WireProto2 (the same verified device, the same
// handlers at its end), so a pair talking both ways needs one connection.
func (c *Client) openWires() []*wireConn {
	c.mu.Lock()
	wires := make([]*wireConn, 0, len(c.wires)+1)
	for wc := range c.wires {
		wires = append(wires, wc)
	}
	c.mu.Unlock()
	if c.srv != nil {
		wires = append(wires, c.srv.wiresFrom(c.peer)...)
	}
	return wires
}

// onWire sends req on an open chunk-wire connection to the peer, if there
// is one (sent reports whether it was sent there). The transport would
// pick the same connection, but it lists a new connection among those it
// reuses only after handing it to the request that dialled it: a request
// started meanwhile (the first answer can arrive before the dialling
// goroutine runs again) found none and dialled another, one handshake
// more for the pair (TestBulkLaneNotForACrowd saw three connections where
// one carries everything). The wire registers its connection as it is set
// up, before any request is sent on it. A connection found broken here
// sends the request to the transport, which opens a new one.
func (c *Client) onWire(req *http.Request) (resp *http.Response, sent bool, err error) {
	var open *wireConn
	for _, wc := range c.openWires() {
		if wc.usable() {
			open = wc
			break
		}
	}
	if open == nil {
		return nil, false, nil
	}
	resp, err = open.RoundTrip(req)
	var nc wireNoConn
	if errors.As(err, &nc) {
		// For the transport, on a new connection: with its body from the
		// start (RoundTrip read it).
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, true, err
			}
		}
		return nil, false, nil
	}
	if err != nil {
		err = &url.Error{Op: urlOp(req.Method), URL: req.URL.String(), Err: err}
	}
	return resp, true, err
}

// usable reports whether new requests may be sent on wc.
func (wc *wireConn) usable() bool {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.err == nil && !wc.closing
}

// newWire starts serving tc, on which the peer chose WireProto or
// WireProto2 (then the peer's requests are served by the client's
// Server, whose Serve runs: the client offers WireProto2 only then).
func (c *Client) newWire(tc *tls.Conn) *wireConn {
	wc := newWireConn(tc, c.peer, wireIdle)
	if tc.ConnectionState().NegotiatedProtocol == WireProto2 {
		ctx := c.srv.serving()
		if ctx == nil { // stopped since the dial: the connection closes at once
			cctx, cancel := context.WithCancel(context.Background())
			cancel()
			ctx = cctx
		}
		wc.serveBoth(c.srv, connContext(ctx, nil))
	}
	wc.onClose = func(wc *wireConn) {
		c.mu.Lock()
		delete(c.wires, wc)
		c.mu.Unlock()
	}
	c.mu.Lock()
	if c.wires == nil {
		c.wires = map[*wireConn]struct{}{}
	}
	c.wires[wc] = struct{}{}
	c.mu.Unlock()
	wc.start()
	go wc.readLoop()
	return wc
}

// wireReadBuf is the size of a wire connection's read buffer: room for
// the frames' heads (requests, answer heads, cancels: well under 4 KiB)
// and small answers. A chunk's body is read past it, straight from the TLS
// connection into the caller's buffer, once what the head's read brought
// in is used up; a bigger buffer only copies more of each body twice (the
// head's read fills it from the body's first record) and costs every
// connection end its size.
const wireReadBuf = 4 << 10

func newWireConn(tc *tls.Conn, peer identity.ID, idle time.Duration) *wireConn {
	return &wireConn{peer: peer, tc: tc, br: bufio.NewReaderSize(tc, wireReadBuf), cs: tc.ConnectionState(), wmu: new(sync.Mutex), idle: idle,
		slots: make(chan struct{}, maxStreams), dead: make(chan struct{}), streams: map[uint32]*wireStream{}}
}

// serveBoth makes wc carry the peer's requests too, served by s's handlers
// under ctx (which carries the connection's connPeer): the caller is the
// device whose certificate this end verified in the handshake.
func (wc *wireConn) serveBoth(s *Server, ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	wc.sc = &wireServerConn{s: s, tc: wc.tc, cs: wc.cs, remote: wc.tc.RemoteAddr().String(), active: map[uint32]context.CancelFunc{},
		wmu: wc.wmu, ctx: ctx, wc: wc}
	context.AfterFunc(ctx, func() { wc.close(context.Cause(ctx)) })
	wc.stopServing = cancel
}

// start sets the first read deadline.
func (wc *wireConn) start() {
	wc.mu.Lock()
	wc.extendLocked()
	wc.mu.Unlock()
}

// extendLocked moves the read deadline: wireAnswerTimeout from now while
// requests are in flight, none while only the peer's requests are being
// served (their answers have their write deadlines), wc.idle when none is
// either way. While a body is cut
// (wireBody.interrupt) the connection keeps its past deadline until the
// body has ended: a deadline moved now could keep its reader waiting.
func (wc *wireConn) extendLocked() {
	switch {
	case len(wc.streams) > 0:
		wc.deadline = time.Now().Add(wireAnswerTimeout)
	case wc.serving():
		wc.deadline = time.Time{}
	default:
		wc.deadline = time.Now().Add(wc.idle)
	}
	if !wc.cut {
		wc.tc.SetReadDeadline(wc.deadline)
	}
}

// RoundTrip sends req as one request frame and waits for its answer; the
// answer's body is read from the connection by the caller (the connection
// waits for it to be read or closed).
func (wc *wireConn) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxWireReqBody+1))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("chunk wire: reading the request body: %w", err)
		}
		body = b
	}
	path := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	select {
	case wc.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wc.dead:
		return nil, wc.noConn()
	}
	wc.mu.Lock()
	if wc.err != nil || wc.closing {
		wc.mu.Unlock()
		<-wc.slots
		return nil, wireNoConn{errWireClosed}
	}
	wc.next++
	tag := wc.next
	frame, err := encodeRequest(tag, req.Method, path, req.Header, body)
	if err != nil {
		wc.mu.Unlock()
		<-wc.slots
		return nil, err
	}
	st := &wireStream{ctx: ctx, ch: make(chan *http.Response, 1)}
	wc.streams[tag] = st
	wc.extendLocked()
	// The peer closing a live connection as this request goes out (its
	// idle close; on WireProto2 both ends send requests) sends a request
	// safe to repeat to a new connection (wireNoConn), as net/http does.
	again := wc.heard && replayable(req, body)
	wc.mu.Unlock()
	if err := wc.write(frame); err != nil {
		wc.close(err)
		if again && closedByPeer(err) {
			return nil, wireNoConn{err}
		}
		return nil, fmt.Errorf("chunk wire to %s: %w", wc.peerName(), err)
	}
	select {
	case resp := <-st.ch:
		resp.Request = req
		return resp, nil
	case <-wc.dead:
		if again && closedByPeer(wc.err) {
			return nil, wc.noConn()
		}
		return nil, fmt.Errorf("chunk wire to %s: %w", wc.peerName(), wc.err)
	case <-ctx.Done():
		wc.mu.Lock()
		if _, ok := wc.streams[tag]; ok {
			st.abandoned = true
			wc.mu.Unlock()
			go wc.cancel(tag)
			return nil, ctx.Err()
		}
		wc.mu.Unlock()
		// The answer is being delivered: take it and let it go.
		select {
		case resp := <-st.ch:
			resp.Body.Close()
		case <-wc.dead:
		}
		return nil, ctx.Err()
	}
}

// closedByPeer reports whether err is the peer closing the connection (a
// FIN or a reset), not a protocol error or a timeout.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// cancel tells the server the caller of tag went away (its handler's
// context ends); the answer still comes, and is discarded.
func (wc *wireConn) cancel(tag uint32) {
	var f [wireHead]byte
	binary.BigEndian.PutUint32(f[:], 5)
	f[4] = wireCancel
	binary.BigEndian.PutUint32(f[5:], tag)
	if err := wc.write(f[:]); err != nil {
		wc.close(err)
	}
}

func (wc *wireConn) write(b []byte) error {
	wc.wmu.Lock()
	defer wc.wmu.Unlock()
	wc.tc.SetWriteDeadline(time.Now().Add(wireAnswerTimeout))
	_, err := wc.tc.Write(b)
	return err
}

// readLoop reads answers and hands each to its caller, then waits until
// the caller has read or closed its body before reading the next frame.
func (wc *wireConn) readLoop() {
	var err error
	heard := false
	for {
		if _, err = wc.br.Peek(1); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				wc.mu.Lock()
				moved := wc.deadline.IsZero() || time.Now().Before(wc.deadline) // a request came meanwhile
				if !moved {
					// Closing: a request from now goes to a new
					// connection (wireNoConn), not onto this one.
					wc.closing = true
				}
				wc.mu.Unlock()
				if moved {
					continue
				}
			}
			break
		}
		if !heard {
			heard = true
			wc.mu.Lock()
			wc.heard = true
			wc.mu.Unlock()
		}
		var a *wireAns
		if wc.sc != nil {
			var q *wireReq
			if q, a, err = readBoth(wc.br); err != nil {
				break
			}
			if q != nil {
				if err = wc.sc.accept(q); err != nil {
					break
				}
				continue
			}
		} else if a, err = readAnswerHead(wc.br); err != nil {
			break
		}
		wc.mu.Lock()
		st := wc.streams[a.tag]
		if st == nil {
			wc.mu.Unlock()
			err = wireErr("an answer to tag %d, which is not waiting for one", a.tag)
			break
		}
		delete(wc.streams, a.tag)
		wc.extendLocked()
		abandoned := st.abandoned
		wc.body = a.bodyLen > 0
		last := wc.closing && len(wc.streams) == 0 && !wc.serving()
		wc.mu.Unlock()
		// The request's stream is freed once its answer has ended here,
		// not at its head: the server ends a request when its handler
		// returns, and a chunk's head and most of its body go out
		// before that (the handler counts the upload after its write;
		// only the last record waits for it). A request sent in between
		// would be one beyond the streams the server allows while the
		// client keeps maxStreams in flight, and would cost the
		// connection (TestWireStreamsFull).
		if abandoned {
			_, err = io.CopyN(io.Discard, wc.br, a.bodyLen)
			<-wc.slots
			if err != nil {
				break
			}
			if wc.bodyEnded() || last {
				break
			}
			continue
		}
		b := &wireBody{wc: wc, ctx: st.ctx, n: a.bodyLen, done: make(chan error, 1), stop: func() bool { return true }}
		if a.bodyLen > 0 {
			b.stop = context.AfterFunc(st.ctx, b.interrupt)
		}
		st.ch <- &http.Response{Status: statusLine(a.status), StatusCode: a.status,
			Proto: wc.cs.NegotiatedProtocol, ProtoMajor: 1, Header: a.header, Body: b, ContentLength: a.bodyLen, TLS: &wc.cs}
		if a.bodyLen > 0 {
			select {
			case err = <-b.done:
			case <-wc.dead:
				// Closed meanwhile (a failed write): its caller may
				// have gone with the connection's error, not read it.
				err = errWireClosed
			}
			// A body its caller gave up on or closed unread: the rest
			// is skipped here, under the connection's read deadline.
			var left bodyLeft
			if errors.As(err, &left) {
				_, err = io.CopyN(io.Discard, wc.br, int64(left))
			}
			if err == nil && wc.bodyEnded() {
				last = true
			}
		}
		<-wc.slots
		if err != nil || last {
			break
		}
	}
	if errors.Is(err, errWireFrame) {
		err = fmt.Errorf("%w: %w", ErrMisbehaving, err)
	}
	wc.close(err)
}

// statusLine is an answer's Status as net/http gives it ("200 OK"): the
// usual ones without a string formatted for each answer.
func statusLine(code int) string {
	switch code {
	case http.StatusOK:
		return "200 OK"
	case http.StatusNotFound:
		return "404 Not Found"
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// close breaks the connection: requests in flight fail, later ones go to
// a new connection.
func (wc *wireConn) close(err error) {
	if err == nil {
		err = errWireClosed
	}
	wc.mu.Lock()
	if wc.err != nil {
		wc.mu.Unlock()
		return
	}
	wc.err = err
	close(wc.dead)
	wc.mu.Unlock()
	if wc.onClose != nil {
		wc.onClose(wc)
	}
	wc.tc.Close()
	if wc.stopServing != nil {
		wc.stopServing()
	}
}

// serving reports whether the peer's requests are being served on wc.
func (wc *wireConn) serving() bool { return wc.sc != nil && wc.sc.n.Load() > 0 }

// served notes that a request of the peer's was answered: the read
// deadline moves, and a connection closing with nothing left either way
// closes now.
func (wc *wireConn) served() {
	wc.mu.Lock()
	wc.extendLocked()
	idle := wc.closing && len(wc.streams) == 0 && !wc.body && !wc.serving()
	wc.mu.Unlock()
	if idle {
		wc.close(errWireClosed)
	}
}

// bodyEnded notes that the answer's body being read has ended; true when
// the connection is closing and has nothing more to read.
func (wc *wireConn) bodyEnded() (last bool) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.body = false
	return wc.closing && len(wc.streams) == 0 && !wc.serving()
}

// closeIdle closes the connection now if no request is in flight on it
// and no answer's body is being read, else once the last answer has been
// read (a poll its caller gave up on may still be on its way); new
// requests go to a new connection.
func (wc *wireConn) closeIdle() {
	wc.mu.Lock()
	wc.closing = true
	idle := len(wc.streams) == 0 && !wc.body && !wc.serving()
	wc.mu.Unlock()
	if idle {
		wc.close(errWireClosed)
	}
}
