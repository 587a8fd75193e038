package peer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// relayedConn is a TLS connection through a relay's splice: a record
// that fails to decrypt (the relay altered bytes: the peer's TLS cannot)
// blames the relay, which then goes last in the dial order, not the peer.
// It counts the requests it carries (do), so RetireRelayed can close it
// between two of them.
type relayedConn struct {
	*tls.Conn
	c *Client

	mu       sync.Mutex
	inflight int  // requests between getting this connection and closing their body
	served   int  // requests done
	retired  bool // close once idle; refuse another request
}

// errRetired fails a request's write on a retired relayed connection:
// http.Transport retries it on another connection (nothing was written
// on a connection already used, for a request without a body).
var errRetired = errors.New("relayed connection retired: the peer is reachable directly")

func (r *relayedConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	refuse := r.retired && r.served > 0
	r.mu.Unlock()
	if refuse {
		r.Close()
		return 0, errRetired
	}
	return r.Conn.Write(p)
}

func (r *relayedConn) Close() error {
	r.c.mu.Lock()
	delete(r.c.spliced, r)
	r.c.mu.Unlock()
	return r.Conn.Close()
}

// begin and end bracket one request on the connection.
func (r *relayedConn) begin() {
	r.mu.Lock()
	r.inflight++
	r.mu.Unlock()
}

func (r *relayedConn) end() {
	r.mu.Lock()
	r.inflight--
	r.served++
	idle := r.retired && r.inflight == 0
	r.mu.Unlock()
	if idle {
		r.Close()
	}
}

// retire closes the connection now if it is idle after a request, or
// after its current (or first) request otherwise.
func (r *relayedConn) retire() {
	r.mu.Lock()
	r.retired = true
	idle := r.inflight == 0 && r.served > 0
	r.mu.Unlock()
	if idle {
		r.Close()
		return
	}
	// One dialled for a request that another connection took stays idle
	// unused: it closes after a grace in which a first request would
	// have begun.
	time.AfterFunc(retireGrace, func() {
		r.mu.Lock()
		idle := r.inflight == 0
		r.mu.Unlock()
		if idle {
			r.Close()
		}
	})
}

// retireGrace is how long a retired relayed connection that has carried
// nothing yet waits for its first request.
const retireGrace = 5 * time.Second

// RetireRelayed moves the client off the relay's splice once a direct
// connection to the peer exists (a hole punch worked): each spliced
// connection closes as soon as its current request has its body closed
// (an idle one at once), a request that would start on one is retried on
// a new connection by the transport, and later dials go to the relay
// dialer again, which hands out the direct connection.
func (c *Client) RetireRelayed() {
	c.mu.Lock()
	c.retires++
	rcs := make([]*relayedConn, 0, len(c.spliced))
	for rc := range c.spliced {
		rcs = append(rcs, rc)
	}
	c.mu.Unlock()
	for _, rc := range rcs {
		rc.retire()
	}
}

func (r *relayedConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	var oe *net.OpError
	if err != nil && errors.As(err, &oe) && oe.Op == "local error" {
		r.c.mu.Lock()
		r.c.relayBad = r.c.clk.Now()
		if r.c.lastGood == relayAddr {
			r.c.lastGood = ""
		}
		r.c.mu.Unlock()
		err = fmt.Errorf("%w: %w", ErrRelay, err)
	}
	return n, err
}

// ErrRelay marks a failure of the relayed path (not of the peer): a
// handshake that failed through the relay, which may have altered bytes.
var ErrRelay = errors.New("relay failed")

// relayBadMemory is how long a relay whose handshake failed is tried last.
const relayBadMemory = time.Minute

// requestBody ends a relayed connection's request when the body closes.
type requestBody struct {
	io.ReadCloser
	once sync.Once
	end  func()
}

func (b *requestBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.end)
	return err
}
