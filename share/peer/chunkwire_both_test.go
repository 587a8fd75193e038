package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// bothEnd is one device of a pair in the tests of WireProto2: its server
// (listening on a counting loopback) and the uploads it reported.
type bothEnd struct {
	id  *identity.Identity
	srv *Server
	ln  *countingListener
	mu  sync.Mutex
	ups map[identity.ID]int // uploads reported, by the device they went to
}

func startBothEnd(t *testing.T, id *identity.Identity, lib *library.Library, accts Accounts) *bothEnd {
	t.Helper()
	ln := countingLoopback(t)
	return startBothEndOn(t, id, lib, accts, ln, ln)
}

// startBothEndOn is startBothEnd with the server accepting from serve,
// which takes its connections from ln.
func startBothEndOn(t *testing.T, id *identity.Identity, lib *library.Library, accts Accounts, ln *countingListener, serve net.Listener) *bothEnd {
	t.Helper()
	e := &bothEnd{id: id, ln: ln, ups: map[identity.ID]int{}}
	e.srv = startServerOn(t, ServerOptions{Identity: id, Library: lib, Accounts: accts, OnUpload: func(u Upload) {
		e.mu.Lock()
		e.ups[u.Peer]++
		e.mu.Unlock()
	}}, serve)
	// The clients of a device offer WireProto2 once its server runs.
	deadline := time.Now().Add(30 * time.Second)
	for e.srv.serving() == nil {
		if time.Now().After(deadline) {
			t.Fatal("server not serving after 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	return e
}

func (e *bothEnd) uploads(to identity.ID) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ups[to]
}

// clientOf is e's client to device peer at that device's listener, with e's
// server answering over the connection (as a Node builds them).
func (e *bothEnd) clientOf(t *testing.T, peer *bothEnd) *Client {
	t.Helper()
	c, err := NewClient(e.id, peer.id.ID(), []string{peer.ln.Addr().String()}, ClientOptions{Server: e.srv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestWireBothWays: when B dialled A, A's downloads from B go over B's
// connection (no dial, no second handshake) while B downloads from A over
// it at the same time; A's server counts what it served B as B's, B's
// what it served A as A's. A peer that does not speak the wire both ways
// (no server of its own, or an HTTP-only client) is still dialled.
func TestWireBothWays(t *testing.T) {
	ctx := context.Background()
	ca, cb := makeContent(t, 3<<20, 64<<10, 31), makeContent(t, 3<<20, 64<<10, 32)
	a := startBothEnd(t, newIdent(t), holder(t, ca), everyoneEnrolled{})
	b := startBothEnd(t, newIdent(t), holder(t, cb), everyoneEnrolled{})

	ba := b.clientOf(t, a)
	if _, err := ba.Have(ctx, ca.m.ContentID(), ca.m.NumChunks()); err != nil {
		t.Fatal(err)
	}
	ab := a.clientOf(t, b)
	var wg sync.WaitGroup
	wg.Go(func() {
		lib, f, err := fetchInto(t, ca, FetchOptions{Sources: []Source{ba.Source(ca.m)}, PerSource: 4})
		if err != nil {
			t.Errorf("B downloading from A: %v (faults %+v)", err, f.Faults())
			return
		}
		checkComplete(t, lib, ca)
	})
	lib, f, err := fetchInto(t, cb, FetchOptions{Sources: []Source{ab.Source(cb.m)}, PerSource: 4})
	if err != nil {
		t.Fatalf("A downloading from B: %v (faults %+v)", err, f.Faults())
	}
	checkComplete(t, lib, cb)
	wg.Wait()
	if n := b.ln.n.Load(); n != 0 {
		t.Errorf("A dialled B %d times: B's connection was there", n)
	}
	if n := a.ln.n.Load(); n != 1 {
		t.Errorf("%d connections to A, want B's one", n)
	}
	if n := ab.Handshakes() + ba.Handshakes(); n != 1 {
		t.Errorf("%d handshakes for the pair, want 1", n)
	}
	// B answers A's requests on the connection it dialled as A answers
	// B's on the one it accepted: a chunk's records in one write, not one
	// a record (BenchmarkRequest/chunk-back).
	for _, wc := range ba.openWires() {
		if _, ok := wc.tc.NetConn().(*corkConn); !ok {
			t.Errorf("B's end of its connection to A writes through a %T, not a corkConn", wc.tc.NetConn())
		}
	}
	if got, want := b.uploads(a.id.ID()), cb.m.NumChunks(); got != want {
		t.Errorf("B counted %d uploads to A, want %d", got, want)
	}
	if got, want := a.uploads(b.id.ID()), ca.m.NumChunks(); got != want {
		t.Errorf("A counted %d uploads to B, want %d", got, want)
	}

	// Older peers: a client without a server of its own offers the wire
	// one way only (its peer dials it back), an HTTP-only one HTTP/2.
	for _, o := range []ClientOptions{{}, {httpOnly: true}} {
		d := startBothEnd(t, newIdent(t), holder(t, cb), everyoneEnrolled{})
		dc, err := NewClient(d.id, a.id.ID(), []string{a.ln.Addr().String()}, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(dc.Close)
		if _, err := dc.Chunk(ctx, ca.m, 0, nil); err != nil {
			t.Fatalf("older peer (%+v) from A: %v", o, err)
		}
		ad := a.clientOf(t, d)
		if _, err := ad.Chunk(ctx, cb.m, 0, nil); err != nil {
			t.Fatalf("A from an older peer (%+v): %v", o, err)
		}
		if n := d.ln.n.Load(); n != 1 || ad.Handshakes() != 1 {
			t.Errorf("A reached an older peer (%+v) over %d connections to it, %d handshakes; want 1 dialled", o, n, ad.Handshakes())
		}
	}
}

// TestSecurityWireReverse: requests that come back over a connection we
// dialled (WireProto2) are served as from the device whose certificate we
// pinned, under the same policy as if it had dialled us, and a connection
// a device dialled to us carries our requests to that device only. B
// dialled A (denied by B's policy) and C (allowed): over those
// connections, at once and many times, A gets nothing of B's and C
// everything, and B's uploads are C's. A's requests to a fourth device go
// to that device, never onto the connection B dialled to A.
func TestSecurityWireReverse(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 200_000, 16<<10, 33)
	ia, ib, ic, ix := newIdent(t), newIdent(t), newIdent(t), newIdent(t)
	accts := &countingAccounts{known: map[identity.ID]string{ia.ID(): "mallory", ib.ID(): "bee", ic.ID(): "carol", ix.ID(): "xavier"}}
	libB := holder(t, ct)
	if err := libB.SetPolicy(ctx, "", library.Policy{Mode: "anyone", Deny: []string{"mallory"}}); err != nil {
		t.Fatal(err)
	}
	a := startBothEnd(t, ia, newLib(t), accts)
	b := startBothEnd(t, ib, libB, accts)
	c := startBothEnd(t, ic, newLib(t), accts)
	x := startBothEnd(t, ix, holder(t, ct), accts)

	// B dials A and C (hello: allowed to anyone).
	for _, peer := range []*bothEnd{a, c} {
		if _, err := b.clientOf(t, peer).Hello(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ab, cb := a.clientOf(t, b), c.clientOf(t, b)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 10 {
				chunk := i % ct.m.NumChunks()
				if _, err := ab.Chunk(ctx, ct.m, chunk, nil); err == nil {
					t.Error("A (denied) got a chunk over B's connection")
					return
				} else if se := (*StatusError)(nil); !errors.As(err, &se) || se.Status != 403 {
					t.Errorf("A (denied) over B's connection: %v, want a 403", err)
					return
				}
				if _, err := cb.Chunk(ctx, ct.m, chunk, nil); err != nil {
					t.Errorf("C (allowed) over B's connection: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := refused(t, ab, ct); len(got) > 1 || len(got) == 1 && got[0] != "offer with 0 titles" {
		t.Errorf("A (denied) got over B's connection: %v", got)
	}
	if n := b.ln.n.Load(); n != 0 || ab.Handshakes() != 0 || cb.Handshakes() != 0 {
		t.Errorf("A and C dialled B (%d connections): the test did not use B's connections", n)
	}
	if got, want := b.uploads(ic.ID()), 40; got != want {
		t.Errorf("B counted %d uploads to C, want %d", got, want)
	}
	if got := b.uploads(ia.ID()); got != 0 {
		t.Errorf("B counted %d uploads to A", got)
	}
	// The same policy when A dials B itself.
	direct, err := NewClient(ia, ib.ID(), []string{b.ln.Addr().String()}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(direct.Close)
	if got := refused(t, direct, ct); len(got) > 1 || len(got) == 1 && got[0] != "offer with 0 titles" {
		t.Errorf("A (denied) dialling B got: %v", got)
	}
	// A's requests to X go to X, not onto the connection B dialled to A.
	ax := a.clientOf(t, x)
	if _, err := ax.Chunk(ctx, ct.m, 0, nil); err != nil {
		t.Fatalf("A's request to X: %v", err)
	}
	if n := x.ln.n.Load(); n != 1 || x.uploads(ia.ID()) != 1 {
		t.Errorf("A's request to X: %d connections to X, X counted %d uploads to A; want 1, 1", n, x.uploads(ia.ID()))
	}
}

// TestWireHostileBothWays: on a connection speaking the wire both ways, a
// peer's request frames are bounded and checked as a server checks a
// client's: one over the bounds, malformed, or reusing a tag in flight
// ends the connection, and our requests on it fail as ErrMisbehaving (the
// fetcher bans the peer). A device that dialled our server and sends an
// answer to a request we never made loses its connection.
func TestWireHostileBothWays(t *testing.T) {
	me := newIdent(t)
	// Lookups block: a request past hello stays in flight.
	self := startBothEnd(t, me, newLib(t), blockedAccounts{})
	held := func(tag uint32) []byte { // a request in flight until the connection ends
		f, _ := encodeRequest(tag, http.MethodGet, "/kith/v1/have/"+makeContent(t, 1000, 1000, 34).m.ContentID().String(),
			http.Header{HaveWaitHeader: {"10"}}, nil)
		return f
	}
	for _, tt := range []struct {
		name  string
		frame func() []byte
	}{
		{"huge", func() []byte {
			f, _ := encodeRequest(1, http.MethodGet, "/kith/v1/hello", nil, nil)
			binary.BigEndian.PutUint32(f, 1<<31)
			return f
		}},
		{"bad header", func() []byte {
			f, _ := encodeRequest(1, http.MethodGet, "/kith/v1/hello", http.Header{"Bad Name": {"x"}}, nil)
			return f
		}},
		{"tag in use", func() []byte { return append(held(5), held(5)...) }},
		{"unknown type", func() []byte { return []byte{0, 0, 0, 5, 9, 0, 0, 0, 1} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peer := newIdent(t)
			cfg := peer.ServerTLS(nil)
			cfg.NextProtos = []string{WireProto2}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if _, err := readRequest(bufio.NewReader(c)); err != nil {
					return
				}
				c.Write(tt.frame()) // instead of an answer
				io.Copy(io.Discard, c)
			}()
			cl, err := NewClient(me, peer.ID(), []string{ln.Addr().String()}, ClientOptions{Server: self.srv})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err = cl.Hello(ctx)
			switch {
			case err == nil:
				t.Fatal("answered")
			case ctx.Err() != nil:
				t.Fatalf("hung: %v", err)
			case !errors.Is(err, ErrMisbehaving):
				t.Fatalf("error %v, want ErrMisbehaving", err)
			}
		})
	}

	t.Run("answer never asked", func(t *testing.T) {
		peer := newIdent(t)
		cfg := peer.ClientTLS(me.ID())
		cfg.NextProtos = []string{WireProto2}
		tc, err := tls.Dial("tcp", self.ln.Addr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		if p := tc.ConnectionState().NegotiatedProtocol; p != WireProto2 {
			t.Fatalf("negotiated %q, want %s", p, WireProto2)
		}
		head, _ := answerHead(7, 200, nil, 0)
		if _, err := tc.Write(head); err != nil {
			t.Fatal(err)
		}
		tc.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.Copy(io.Discard, tc); err != nil {
			t.Fatalf("the connection was not closed: %v", err)
		}
		if n := len(self.srv.wiresFrom(peer.ID())); n != 0 {
			t.Errorf("%d connections of the peer still listed", n)
		}
	})
}

// TestAwaitPeer: a client waiting for its peer (AwaitPeer) returns as the
// peer dials our server with the wire both ways, and its requests then go
// over that connection; it does not wait without a server of its own,
// and gives up when its context ends.
func TestAwaitPeer(t *testing.T) {
	ctx := context.Background()
	cb := makeContent(t, 100_000, 16<<10, 35)
	a := startBothEnd(t, newIdent(t), newLib(t), everyoneEnrolled{})
	b := startBothEnd(t, newIdent(t), holder(t, cb), everyoneEnrolled{})
	ab := a.clientOf(t, b)
	came := make(chan bool, 1)
	go func() { came <- ab.AwaitPeer(ctx, time.Hour) }()
	if _, err := b.clientOf(t, a).Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if !<-came {
		t.Fatal("AwaitPeer: the peer's connection did not count")
	}
	if _, err := ab.Chunk(ctx, cb.m, 0, nil); err != nil {
		t.Fatal(err)
	}
	if n := ab.Handshakes() + b.ln.n.Load(); n != 0 {
		t.Errorf("A dialled B after B's connection came (%d)", n)
	}

	lone, err := NewClient(a.id, b.id.ID(), []string{b.ln.Addr().String()}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lone.Close)
	if lone.AwaitPeer(ctx, time.Hour) {
		t.Error("a client without a server waited for the peer's connection")
	}
	c := startBothEnd(t, newIdent(t), newLib(t), everyoneEnrolled{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if a.clientOf(t, c).AwaitPeer(cctx, time.Hour) {
		t.Error("a peer that never dialled counted as come")
	}
}

// TestNoAddressClient: a client built with no address reaches the peer
// over the peer's WireProto2 connection to our server (a crowd member
// that dialled us, whose addresses the directory did not tell us), never
// dials, and once that connection is gone fails with ErrNoAddress rather
// than an empty error. Without a server of ours it cannot be built.
func TestNoAddressClient(t *testing.T) {
	ctx := context.Background()
	cb := makeContent(t, 100_000, 16<<10, 36)
	a := startBothEnd(t, newIdent(t), newLib(t), everyoneEnrolled{})
	b := startBothEnd(t, newIdent(t), holder(t, cb), everyoneEnrolled{})
	if _, err := NewClient(a.id, b.id.ID(), nil, ClientOptions{}); err == nil {
		t.Fatal("a client with no address, no relay and no server was built")
	}
	ab, err := NewClient(a.id, b.id.ID(), nil, ClientOptions{Server: a.srv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ab.Close)
	if a.srv.Connected(b.id.ID()) {
		t.Fatal("Connected before B dialled")
	}
	ba := b.clientOf(t, a)
	if _, err := ba.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.srv.Connected(b.id.ID()) {
		t.Fatal("B's connection to A does not count as Connected")
	}
	if _, err := ab.Chunk(ctx, cb.m, 0, nil); err != nil {
		t.Fatalf("over B's connection: %v", err)
	}
	if n := ab.Handshakes() + b.ln.n.Load(); n != 0 {
		t.Errorf("A dialled B (%d) with no address", n)
	}
	ba.Close() // idle: B's connection to A closes
	deadline := time.Now().Add(30 * time.Second)
	for a.srv.Connected(b.id.ID()) {
		if time.Now().After(deadline) {
			t.Fatal("B's connection still there 30 s after B closed it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ab.Chunk(ctx, cb.m, 1, nil); !errors.Is(err, ErrNoAddress) {
		t.Errorf("after B's connection closed: %v, want ErrNoAddress", err)
	}
}
