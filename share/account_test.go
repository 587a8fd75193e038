package share

import (
	"context"
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
	x := startNode(t, d, "alice", nil)
	alices := startNode(t, d, "alice", nil)
	bobs := startNode(t, d, "bob", nil)
	if _, err := x.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := x.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if err := x.SetPolicy(ctx, "", directory.Policy{Mode: directory.PolicyHousehold}); err != nil {
		t.Fatal(err)
	}
	addr := x.Addr()
	offered := func(to *Node) bool {
		offers, err := to.Offers(ctx, x.neighbour())
		return err == nil && len(offers) == 1 && offers[0].Content == title.ContentID
	}
	check := func(when string, alice, bob bool) {
		t.Helper()
		if got := offered(alices); got != alice {
			t.Errorf("%s: offered to alice's device %v, want %v", when, got, alice)
		}
		if got := offered(bobs); got != bob {
			t.Errorf("%s: offered to bob's device %v, want %v", when, got, bob)
		}
	}
	check("signed in as alice", true, false)

	x.SetAccount("") // sign out
	check("signed out", false, false)
	if _, err := x.Register(ctx, title.ID); err == nil || !strings.Contains(err.Error(), "sign in first") {
		t.Errorf("registering while signed out: %v, want sign in first", err)
	}

	// Signed in again. (As another account it would be the same call, but
	// the directory keeps a device key under one account and answers its
	// look-ups of other accounts' devices with "not enrolled", so the
	// other account's devices would still be refused: see the note.)
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
