package share

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kith-media/kith/directory"
)

// The owner's account changes while the node serves: signed out, its
// household-only titles reach nobody and it registers nothing; signed in
// again, its household's devices get them and it registers again. The
// node is the same one throughout (same Serve, same address): nothing is
// rebuilt.
func TestAccountChangesAtRunTime(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Household Song", 256<<10, 0)
	x := startNode(t, d, "alice", manyLookups)
	alices := startNode(t, d, "alice", nil)
	bobs := startNode(t, d, "bob", nil)
	if _, err := x.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	addr := x.Addr()
	check := householdOffers(t, x, title, alices, bobs)
	check("signed in as alice", true, false)

	x.SetAccount("") // sign out
	check("signed out", false, false)
	if _, err := x.Register(ctx, title.ID); err == nil || !strings.Contains(err.Error(), "sign in first") {
		t.Errorf("registering while signed out: %v, want sign in first", err)
	}

	// Signed in again (TestSignOutAndInAsAnotherAccount switches to another
	// account, which needs the directory's leave).
	x.SetAccount("alice")
	if x.Account() != "alice" {
		t.Fatalf("account %q, want alice", x.Account())
	}
	check("signed in again", true, false)
	if _, err := x.Register(ctx, title.ID); err != nil {
		t.Errorf("registering after signing in again: %v", err)
	}
	if x.Addr() != addr {
		t.Errorf("the node moved from %s to %s: rebuilt?", addr, x.Addr())
	}
}

// One running node signs out of alice's account and in as bob, with the
// real directory: the directory drops it from alice's devices and supplier
// lists and lets it enroll under bob (409 before the leave); bob's
// household rules apply at once (bob's device is offered the title, alice's
// is not); alice's license on the device is not used for bob (no key until
// bob buys it); bob's purchase plays; and switching back to alice gets her
// license again. The node is the same throughout.
func TestSignOutAndInAsAnotherAccount(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, plain := d.publish(t, "Priced Song", 256<<10, 300)
	x := startNode(t, d, "alice", manyLookups)
	alices := startNode(t, d, "alice", nil)
	bobs := startNode(t, d, "bob", nil)
	if _, err := x.Buy(ctx, title.ID, testCard); err != nil {
		t.Fatal(err)
	}
	addr := x.Addr()
	check := householdOffers(t, x, title, alices, bobs)
	listedAs := func(asker *Node) (bool, string) {
		sups, err := asker.dirClient().Suppliers(ctx, title.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sups {
			if s.Device == x.ID() {
				return true, s.Account
			}
		}
		return false, ""
	}
	check("alice's", true, false)
	waitSupplier(t, alices, x, title)
	var de *directory.Error
	if err := x.dirClient().EnrollDevice(ctx, "bob", "correct horse battery", "x"); !errors.As(err, &de) || de.Status != 409 {
		t.Fatalf("enrolling under bob while in alice's account: %v, want 409", err)
	}

	if err := x.LeaveAccount(ctx); err != nil {
		t.Fatalf("signing out: %v", err)
	}
	if x.Account() != "" {
		t.Fatalf("account %q after signing out", x.Account())
	}
	check("signed out", false, false)
	if ok, _ := listedAs(alices); ok {
		t.Errorf("signed out, still listed to alice as a supplier")
	}
	if ds, err := alices.dirClient().Devices(ctx); err != nil || len(ds) != 1 {
		t.Errorf("alice's devices after the sign-out: %d, %v; want 1", len(ds), err)
	}

	// Sign in as bob: enroll, and the running node follows.
	if err := x.dirClient().EnrollDevice(ctx, "bob", "correct horse battery", "x"); err != nil {
		t.Fatalf("enrolling under bob after leaving alice's account: %v", err)
	}
	x.SetAccount("bob")
	check("bob's", false, true)
	if _, err := x.ContentKey(ctx, title.ContentID); err == nil {
		t.Errorf("bob's device opened alice's purchase with her license")
	}
	waitSupplier(t, bobs, x, title)
	if ok, acct := listedAs(bobs); !ok || acct != "bob" {
		t.Errorf("bob sees the device listed %v as %q, want bob's", ok, acct)
	}
	if ok, _ := listedAs(alices); ok {
		t.Errorf("alice's device is offered bob's household copy by the directory")
	}
	if _, err := x.Buy(ctx, title.ID, testCard); err != nil {
		t.Fatalf("bob buying: %v", err)
	}
	if got := readAll(t, x, title); !bytes.Equal(got, plain) {
		t.Errorf("bob's purchase does not play")
	}

	// And back to alice: her license is issued again, bob's is not used.
	if err := x.LeaveAccount(ctx); err != nil {
		t.Fatal(err)
	}
	if err := x.dirClient().EnrollDevice(ctx, "alice", "correct horse battery", "x"); err != nil {
		t.Fatal(err)
	}
	x.SetAccount("alice")
	check("alice's again", true, false)
	l, err := x.GetKey(ctx, title.ContentID, nil)
	if err != nil || l.Account != "alice" {
		t.Fatalf("alice's license after switching back: %+v, %v", l, err)
	}
	if x.Addr() != addr {
		t.Errorf("the node moved from %s to %s: rebuilt?", addr, x.Addr())
	}
}

// manyLookups lifts the peer server's per-address limit on account
// lookups: every test device calls from 127.0.0.1, and a changed account
// forgets what was looked up (a real household has an address each).
func manyLookups(o *Options) { o.Server.Lookups.PerCallerBurst = 100 }

// householdOffers downloads title on x, makes its copies household-only
// and returns a check of whether x offers it to alice's and bob's devices.
func householdOffers(t *testing.T, x *Node, title *directory.Title, alices, bobs *Node) func(when string, alice, bob bool) {
	t.Helper()
	ctx := context.Background()
	if err := x.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if err := x.SetPolicy(ctx, "", directory.Policy{Mode: directory.PolicyHousehold}); err != nil {
		t.Fatal(err)
	}
	offered := func(to *Node) bool {
		offers, err := to.Offers(ctx, x.neighbour())
		return err == nil && len(offers) == 1 && offers[0].Content == title.ContentID
	}
	return func(when string, alice, bob bool) {
		t.Helper()
		if got := offered(alices); got != alice {
			t.Errorf("%s: offered to alice's device %v, want %v", when, got, alice)
		}
		if got := offered(bobs); got != bob {
			t.Errorf("%s: offered to bob's device %v, want %v", when, got, bob)
		}
	}
}
