package wire

import (
	"context"
	"testing"
	"time"

	"github.com/kith-media/kith/share"
)

// The app adds a neighbour by its address over the real parts: the app's
// household directory, and a second device (a share.Node on loopback,
// enrolled in the household) that LAN discovery is off for. Neighbours
// lists it marked ByHand and Offer reaches it; the app shows its own
// address to type on the other device; after a restart it is still
// listed; Remove forgets it, and an address where no device answers is
// refused.
func TestNeighbourAddedByHandInTheApp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, stop := startKith(t, ctx, dir)
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	dev, dc := otherDevice(t, k)
	if err := dc.EnrollDevice(ctx, "household", "correct horse battery", "attic"); err != nil {
		t.Fatal(err)
	}
	other, err := share.NewNode(share.Options{DataDir: t.TempDir(), Identity: dev, Directory: dc, Account: "household",
		Name: "attic", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	octx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- other.Serve(octx) }()
	defer func() {
		cancel()
		<-done
	}()

	ns := k.Backend.Neighbours
	if self := ns.Address(); self == "" || self == other.Addr() {
		t.Fatalf("the app's own address: %q", self)
	}
	if _, err := ns.Add(ctx, "127.0.0.1:1"); err == nil {
		t.Fatal("an address where nothing answers was added")
	}
	nb, err := ns.Add(ctx, other.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if nb.ID != dev.ID() || nb.Name != "attic" || !nb.ByHand || nb.Addr != other.Addr() {
		t.Fatalf("added %+v", nb)
	}
	listed := func(when string) {
		t.Helper()
		got := ns.Neighbours()
		if len(got) != 1 || got[0].ID != dev.ID() || !got[0].ByHand || got[0].Name != "attic" {
			t.Fatalf("%s: listed %+v", when, got)
		}
		if _, err := ns.Offer(ctx, dev.ID()); err != nil {
			t.Fatalf("%s: asking the neighbour added by hand what it offers: %v", when, err)
		}
	}
	listed("after adding")
	stop()

	k, stop = startKith(t, ctx, dir)
	defer stop()
	ns = k.Backend.Neighbours
	waitFor(t, "the app's node to have its directory", 60*time.Second, func() bool { return len(ns.Neighbours()) > 0 })
	listed("after a restart")
	if err := ns.Remove(ctx, dev.ID()); err != nil {
		t.Fatal(err)
	}
	if got := ns.Neighbours(); len(got) != 0 {
		t.Fatalf("after removing: %+v", got)
	}
}
