package peer

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/clock"
)

// bulkServer serves c's holder on a counting listener.
func bulkServer(t *testing.T, c *content) (*countingListener, *Client) {
	t.Helper()
	a, b := newIdent(t), newIdent(t)
	ln := countingLoopback(t)
	startServerOn(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}}, ln)
	return ln, client(t, b, a.ID(), ln.Addr().String())
}

// TestBulkLaneOneNeighbour: a download from one peer with four requests in
// flight moves its chunks over HTTP/1.1 connections beside the pair's
// HTTP/2 one once enough came from the peer (bulkAfter, lowered here to
// 1 MiB), and the file arrives whole.
func TestBulkLaneOneNeighbour(t *testing.T) {
	c := makeContent(t, 8<<20, 256<<10, 31)
	ln, cl := bulkServer(t, c)
	cl.bulk.after = 1 << 20
	lib, f, err := fetchInto(t, c, FetchOptions{Sources: []Source{cl.Source(c.m)}, PerSource: 4})
	if err != nil {
		t.Fatalf("download: %v (faults %+v)", err, f.Faults())
	}
	checkComplete(t, lib, c)
	if n := ln.n.Load(); n < 2 {
		t.Errorf("%d connection(s) from the device, want the HTTP/2 one and the bulk lane's", n)
	}
	var want int64
	for i := range c.m.NumChunks() {
		_, n := c.m.ChunkRange(i)
		want += n
	}
	if n := cl.bulk.moved.Load(); n != want {
		t.Errorf("moved %d bytes of chunks, want %d", n, want)
	}
}

// TestBulkLaneNotForACrowd: two requests in flight per peer (what the
// scheduler asks of each among eight peers or more) never open the lane,
// however much the peer moved: one connection per pair.
func TestBulkLaneNotForACrowd(t *testing.T) {
	c := makeContent(t, 8<<20, 256<<10, 32)
	ln, cl := bulkServer(t, c)
	cl.bulk.after = 0
	lib, f, err := fetchInto(t, c, FetchOptions{Sources: []Source{cl.Source(c.m)}, PerSource: bulkInFlight})
	if err != nil {
		t.Fatalf("download: %v (faults %+v)", err, f.Faults())
	}
	checkComplete(t, lib, c)
	if n := ln.n.Load(); n != 1 {
		t.Errorf("%d connections from one device, want 1", n)
	}
}

// TestBulkLaneRules: when the lane is used, on the client's clock: only
// after a request was answered on the pair's connection, not through a
// relay's splice, with more than bulkInFlight requests in flight and
// bulkAfter bytes moved; for bulkLinger after that; and not for bulkRetry
// after a transport failure on it.
func TestBulkLaneRules(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	a, b := newIdent(t), newIdent(t)
	// Nothing listens there: the lane's dial fails.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	cl, err := NewClient(b, a.ID(), []string{addr}, ClientOptions{Clock: clk, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	l := cl.bulk
	if l.use(cl, bulkInFlight+1, clk.Now()) {
		t.Fatal("lane used before the pair's connection answered")
	}
	cl.warm.Store(true)
	l.moved.Store(bulkAfter - 1)
	if l.use(cl, bulkInFlight+1, clk.Now()) {
		t.Fatalf("lane used after %d bytes, before %d", l.moved.Load(), bulkAfter)
	}
	l.moved.Store(bulkAfter)
	if l.use(cl, bulkInFlight, clk.Now()) {
		t.Fatalf("lane opened with %d requests in flight", bulkInFlight)
	}
	if !l.use(cl, bulkInFlight+1, clk.Now()) {
		t.Fatalf("lane not used with %d requests in flight after %d bytes", bulkInFlight+1, bulkAfter)
	}
	clk.Advance(bulkLinger - time.Millisecond)
	if !l.use(cl, 1, clk.Now()) {
		t.Fatal("lane left before bulkLinger")
	}
	clk.Advance(time.Millisecond)
	if l.use(cl, 1, clk.Now()) {
		t.Fatal("lane still used bulkLinger after it was last needed")
	}
	cl.mu.Lock()
	cl.lastGood, cl.lastSplice = relayAddr, true
	cl.mu.Unlock()
	if l.use(cl, bulkInFlight+1, clk.Now()) {
		t.Fatal("lane used through a relay's splice")
	}
	cl.mu.Lock()
	cl.lastGood, cl.lastSplice = "", false
	cl.mu.Unlock()

	// A transport failure closes the lane for bulkRetry.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://kith-peer/kith/v1/hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.roundTrip(cl, req); err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	clk.Advance(bulkRetry - time.Millisecond)
	if l.use(cl, bulkInFlight+1, clk.Now()) {
		t.Fatal("lane used again before bulkRetry after a failure")
	}
	clk.Advance(time.Millisecond)
	if !l.use(cl, bulkInFlight+1, clk.Now()) {
		t.Fatal("lane not used again bulkRetry after a failure")
	}
}
