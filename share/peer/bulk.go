package peer

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The bulk lane: HTTP/1.1 connections beside the pair's HTTP/2 one, for
// chunk requests of a download that moves a lot from this one peer.
//
// Over the one HTTP/2 connection every byte of every chunk goes through
// the server's serve loop and one frame-writing goroutine, and through the
// client's one read loop and a per-stream pipe: one core seals and one
// opens, with two copies more than HTTP/1.1 makes. For a crowd that is
// the right trade (a handshake costs as much CPU as a megabyte moved, and
// each peer moves little), but a download from one LAN neighbour moved a
// GiB at 4.2 CPU-s/GB over HTTP/2 against 3.4 over HTTP/1.1 connections
// (BenchmarkThroughput, issue 10). So chunk requests go over HTTP/1.1, a
// connection per request in flight, while both hold:
//   - more than bulkInFlight chunk requests are in flight to the peer: the
//     scheduler asks a peer for at most two at a time among eight peers or
//     more (sched's crowdPerSource), so a crowd never opens the lane;
//   - at least bulkAfter bytes of chunks came from the peer through this
//     client: a small title, which a handful of handshakes would cost more
//     than they save, never opens it either.
//
// Once opened the lane stays in use for bulkLinger after the last time
// both held, so the tail of a download does not switch back and forth.
// A transport failure on the lane (a dial or a connection error, not a
// cancelled request) closes it for bulkRetry; the pair's HTTP/2
// connection carries on. Through a relay's splice the pair already speaks
// HTTP/1.1 and the lane is not used.
const (
	bulkInFlight = 2
	bulkAfter    = 16 << 20
	bulkLinger   = 10 * time.Second
	bulkRetry    = time.Minute
)

// bulkLane is a client's HTTP/1.1 transport for bulk chunk requests.
type bulkLane struct {
	tr       *http.Transport
	hc       *http.Client
	after    int64        // bulkAfter (tests lower it)
	inflight atomic.Int32 // chunk requests in flight to the peer, either lane
	moved    atomic.Int64 // chunk bytes received from the peer, either lane
	until    atomic.Int64 // lane in use until then (clock's UnixNano)
	off      atomic.Int64 // lane closed until then after a failure (UnixNano)
}

// newBulkLane builds the lane; h1 is the client's TLS config offering only
// HTTP/1.1 (the one it uses through a relay).
func newBulkLane(c *Client, d *net.Dialer, h1 *tls.Config, conns int) *bulkLane {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	tr := peerTransport(p, conns, func(ctx context.Context, _, _ string) (net.Conn, error) {
		return c.dial(ctx, d, h1, h1)
	})
	return &bulkLane{tr: tr, after: bulkAfter,
		hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// use reports whether a chunk request, the k-th in flight, goes over the
// lane at now.
func (b *bulkLane) use(c *Client, k int32, now time.Time) bool {
	t := now.UnixNano()
	if t < b.off.Load() || !c.warm.Load() || c.Relayed() {
		return false
	}
	if k > bulkInFlight && b.moved.Load() >= b.after {
		b.until.Store(now.Add(bulkLinger).UnixNano())
		return true
	}
	return t < b.until.Load()
}

// roundTrip sends req over the lane. A failure that is not the request's
// own cancellation closes the lane for bulkRetry.
func (b *bulkLane) roundTrip(c *Client, req *http.Request) (*http.Response, error) {
	resp, err := b.hc.Do(req)
	if err != nil && req.Context().Err() == nil {
		b.until.Store(0)
		b.off.Store(c.clk.Now().Add(bulkRetry).UnixNano())
	}
	return resp, err
}

// peerTransport is the transport settings a client's two lanes share:
// dial, the protocols offered, conns connections per peer for HTTP/1.1
// (one per request in flight), and bounds on what a peer's answers cost.
func peerTransport(p *http.Protocols, conns int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		DialTLSContext:         dial,
		Protocols:              p,
		MaxIdleConnsPerHost:    conns,
		MaxConnsPerHost:        conns,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeader,
		DisableCompression:     true,
		ReadBufferSize:         64 << 10,
		WriteBufferSize:        16 << 10,
	}
}
