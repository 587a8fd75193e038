package share

import (
	"context"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// serveBare serves a node built without a directory or an account (a
// device that has not paired yet) until the test ends.
func serveBare(t *testing.T, dev *identity.Identity) *Node {
	t.Helper()
	n, err := NewNode(Options{DataDir: t.TempDir(), Identity: dev, Logger: quiet, AnnounceInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node: %v", err)
		}
	})
	return n
}

// A node built before its device paired gets its directory at run time
// (SetDirectory): nobody is served before; after, the same serving node
// shows the directory in hello, learns the account its device is enrolled
// under, announces itself (heartbeat) and serves its household. Another
// directory is refused (that is a restart).
func TestDirectoryArrivesAtRunTime(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Later Song", 128<<10, 0)
	alices := startNode(t, d, "alice", nil) // creates alice
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := d.client(t, dev)
	if err := c.EnrollDevice(ctx, "alice", "correct horse battery", "later"); err != nil {
		t.Fatal(err)
	}
	x := serveBare(t, dev)
	addr := x.Addr()
	if _, err := alices.Offers(ctx, x.neighbour()); err == nil {
		t.Errorf("a node without a directory offered something")
	}
	if _, err := x.Register(ctx, title.ID); err == nil {
		t.Errorf("a node without a directory registered a title")
	}

	if err := x.SetDirectory(c); err != nil {
		t.Fatal(err)
	}
	if err := x.SetDirectory(c); err != nil {
		t.Errorf("the same directory again: %v", err)
	}
	other := startDirectory(t)
	if err := x.SetDirectory(other.client(t, dev)); err == nil {
		t.Errorf("another directory accepted at run time")
	}
	deadline := time.Now().Add(30 * time.Second)
	for x.Account() != "alice" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if x.Account() != "alice" {
		t.Fatalf("account %q, want alice (learnt from the directory)", x.Account())
	}
	cl, err := alices.Peer(x.ID(), []string{x.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := cl.Hello(ctx); err != nil || h.Directory != d.ident.ID() {
		t.Errorf("hello after SetDirectory: %+v, %v", h, err)
	}
	if _, err := x.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := x.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if err := x.SetPolicy(ctx, "", directory.Policy{Mode: directory.PolicyHousehold}); err != nil {
		t.Fatal(err)
	}
	if offers, err := alices.Offers(ctx, x.neighbour()); err != nil || len(offers) != 1 {
		t.Errorf("offers to alice's device: %v, %v", offers, err)
	}
	waitSupplier(t, alices, x, title)
	if x.Addr() != addr {
		t.Errorf("the node moved from %s to %s", addr, x.Addr())
	}
}
