package share

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/lan"
	"github.com/kith-media/kith/share/peer"
)

// TestSecurityLANNeighbourRevoked: a device of the household that was
// revoked but still announces itself by mDNS (a lost phone, its key
// still working) is not listed as a neighbour, so no download dials it;
// one revoked while listed stops being listed at the next check, though
// it keeps announcing, its calls are refused at once although this device
// had served it, and a client a download held asks it nothing more. Real
// mDNS between three nodes of one process on one host of a network
// namespace LAN (the multicast they send loops back to the host's own
// sockets).
func TestSecurityLANNeighbourRevoked(t *testing.T) {
	if os.Getenv("KITH_LAN_VOUCH") == "" {
		inNamespace(t, "TestSecurityLANNeighbourRevoked", "KITH_LAN_VOUCH")
		return
	}
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "LAN Secret", 64<<10, 0)
	onLAN := func(o *Options) {
		o.ListenAddr = os.Getenv("KITH_LAN_VOUCH") + ":0"
		o.LAN, o.LANInterfaces, o.LANIPv4Only = true, []string{netns.Iface}, true
	}
	kept := startNode(t, d, "alice", onLAN)
	lost, _ := servePhone(t, d, "alice", onLAN) // revoked, still announcing with its key
	if err := kept.dirClient().RevokeDevice(ctx, lost.ID()); err != nil {
		t.Fatal(err)
	}
	asker := startNode(t, d, "alice", func(o *Options) { onLAN(o); o.NeighbourCheckInterval = 50 * time.Millisecond })

	// Both phones seen by mDNS and asked about at the directory.
	deadline := time.Now().Add(60 * time.Second) // mDNS rounds are 10 s apart
	for !(announced(asker, kept.ID()) && announced(asker, lost.ID()) && asked(asker, kept.ID()) && asked(asker, lost.ID())) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: kept phone announced %v, asked %v; lost phone announced %v, asked %v; services %+v",
				announced(asker, kept.ID()), asked(asker, kept.ID()), announced(asker, lost.ID()), asked(asker, lost.ID()), asker.Services())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ns := asker.Neighbours(); len(ns) != 1 || ns[0].ID != kept.ID() || !ns[0].LAN {
		t.Fatalf("neighbours %+v; want only the enrolled phone %s (found by mDNS), not the revoked one %s", ns, kept.ID().Short(), lost.ID().Short())
	}
	if peers, _, _, err := asker.suppliers(ctx, title.ContentID); err != nil || len(peers) != 1 || peers[0].ID != kept.ID() {
		t.Fatalf("peers of a download: %+v, %v; want the enrolled phone only", peers, err)
	}
	if _, err := kept.Offers(ctx, asker.neighbour()); err != nil { // served: the asker keeps its account
		t.Fatal(err)
	}
	held, err := asker.peerFor(asker.Neighbours()[0]) // as a running download holds it
	if err != nil {
		t.Fatal(err)
	}

	if err := asker.dirClient().RevokeDevice(ctx, kept.ID()); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second) // many checks, however loaded the machine
	for len(asker.Neighbours()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("revoked 30 s ago, still listed: %+v", asker.Neighbours())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !announced(asker, kept.ID()) {
		t.Fatal("the revoked phone's announcement expired: the test shows nothing about the check")
	}
	if peers, _, _, err := asker.suppliers(ctx, title.ContentID); err != nil || len(peers) != 0 {
		t.Fatalf("peers of a download after the revocation: %+v, %v; want none", peers, err)
	}
	var se *peer.StatusError
	if _, err := kept.Offers(ctx, asker.neighbour()); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Fatalf("the revoked phone asking for offers: %v, want 403", err)
	}
	if _, err := held.Offer(ctx); !errors.Is(err, peer.ErrRevoked) {
		t.Fatalf("asking the revoked phone through the client a download held: %v, want %v", err, peer.ErrRevoked)
	}
}

// TestLANNeighbourEnrolledAfterSeen: a device found on the LAN before it
// is enrolled (one being paired announces itself at once) is listed once
// it is, and its calls are served meanwhile: the directory's "not
// enrolled" only keeps it off the list. Before, the check refused its
// calls for 30 s, and a purchase relayed through this device right after
// enrolling got 403 (e2e TestHousehold).
func TestLANNeighbourEnrolledAfterSeen(t *testing.T) {
	if os.Getenv("KITH_LAN_LATE") == "" {
		inNamespace(t, "TestLANNeighbourEnrolledAfterSeen", "KITH_LAN_LATE")
		return
	}
	ctx := context.Background()
	d := startDirectory(t)
	asker := startNode(t, d, "alice", func(o *Options) {
		o.ListenAddr = os.Getenv("KITH_LAN_LATE") + ":0"
		o.LAN, o.LANInterfaces, o.LANIPv4Only = true, []string{netns.Iface}, true
		o.NeighbourCheckInterval = 50 * time.Millisecond
	})
	late, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	lc := d.client(t, late)
	node := serveNode(t, lc, late, "alice", func(o *Options) {
		o.ListenAddr = os.Getenv("KITH_LAN_LATE") + ":0"
		o.LAN, o.LANInterfaces, o.LANIPv4Only = true, []string{netns.Iface}, true
	})
	deadline := time.Now().Add(60 * time.Second) // mDNS rounds are 10 s apart
	for !asked(asker, late.ID()) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: announced %v, asked %v", announced(asker, late.ID()), asked(asker, late.ID()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ns := asker.Neighbours(); len(ns) != 0 {
		t.Fatalf("listed before it is enrolled: %+v", ns)
	}
	if err := lc.EnrollDevice(ctx, "alice", "correct horse battery", "late phone"); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Offers(ctx, asker.neighbour()); err != nil {
		t.Fatalf("the device, enrolled now, asking for offers: %v", err)
	}
	for len(asker.Neighbours()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("enrolled, not listed: %+v", asker.Neighbours())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// announced reports whether n's mDNS browser sees device id.
func announced(n *Node, id identity.ID) bool {
	b := n.browser.Load()
	return b != nil && slices.ContainsFunc(b.Neighbours(), func(x lan.Neighbour) bool { return x.DeviceID == string(id) })
}

// asked reports whether n has the directory's answer about device id,
// found by mDNS.
func asked(n *Node, id identity.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.lanVouch[id]
	return ok
}

// inNamespace runs test name of this binary again on the host of a
// network namespace LAN of one, with environment variable env set to the
// host's address, and fails when that run fails or did not run the test.
func inNamespace(t *testing.T, name, env string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a network namespace")
	}
	h := netns.New(t, 1).Hosts[0] // skips with the reason when namespaces are unavailable
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+h.IP.String())
	out, err := cmd.CombinedOutput()
	t.Logf("in %s:\n%s", h.Name, out)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s in the namespace: %v", name, err)
	}
}
