package share

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
)

// TestSecurityNeighbourAddedByHandRevoked: a device of the household that
// was revoked, still serving with its key at its address, is not added by
// hand: it proves its key, but the directory says it is revoked.
func TestSecurityNeighbourAddedByHandRevoked(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	asker := startNode(t, d, "alice", nil)
	lost, phone := servePhone(t, d, "", nil)
	if err := asker.dirClient().RevokeDevice(ctx, lost.ID()); err != nil {
		t.Fatal(err)
	}
	nb, err := asker.AddNeighbour(ctx, phone.Addr())
	if err == nil {
		t.Fatalf("a revoked device added by hand: %+v", nb)
	}
	t.Logf("refused: %v", err)
	if ns := asker.Neighbours(); len(ns) != 0 {
		t.Fatalf("listed after the refusal: %+v", ns)
	}
	if hs, err := asker.Library().HandNeighbours(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("stored after the refusal: %+v, %v", hs, err)
	}
}

// TestSecurityNeighbourAddedByHandRevokedLater: a household device added
// by hand and revoked afterwards (a lost phone, still serving with its key
// at its address) stops being a neighbour: the next check at the
// directory removes it, so it is no longer listed (no download dials
// it: suppliers lists it no more) nor stored, and its calls are refused
// at once, though this device had served it before and kept its account.
func TestSecurityNeighbourAddedByHandRevokedLater(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Lost Song", 64<<10, 0)
	asker := startNode(t, d, "alice", func(o *Options) { o.NeighbourCheckInterval = 50 * time.Millisecond })
	lost, phone := servePhone(t, d, "alice", nil)
	if _, err := asker.AddNeighbour(ctx, phone.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Offers(ctx, asker.neighbour()); err != nil { // served: the asker keeps its account
		t.Fatal(err)
	}
	if peers, _, _, err := asker.suppliers(ctx, title.ContentID); err != nil || len(peers) != 1 || peers[0].ID != lost.ID() {
		t.Fatalf("peers of a download before the revocation: %+v, %v; want the phone", peers, err)
	}

	if err := asker.dirClient().RevokeDevice(ctx, lost.ID()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // many checks, however loaded the machine
	for len(asker.Neighbours()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("revoked 30 s ago, still listed: %+v", asker.Neighbours())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if hs, err := asker.Library().HandNeighbours(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("still stored: %+v, %v", hs, err)
	}
	if peers, _, _, err := asker.suppliers(ctx, title.ContentID); err != nil || len(peers) != 0 {
		t.Fatalf("peers of a download after the revocation: %+v, %v; want none", peers, err)
	}
	var se *peer.StatusError
	if _, err := phone.Offers(ctx, asker.neighbour()); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Fatalf("the revoked phone asking for offers: %v, want 403", err)
	}
}

// servePhone enrolls a "lost phone" device under alice and serves its
// node (told its account is account; tune may be nil).
func servePhone(t *testing.T, d *testDirectory, account string, tune func(*Options)) (*identity.Identity, *Node) {
	t.Helper()
	lost, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	lc := d.client(t, lost)
	if err := lc.EnrollDevice(context.Background(), "alice", "correct horse battery", "lost phone"); err != nil {
		t.Fatal(err)
	}
	return lost, serveNode(t, lc, lost, account, tune)
}

// TestSecurityRevokeReachesReplacedClient: a client of a device that a
// running download may hold after the node replaced it (the device's
// addresses changed, so Peer made a new one) asks that device nothing
// more once the directory no longer vouches for it, like the current one.
func TestSecurityRevokeReachesReplacedClient(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	asker := startNode(t, d, "alice", nil)
	lost, phone := servePhone(t, d, "alice", nil)
	held, err := asker.Peer(lost.ID(), []string{phone.Addr()}) // as a download holds it
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Offer(ctx); err != nil {
		t.Fatal(err)
	}
	now, err := asker.Peer(lost.ID(), []string{phone.Addr(), "127.0.0.1:1"}) // its addresses changed
	if err != nil || now == held {
		t.Fatalf("a new client for new addresses: %v (the same: %v)", err, now == held)
	}
	asker.revokeClient(lost.ID())
	for name, c := range map[string]*peer.Client{"the replaced client": held, "the current client": now} {
		if _, err := c.Offer(ctx); !errors.Is(err, peer.ErrRevoked) {
			t.Errorf("%s after the revocation: %v, want %v", name, err, peer.ErrRevoked)
		}
	}
}

// TestReplacedClientsCollected: the clients peerFor replaced (a device's
// addresses changed) are kept for revokeClient only while something, a
// running download, holds them: replacing the clients of many devices
// leaves the node holding few entries once those clients are collected,
// and a replaced client still held is still revoked.
func TestReplacedClientsCollected(t *testing.T) {
	ctx := context.Background()
	asker := startNode(t, startDirectory(t), "alice", nil)
	const devices = 300
	var held *peer.Client
	var heldID identity.ID
	for i := range devices {
		id, old := clientOfNew(t, asker, "127.0.0.1:1")
		if _, err := asker.Peer(id, []string{"127.0.0.1:2"}); err != nil { // its address changed
			t.Fatal(err)
		}
		if i == 0 {
			held, heldID = old, id // as a running download holds it
		}
		if i%50 == 49 {
			runtime.GC() // the replaced clients nobody holds are collected
		}
	}
	asker.mu.Lock()
	kept := len(asker.weakly)
	asker.mu.Unlock()
	if kept > devices/2 {
		t.Errorf("%d devices' replaced clients kept after %d were replaced and collected, want few", kept, devices)
	}
	asker.revokeClient(heldID)
	if _, err := held.Offer(ctx); !errors.Is(err, peer.ErrRevoked) {
		t.Errorf("the replaced client still held, after the revocation: %v, want %v", err, peer.ErrRevoked)
	}
}

// TestClientsCacheBounded: peerFor's cache keeps at most maxClients
// clients; those turned out of it that nothing holds are collected, and
// one a running download still holds is found again by device (the same
// client: no second connection to the peer) and revoked.
func TestClientsCacheBounded(t *testing.T) {
	ctx := context.Background()
	asker := startNode(t, startDirectory(t), "alice", nil)
	const devices = 2*maxClients + 100
	var held *peer.Client
	var heldID identity.ID
	for i := range devices {
		id, c := clientOfNew(t, asker, "127.0.0.1:1")
		if i == 0 {
			held, heldID = c, id // as a running download holds it
		}
	}
	runtime.GC()
	asker.mu.Lock()
	strong, alive := len(asker.clients), 0
	for _, w := range asker.weakly {
		if w.turned.Value() != nil {
			alive++
		}
	}
	asker.mu.Unlock()
	if strong > maxClients || alive > 1 {
		t.Errorf("after clients for %d devices: %d cached, %d more alive, want at most %d and the one held", devices, strong, alive, maxClients)
	}
	if c, err := asker.Peer(heldID, []string{"127.0.0.1:1"}); err != nil || c != held {
		t.Errorf("the client a download holds, asked for again: a new one (%v)", err)
	}
	asker.revokeClient(heldID)
	if _, err := held.Offer(ctx); !errors.Is(err, peer.ErrRevoked) {
		t.Errorf("the held client after the revocation: %v, want %v", err, peer.ErrRevoked)
	}
}

// clientOfNew is asker's client of a new device (a fresh key) at addrs;
// nothing is dialled.
func clientOfNew(t *testing.T, asker *Node, addrs ...string) (identity.ID, *peer.Client) {
	t.Helper()
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := asker.Peer(dev.ID(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	return dev.ID(), c
}
