package share

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/share/library"
)

// startRelayDirectory is a directory offering a relay it runs with its
// own key, as `kith-directory serve --relay` does.
func startRelayDirectory(t testing.TB) (*testDirectory, *relay.Server) {
	t.Helper()
	var rs *relay.Server
	d := startDirectoryWith(t, func(o *directory.Options) {
		var err error
		rs, err = relay.NewServer(relay.Options{Identity: o.Identity, Directory: o.Identity.ID(), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- rs.Serve(ctx, ln) }()
		t.Cleanup(func() { cancel(); <-done })
		o.Relay = &directory.RelayInfo{Addr: ln.Addr().String(), ID: o.Identity.ID()}
	})
	return d, rs
}

// unreachable advertises a port nobody listens on, as a device behind a
// NAT router announces its LAN address: the directory's check from
// outside fails, and so does every direct dial.
func unreachable(t testing.TB) func(*Options) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return func(o *Options) { o.AdvertiseAddrs = []string{addr} }
}

// TestRelayedDownload: A cannot be reached directly, so it keeps a
// connection to the directory's relay and the directory lists it as
// relayed; B downloads every chunk from A through the relay (none from the
// origin), and A's ledger credits B's bytes like direct ones.
func TestRelayedDownload(t *testing.T) {
	ctx := context.Background()
	d, rs := startRelayDirectory(t)
	title, plain := d.publish(t, "Far Song", 2<<20, 0)
	a := startNode(t, d, "alice", unreachable(t))
	// B asks for the splice only: on loopback a hole punch may or may not
	// win the race of crossing SYNs (no NAT router drops the early one).
	b := startNode(t, d, "bob", func(o *Options) { o.NoHolePunch = true })
	for _, n := range []*Node{a, b} {
		if _, err := n.Register(ctx, title.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		a.announceSoon()
		sups, err := b.dirClient().Suppliers(ctx, title.ContentID)
		if err == nil && len(sups) > 0 && sups[0].Device == a.ID() && sups[0].Reach == directory.ReachRelayed && sups[0].Relay != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A never listed as relayed: %+v %v", sups, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := b.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, title); !bytes.Equal(got, plain) {
		t.Fatal("B's plaintext differs")
	}
	fromA, fromOrigin := downloadedFrom(t, b, a.ID()), downloadedFrom(t, b, d.ident.ID())
	if fromA == 0 || fromOrigin != 0 {
		t.Fatalf("B took %d bytes from A and %d from the origin, want all from A", fromA, fromOrigin)
	}
	if st := rs.Stats(); st.SessionsTotal == 0 || st.Bytes < fromA {
		t.Fatalf("relay stats %+v, want the %d bytes through it", st, fromA)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		es, err := a.lib.Ledger(ctx, b.ID(), 10)
		var up int64
		for _, e := range es {
			if e.Direction == library.Up {
				up += e.Bytes
			}
		}
		if err == nil && up == fromA {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's ledger credits B with %d bytes (%v), want %d", up, err, fromA)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
