package share

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/peer"
)

// TestFlowRelayedRegistration is flow 1: B registers through A, which
// forwards B's sealed registration; the directory credits A, B's license
// comes back via A, and A streams the ciphertext.
func TestFlowRelayedRegistration(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, plain := d.publish(t, "Relayed Song", 3<<20, 199)
	a := startNode(t, d, "alice", nil)
	b := startNode(t, d, "bob", nil)
	holdTitle(t, a, title)
	offers, err := b.Offers(ctx, a.neighbour())
	if err != nil || len(offers) != 1 || offers[0].TitleID != title.ID || !offers[0].Complete {
		t.Fatalf("offers = %+v, %v", offers, err)
	}
	reg, err := b.RegisterVia(ctx, a.neighbour(), title.ID, testCard)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Receipt.Supplier != a.ID() || reg.License.Device != b.ID() {
		t.Fatalf("receipt supplier %s, license device %s", reg.Receipt.Supplier, reg.License.Device)
	}
	if err := b.Fetch(ctx, title.ContentID, a.neighbour()); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, title); !bytes.Equal(got, plain) {
		t.Fatal("B's plaintext differs")
	}
	if got := downloadedFrom(t, b, a.ID()); got < int64(len(plain)) {
		t.Fatalf("B downloaded %d bytes from A, want the whole file", got)
	}
	a.srv.FlushLedger()
	up, _ := a.lib.Ledger(ctx, b.ID(), 10)
	if len(up) == 0 || up[0].Direction != "up" {
		t.Fatalf("A's ledger of uploads to B = %+v", up)
	}
}

// TestFlowDirectoryCoupled is flow 2: C buys from the directory and
// downloads from the ranked suppliers (A and B), not from the origin.
func TestFlowDirectoryCoupled(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, plain := d.publish(t, "Popular Song", 4<<20, 0)
	a := startNode(t, d, "alice", nil)
	b := startNode(t, d, "bob", nil)
	c := startNode(t, d, "carol", nil)
	for _, n := range []*Node{a, b} {
		if _, err := n.Register(ctx, title.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	waitSupplier(t, b, a, title)
	if err := b.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if got := downloadedFrom(t, b, d.ident.ID()); got > title.Size/4 {
		t.Errorf("B took %d of %d bytes from the origin although A supplies it", got, title.Size)
	}
	waitSupplier(t, c, b, title)
	if _, err := c.Buy(ctx, title.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, title); !bytes.Equal(got, plain) {
		t.Fatal("C's plaintext differs")
	}
	fromA, fromB, fromOrigin := downloadedFrom(t, c, a.ID()), downloadedFrom(t, c, b.ID()), downloadedFrom(t, c, d.ident.ID())
	t.Logf("C downloaded %d from A, %d from B, %d from the origin", fromA, fromB, fromOrigin)
	if fromA == 0 || fromB == 0 {
		t.Errorf("C did not use both suppliers")
	}
	if fromOrigin > title.Size/4 {
		t.Errorf("C took %d bytes from the origin", fromOrigin)
	}
}

// TestFlowSuperdistribution is flow 3: B copies the ciphertext from its
// neighbour A without a license (and passes it on to C), and gets the key
// from the directory later.
func TestFlowSuperdistribution(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, plain := d.publish(t, "Shared Song", 2<<20, 99)
	a := startNode(t, d, "alice", nil)
	b := startNode(t, d, "bob", nil)
	c := startNode(t, d, "carol", nil)
	holdTitle(t, a, title)
	if err := b.Fetch(ctx, title.ContentID, a.neighbour()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, title.ContentID); err == nil {
		t.Fatal("B opened the title without a license")
	}
	// B passes the ciphertext on before it has any key.
	if err := c.Fetch(ctx, title.ContentID, b.neighbour()); err != nil {
		t.Fatal(err)
	}
	if got := downloadedFrom(t, c, b.ID()); got < int64(len(plain)) {
		t.Fatalf("C got %d bytes from B", got)
	}
	// The key, later: B registers (pays) with the directory.
	b.lib.PutTitle(ctx, libTitle(title))
	if _, err := b.GetKey(ctx, title.ContentID, testCard); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, title); !bytes.Equal(got, plain) {
		t.Fatal("B's plaintext differs")
	}
}

// TestRestrictionsBetweenNodes: A excludes B → B gets 403, no offer, no
// chunks, and the directory does not name A to B; A allows B → it works.
func TestRestrictionsBetweenNodes(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Private Song", 256<<10, 0)
	a := startNode(t, d, "alice", nil)
	b := startNode(t, d, "bob", nil)
	if _, err := a.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPolicy(ctx, "", directory.Policy{Mode: "anyone", Deny: []string{string(b.ID())}}); err != nil {
		t.Fatal(err)
	}
	var se *peer.StatusError
	if _, err := b.Offers(ctx, a.neighbour()); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("offer to an excluded device: %v, want 403", err)
	}
	if err := b.Fetch(ctx, title.ContentID, a.neighbour()); !errors.Is(err, peer.ErrNoSources) {
		t.Fatalf("fetch from a neighbour that excludes us: %v, want ErrNoSources", err)
	}
	if err := a.Announce(ctx); err != nil {
		t.Fatal(err)
	}
	sups, err := b.dirClient().Suppliers(ctx, title.ContentID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sups {
		if s.Device == a.ID() {
			t.Fatal("the directory names A to B although A excludes B")
		}
	}
	if err := a.SetPolicy(ctx, "", directory.Policy{Mode: "anyone"}); err != nil {
		t.Fatal(err)
	}
	if offers, err := b.Offers(ctx, a.neighbour()); err != nil || len(offers) != 1 {
		t.Fatalf("offer after A allows B: %v, %v", offers, err)
	}
	if err := b.Fetch(ctx, title.ContentID, a.neighbour()); err != nil {
		t.Fatalf("fetch after A allows B: %v", err)
	}
}

// TestRepairRefetchesOwnDamage: a chunk damaged on our disk is found by
// Repair and fetched again from a supplier, and nobody is blamed.
func TestRepairRefetchesOwnDamage(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, plain := d.publish(t, "Fragile Song", 1<<20, 0)
	a := startNode(t, d, "alice", nil)
	if _, err := a.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	m, _ := a.lib.Manifest(ctx, title.ContentID)
	path := filepath.Join(a.lib.Dir(), "content", title.ContentID.String()+".sealed")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := m.ChunkRange(2)
	f.WriteAt([]byte("rot"), off+100)
	f.Close()
	n, err := a.Repair(ctx, title.ContentID)
	if err != nil || n != 1 {
		t.Fatalf("repair: %d damaged, %v", n, err)
	}
	if got := readAll(t, a, title); !bytes.Equal(got, plain) {
		t.Fatal("plaintext differs after repair")
	}
}
