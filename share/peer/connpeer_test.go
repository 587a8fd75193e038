package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync"
	"testing"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// TestSecurityCallerPerConnection: the server works out a caller's device
// ID once per connection (connPeer), so it must never hand one
// connection's ID to another's requests. A denied device and an allowed
// one ask the same server at once, many times, each over its own chunk-wire
// connection, its own HTTP/2 one and over HTTP/1.1 connections (one per
// request in flight):
// the denied one gets nothing, the allowed one everything, every time.
func TestSecurityCallerPerConnection(t *testing.T) {
	ct := makeContent(t, 30_000, 4096, 12)
	a, friend, bob := newIdent(t), newIdent(t), newIdent(t)
	lib := holder(t, ct)
	if err := lib.SetPolicy(context.Background(), "", library.Policy{Mode: "anyone", Deny: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	accts := &countingAccounts{known: map[identity.ID]string{a.ID(): "alice", friend.ID(): "carol", bob.ID(): "bob"}}
	// Each device has 12 requests in flight at most (three clients, four
	// goroutines each): the per-device upload limit (default 6) is not what
	// this test is about, and on a loaded machine, where handlers run
	// long enough to overlap, friend's seventh was answered 503.
	_, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Owner: "alice", Accounts: accts, MaxUploadsPerPeer: 12})
	ctx := context.Background()
	cid, n := ct.m.ContentID(), ct.m.NumChunks()
	h1 := func(id *identity.Identity) *Client { // a client whose chunk requests all go over HTTP/1.1
		c := client(t, id, a.ID(), addr)
		c.bulk.after = 0
		c.bulk.until.Store(1 << 62)
		return c
	}
	h2 := func(id *identity.Identity) *Client { // a client that does not offer the chunk wire
		c, err := NewClient(id, a.ID(), []string{addr}, ClientOptions{httpOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	clients := []struct {
		name    string
		c       *Client
		allowed bool
	}{
		{"friend wire", client(t, friend, a.ID(), addr), true},
		{"bob wire", client(t, bob, a.ID(), addr), false},
		{"friend h2", h2(friend), true},
		{"bob h2", h2(bob), false},
		{"friend h1", h1(friend), true},
		{"bob h1", h1(bob), false},
	}
	var wg sync.WaitGroup
	for _, cl := range clients {
		for range 4 {
			wg.Go(func() {
				for i := range 25 {
					_, herr := cl.c.Have(ctx, cid, n)
					_, cerr := cl.c.Chunk(ctx, ct.m, i%n, nil)
					if cl.allowed && (herr != nil || cerr != nil) {
						t.Errorf("%s refused: have %v, chunk %v", cl.name, herr, cerr)
						return
					}
					if !cl.allowed && (herr == nil || cerr == nil) {
						t.Errorf("%s served: have error %v, chunk error %v", cl.name, herr, cerr)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, cl := range clients[4:] {
		if cl.c.bulk.tr == nil || cl.c.Handshakes() < 2 {
			t.Errorf("%s opened %d connections: the HTTP/1.1 lane was not used", cl.name, cl.c.Handshakes())
		}
	}
}

// TestConnPeer: a connection's caller is worked out from its handshake
// once and kept (a connection's peer certificate cannot change), a failure
// is not kept, and each connection gets its own.
func TestConnPeer(t *testing.T) {
	x, y := newIdent(t), newIdent(t)
	state := func(id *identity.Identity) *tls.ConnectionState {
		c, err := id.Certificate()
		if err != nil {
			t.Fatal(err)
		}
		return &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{c.Leaf}}
	}
	req := func(ctx context.Context, cs *tls.ConnectionState) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://kith-peer/", nil)
		r.TLS = cs
		return r
	}
	one := connContext(context.Background(), nil)
	if _, err := caller(req(one, &tls.ConnectionState{HandshakeComplete: true})); err == nil {
		t.Fatal("a connection without a certificate has a caller")
	}
	if id, err := caller(req(one, state(x))); err != nil || id != x.ID() {
		t.Fatalf("caller = %s, %v; want %s", id, err, x.ID())
	}
	if id, _ := caller(req(one, state(y))); id != x.ID() {
		t.Errorf("the connection's caller changed to %s", id)
	}
	two := connContext(context.Background(), nil)
	if id, _ := caller(req(two, state(y))); id != y.ID() {
		t.Errorf("another connection's caller = %s, want %s", id, y.ID())
	}
	if _, err := caller(req(context.Background(), nil)); err == nil {
		t.Error("a request without TLS has a caller")
	}
}
