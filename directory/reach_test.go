package directory_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestReachRankingAndTickets: a directory with a relay checks each
// announcing device's peer port from outside, ranks the one it reached
// before the one that announced the relay, and issues relay tickets only
// to an asker the supplier's copy restriction lets in.
func TestReachRankingAndTickets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relayID, _ := identity.Generate()
	info := &directory.RelayInfo{Addr: "127.0.0.1:7400", ID: relayID.ID()}
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1, Relay: info})
	srv := d.Server
	device := func(account string) (*directory.Client, *identity.Identity) {
		return d.Enrolled(ctx, t, account, account+" device") // the second device finds the account made
	}
	var cid sealed.ContentID
	rand.Read(cid[:])
	open := directory.Policy{Mode: directory.PolicyAnyone}

	// direct: a real TLS peer port with the device's certificate
	direct, directDev := device("alice")
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, directDev.ServerTLS(nil))
			tc.Handshake()
			tc.Close()
		}
	}()
	ans, err := direct.AnnounceStatus(ctx, directory.Announcement{Addrs: []string{pl.Addr().String()},
		Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: open}}})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Reachable == nil || !*ans.Reachable || ans.Relay == nil || *ans.Relay != *info {
		t.Fatalf("direct device's answer %+v, want reachable and the relay", ans)
	}

	// behind NAT: its port is closed from outside; it keeps the relay
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	natted, nattedDev := device("bob")
	ans, err = natted.AnnounceStatus(ctx, directory.Announcement{Addrs: []string{closedAddr}, Relay: info.Addr,
		Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: open}}})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Reachable == nil || *ans.Reachable {
		t.Fatalf("NATed device's answer %+v, want not reachable", ans)
	}
	// a device that answers with another certificate is not reachable either
	impostor, _ := device("carol")
	ans, err = impostor.AnnounceStatus(ctx, directory.Announcement{Addrs: []string{pl.Addr().String()},
		Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyHousehold}}}})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Reachable == nil || *ans.Reachable {
		t.Fatalf("a port presenting another device's certificate counted as reachable: %+v", ans)
	}

	asker, askerDev := device("dave")
	sups, err := asker.Suppliers(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if len(sups) != 2 || sups[0].Device != directDev.ID() || sups[0].Reach != directory.ReachDirect ||
		sups[1].Device != nattedDev.ID() || sups[1].Reach != directory.ReachRelayed || sups[1].Relay != info.Addr {
		t.Fatalf("suppliers %+v, want the direct one, then the relayed one", sups)
	}

	tk, err := asker.RelayTicket(ctx, nattedDev.ID())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Relay != info.Addr {
		t.Fatalf("ticket for relay %q", tk.Relay)
	}
	got, err := relay.VerifyTicket(tk.Ticket, srv.ID(), time.Now())
	if err != nil || got.Asker != askerDev.ID() || got.Supplier != nattedDev.ID() {
		t.Fatalf("ticket %+v, %v", got, err)
	}
	// refused: a supplier whose policy excludes the asker, an unknown
	// device, the asker itself
	stranger, _ := identity.Generate()
	for _, who := range []identity.ID{impostor.Device().ID(), stranger.ID(), askerDev.ID()} {
		_, err := asker.RelayTicket(ctx, who)
		var de *directory.Error
		if !errors.As(err, &de) || de.Status != http.StatusNotFound {
			t.Errorf("ticket for %s: %v, want 404", who.Short(), err)
		}
	}
}
