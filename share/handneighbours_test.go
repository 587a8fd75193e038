package share

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// TestParseNeighbourAddr: host:port with a host name or an IP address and
// a port 1..65535, in the form it is dialed; anything else is refused.
func TestParseNeighbourAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.20:7143":   "192.168.1.20:7143",
		" Study.LAN:7143 ":    "study.lan:7143",
		"[fd00::20]:7143":     "[fd00::20]:7143",
		"[::ffff:10.0.0.1]:1": "10.0.0.1:1",
		"localhost:65535":     "localhost:65535",
	} {
		if got, err := ParseNeighbourAddr(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "192.168.1.20", "192.168.1.20:0", "192.168.1.20:65536", "h:-1", "h:x",
		"https://h:1", "h/x:1", "-h:1", "a..b:1", "0.0.0.0:1", "[::]:1", "224.0.0.251:5353", "h :1",
		strings.Repeat("a", 64) + ":1", strings.Repeat("a.", 140) + ":1", "[fe80::1%eth0]:1", "h:1:2"} {
		if got, err := ParseNeighbourAddr(bad); !errors.Is(err, ErrBadNeighbourAddr) {
			t.Errorf("%q accepted as %q (%v)", bad, got, err)
		}
	}
}

// TestNeighbourAddedByHand: a device typed in by address, with real
// nodes, directory and mutual TLS on loopback (LAN discovery off, as
// where the router drops multicast). The device there proves its key and
// is enrolled, so it is listed (by hand, under its enrolled name) and
// offers its titles; the address is only a hint: a device the directory
// does not know, a TLS server that is no Kith device, nothing listening,
// this device itself and a malformed address are refused, and a stored
// neighbour is dialed only as the device that proved itself there. The
// neighbour is kept across a restart, and removed by address or ID.
func TestNeighbourAddedByHand(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Hand Song", 64<<10, 0)
	holder := startNode(t, d, "alice", nil)
	if err := holder.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	asker := startNode(t, d, "alice", func(o *Options) {
		o.DataDir = data
		o.NeighbourCheckInterval = time.Hour // keeps the entry naming a device never enrolled, below
	})
	if len(asker.Neighbours()) != 0 {
		t.Fatalf("neighbours before adding: %+v", asker.Neighbours())
	}

	nb, err := asker.AddNeighbour(ctx, holder.Addr())
	if err != nil {
		t.Fatal(err)
	}
	want := "dev-" + holder.ID().Short()
	if nb.ID != holder.ID() || !nb.Hand || nb.LAN || nb.Name != want || len(nb.Addrs) != 1 || nb.Addrs[0] != holder.Addr() {
		t.Fatalf("added %+v, want %s (%s) by hand at %s", nb, holder.ID(), want, holder.Addr())
	}
	ns := asker.Neighbours()
	if len(ns) != 1 || ns[0].ID != holder.ID() || !ns[0].Hand {
		t.Fatalf("listed %+v", ns)
	}
	offers, err := asker.Offers(ctx, ns[0])
	if err != nil || len(offers) != 1 || offers[0].Content != title.ContentID {
		t.Fatalf("offers of the neighbour added by hand: %+v, %v", offers, err)
	}

	// Refused: a device the directory does not know (its own key, served).
	strangerID, _ := identity.Generate()
	stranger := serveNode(t, d.client(t, strangerID), strangerID, "", nil)
	tlsOnly := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsOnly.Close()
	nothing := "127.0.0.1:1" // no test listens on port 1 (a freed port could be taken again meanwhile)
	for _, k := range []struct{ what, addr, says string }{
		{"a device the directory does not know", stranger.Addr(), "is not enrolled with this device's directory"},
		{"a TLS server that is no Kith device", tlsOnly.Listener.Addr().String(), "not a Kith device"},
		{"nothing listening", nothing, "no Kith device answers there"},
		{"this device", asker.Addr(), "this device's own address"},
		{"a malformed address", "holder", "want HOST:PORT"},
	} {
		if _, err := asker.AddNeighbour(ctx, k.addr); err == nil || !strings.Contains(err.Error(), k.says) {
			t.Errorf("adding %s (%s): %v, want it refused: %q", k.what, k.addr, err, k.says)
		}
	}
	if ns := asker.Neighbours(); len(ns) != 1 {
		t.Fatalf("after the refusals: %+v", ns)
	}

	// Only the device that proved itself is dialed at the address: an
	// entry naming another device there is refused by the TLS check.
	other, _ := identity.Generate()
	if err := asker.Library().AddHandNeighbour(ctx, library.HandNeighbour{Addr: holder.Addr(), Device: other.ID()}); err != nil {
		t.Fatal(err)
	}
	asker.loadHand(ctx)
	ns = asker.Neighbours()
	if len(ns) != 1 || ns[0].ID != other.ID() {
		t.Fatalf("after the entry was changed: %+v", ns)
	}
	if _, err := asker.Offers(ctx, ns[0]); !errors.Is(err, identity.ErrWrongPeer) {
		t.Fatalf("dialing %s as another device: %v, want %v", holder.Addr(), err, identity.ErrWrongPeer)
	}
	if _, err := asker.AddNeighbour(ctx, holder.Addr()); err != nil { // checked again: holder
		t.Fatal(err)
	}

	// Kept across a restart: a node (built, not served) adds it, closes,
	// and the next node on its data folder lists it.
	restart := t.TempDir()
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := d.client(t, dev)
	if err := c.EnrollDevice(ctx, "alice", "correct horse battery", "restarted"); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		n, err := NewNode(Options{DataDir: restart, Identity: dev, Directory: c, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			_, err = n.AddNeighbour(ctx, holder.Addr())
		}
		ns := n.Neighbours()
		n.Close()
		if err != nil || len(ns) != 1 || ns[0].ID != holder.ID() || ns[0].Addrs[0] != holder.Addr() {
			t.Fatalf("start %d: %+v, %v; want the holder added by hand", round+1, ns, err)
		}
	}

	if err := asker.RemoveNeighbour(ctx, holder.ID().Short()); err != nil {
		t.Fatal(err)
	}
	if ns := asker.Neighbours(); len(ns) != 0 {
		t.Fatalf("after removing: %+v", ns)
	}
	if err := asker.RemoveNeighbour(ctx, holder.Addr()); !errors.Is(err, ErrNoHandNeighbour) {
		t.Fatalf("removing again: %v, want %v", err, ErrNoHandNeighbour)
	}
}

// FuzzParseNeighbourAddr: a typed address is refused or comes back in a
// form that parses to itself, within the stored bound, host:port.
func FuzzParseNeighbourAddr(f *testing.F) {
	for _, s := range []string{"192.168.1.20:7143", "Study.LAN:7143", "[fd00::20]:7143", "h:0", "[::ffff:10.0.0.1]:1", "a..b:1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseNeighbourAddr(s)
		if err != nil {
			if !errors.Is(err, ErrBadNeighbourAddr) {
				t.Fatalf("%q: error %v is not ErrBadNeighbourAddr", s, err)
			}
			return
		}
		if len(a) > library.MaxHandNeighbourAdr {
			t.Fatalf("%q → %q: over %d bytes", s, a, library.MaxHandNeighbourAdr)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			t.Fatalf("%q → %q: not host:port: %v", s, a, err)
		}
		if again, err := ParseNeighbourAddr(a); err != nil || again != a {
			t.Fatalf("%q → %q → %q, %v", s, a, again, err)
		}
	})
}
