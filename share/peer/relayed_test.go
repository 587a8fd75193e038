package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// relayRig is a relay on loopback, a directory key signing its tickets
// and a supplier's peer server reachable only through it.
type relayRig struct {
	dir, sup *identity.Identity
	addr     string // the relay's
	srv      *Server
	lib      *library.Library
	relay    *relay.Server
}

func newRelayRig(t testing.TB, c *content, accts Accounts) *relayRig {
	t.Helper()
	r := &relayRig{dir: newIdent(t), sup: newIdent(t)}
	rs, err := relay.NewServer(relay.Options{Identity: newIdent(t), Directory: r.dir.ID(), Logger: quiet, RatePerDevice: -1, RateTotal: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr, r.relay = ln.Addr().String(), rs
	r.lib = holder(t, c)
	r.srv, err = NewServer(ServerOptions{Identity: r.sup, Library: r.lib, Accounts: accts, Owner: "alice", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := relay.NewListener(relay.ListenerOptions{Identity: r.sup, Addr: r.addr, RelayID: rs.ID(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	go func() { done <- rs.Serve(ctx, ln) }()
	go func() { done <- rl.Serve(ctx) }()
	go func() { done <- r.srv.Serve(ctx, rl) }()
	t.Cleanup(func() {
		cancel()
		rl.Close()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !rs.Connected(r.sup.ID()) {
		if time.Now().After(deadline) {
			t.Fatal("the supplier never connected to the relay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

// dialer returns a ClientOptions.Relay for asker, with a fresh ticket each time.
func (r *relayRig) dialer(t testing.TB, asker *identity.Identity) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		tk, err := relay.SignTicket(r.dir, relay.Ticket{Asker: asker.ID(), Supplier: r.sup.ID(), Expires: time.Now().Add(time.Minute)})
		if err != nil {
			return nil, err
		}
		return relay.Dial(ctx, r.addr, tk)
	}
}

// ledgerUp is what the supplier's ledger credits as uploaded to peer,
// polled for up to 30 s until it reaches want: the server credits a chunk
// after its write returns, which may be after the asker has it.
func (r *relayRig) ledgerUp(t testing.TB, peer identity.ID, want int64) int64 {
	t.Helper()
	var up int64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := r.srv.FlushLedger(); err != nil {
			t.Fatal(err)
		}
		es, err := r.lib.Ledger(context.Background(), peer, 10)
		if err != nil {
			t.Fatal(err)
		}
		up = 0
		for _, e := range es {
			if e.Direction == library.Up {
				up += e.Bytes
			}
		}
		if up >= want || time.Now().After(deadline) {
			return up
		}
	}
}

// closedAddr is a loopback address nobody listens on: the direct dial fails.
func closedAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// TestRelayedClient: a supplier reachable only through a relay serves
// every chunk over the end-to-end TLS, credits the asker in its ledger
// like a direct one, and still applies its copy restrictions.
func TestRelayedClient(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 3<<20, 64<<10, 7)
	b, excluded := newIdent(t), newIdent(t)
	r := newRelayRig(t, c, fakeAccounts{b.ID(): "bob", excluded.ID(): "eve"})
	cl, err := NewClient(b, r.sup.ID(), []string{closedAddr(t)}, ClientOptions{Relay: r.dialer(t, b), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []byte
	for i := range c.m.NumChunks() {
		ch, err := cl.Chunk(ctx, c.m, i, nil)
		if err != nil {
			t.Fatalf("chunk %d through the relay: %v", i, err)
		}
		if !bytes.Equal(ch, c.chunk(i)) {
			t.Fatalf("relayed chunk %d differs", i)
		}
		got = append(got, ch...)
	}
	if !cl.Relayed() {
		t.Error("the client does not say it went through the relay")
	}
	if up := r.ledgerUp(t, b.ID(), int64(len(got))); up != int64(len(got)) {
		t.Fatalf("supplier's ledger credits %d bytes up to B, want %d", up, len(got))
	}
	if st := r.relay.Stats(); st.Bytes < int64(len(got)) {
		t.Fatalf("relay spliced %d bytes, fewer than the %d served", st.Bytes, len(got))
	}

	// The owner excludes eve's account: refused through the relay as directly.
	if err := r.lib.SetPolicy(ctx, "", library.Policy{Mode: "anyone", Deny: []string{"eve"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.lib.SetPolicy(ctx, "title-1", library.Policy{Mode: "anyone", Deny: []string{"eve"}}); err != nil {
		t.Fatal(err)
	}
	ce, err := NewClient(excluded, r.sup.ID(), nil, ClientOptions{Relay: r.dialer(t, excluded), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close()
	var se *StatusError
	if _, err := ce.Offer(ctx); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("excluded device's offer through the relay: %v, want 403", err)
	}
	if _, err := ce.Chunk(ctx, c.m, 0, nil); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("excluded device's chunk through the relay: %v, want 403", err)
	}
}

// TestRelayFlippingBytesIsBlamed: a relay that alters one byte of the
// stream breaks the TLS record; the error names the relay (ErrRelay),
// not the supplier (never ErrMisbehaving, so the fetcher does not ban
// the supplier), and the relay goes last in the dial order.
func TestRelayFlippingBytesIsBlamed(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 1<<20, 64<<10, 8)
	b := newIdent(t)
	r := newRelayRig(t, c, everyoneEnrolled{})
	honest := r.dialer(t, b)
	var flipped atomic.Int64
	evil := func(ctx context.Context) (net.Conn, error) {
		up, err := honest(ctx)
		if err != nil {
			return nil, err
		}
		mine, theirs := net.Pipe()
		go func() { io.Copy(up, theirs); up.Close() }()
		go func() {
			// pass the handshake, then flip a byte 40 KiB into the answers
			buf := make([]byte, 32<<10)
			var n int64
			for {
				k, err := up.Read(buf)
				if k > 0 {
					if n < 40<<10 && n+int64(k) >= 40<<10 {
						buf[40<<10-n] ^= 0x20
						flipped.Add(1)
					}
					n += int64(k)
					if _, werr := theirs.Write(buf[:k]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			theirs.Close()
		}()
		return mine, nil
	}
	cl, err := NewClient(b, r.sup.ID(), nil, ClientOptions{Relay: evil, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var lastErr error
	for i := range c.m.NumChunks() {
		if _, err := cl.Chunk(ctx, c.m, i, nil); err != nil {
			lastErr = err
			break
		}
	}
	if flipped.Load() == 0 || lastErr == nil {
		t.Fatalf("no byte flipped (%d) or no error (%v)", flipped.Load(), lastErr)
	}
	if !errors.Is(lastErr, ErrRelay) || errors.Is(lastErr, ErrMisbehaving) {
		t.Fatalf("a flipped byte gave %v: want ErrRelay, not ErrMisbehaving", lastErr)
	}
	if cl.Relayed() {
		t.Error("the relay that altered bytes is still the preferred path")
	}
}
