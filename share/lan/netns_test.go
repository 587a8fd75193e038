package lan

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
)

// startHelper runs this test binary in host h in the given helper mode
// (netns.Host.Helper: stopped, checked and its log shown at cleanup).
func startHelper(t *testing.T, h netns.Host, mode string, env ...string) *netns.Proc {
	t.Helper()
	return h.Helper(t, mode, append([]string{helperEnv + "=" + mode}, env...)...)
}

// describe renders neighbours as "instance id addr,addr;…" for comparison.
func describe(rest string) string {
	var ns []Neighbour
	if err := json.Unmarshal([]byte(rest), &ns); err != nil {
		return "unparsable: " + err.Error()
	}
	var parts []string
	for _, n := range ns {
		var addrs []string
		for _, a := range n.Addrs {
			addrs = append(addrs, a.String())
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s", n.Instance, n.DeviceID, n.Fingerprint, strings.Join(addrs, ",")))
	}
	return strings.Join(parts, ";")
}

// TestNetnsDiscovery runs announcers and a browser in four network
// namespaces on one bridge, so mDNS really goes over multicast on veth
// interfaces:
//
//	a  device idA, directory fp1
//	b  device idB, directory fp1, browsing for devices of fp1
//	c  device idC, directory fp1, and the directory fp1 itself
//	d  device of directory fp2, a hostile announcer, later FindDirectory
//
// b must list exactly a and c (not itself, not d, not the hostile record),
// lose a within the expiry after a is killed, and d must find c's directory.
func TestNetnsDiscovery(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	lan := netns.New(t, 4)
	a, b, c, d := lan.Hosts[0], lan.Hosts[1], lan.Hosts[2], lan.Hosts[3]
	const expiry = 5 * time.Second
	fp := "KITH_LAN_FP=" + fp1
	start := time.Now()

	pa := startHelper(t, a, "announce", "KITH_LAN_INSTANCE=kith-a", "KITH_LAN_ID="+idA, fp, "KITH_LAN_PORT=7001")
	startHelper(t, c, "announce", "KITH_LAN_INSTANCE=kith-c", "KITH_LAN_ID="+idC, fp, "KITH_LAN_PORT=7003",
		"KITH_LAN_DIR_PORT=7443")
	startHelper(t, d, "announce", "KITH_LAN_INSTANCE=kith-d", "KITH_LAN_ID=DDDD", "KITH_LAN_FP="+fp2, "KITH_LAN_PORT=7004")
	startHelper(t, d, "hostile", fp, "KITH_LAN_PORT=7666")
	pb := startHelper(t, b, "announce", "KITH_LAN_INSTANCE=kith-b", "KITH_LAN_ID="+idB, fp, "KITH_LAN_PORT=7002",
		"KITH_LAN_BROWSE=1", "KITH_LAN_EXPIRY="+expiry.String())

	want := fmt.Sprintf("kith-a %s %s %s:7001;kith-c %s %s %s:7003", idA, fp1, a.IP, idC, fp1, c.IP)
	got := describe(pb.Line(t, "neighbours", 30*time.Second, func(rest string) bool {
		return strings.Count(describe(rest), ";") >= 1
	}))
	if got != want {
		t.Fatalf("b sees %q\nwant      %q", got, want)
	}
	t.Logf("b saw a and c after %v", time.Since(start).Round(time.Millisecond))

	// d finds the directory that c announces.
	find := startHelper(t, d, "find")
	found := describe(find.Line(t, "found", 30*time.Second, func(string) bool { return true }))
	wantDir := fmt.Sprintf("kithdir-dironeabcdefghij  %s %s:7443", fp1, c.IP)
	if found != wantDir {
		t.Errorf("FindDirectory in d: %q, want %q", found, wantDir)
	}

	// a crashes; b forgets it once it has not been seen for the expiry:
	// judged from b's last sighting of a (its LastSeen, printed as it
	// moves), not from the kill, since a answering late in its last rounds
	// (a paused helper) makes that sighting earlier than the kill.
	if err := pa.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	wantC := fmt.Sprintf("kith-c %s %s %s:7003", idC, fp1, c.IP)
	var lastSeen time.Time
	pb.Line(t, "neighbours", expiry+25*time.Second, func(rest string) bool {
		var ns []Neighbour
		if json.Unmarshal([]byte(rest), &ns) == nil {
			for _, n := range ns {
				if n.Instance == "kith-a" && n.LastSeen.After(lastSeen) {
					lastSeen = n.LastSeen
				}
			}
		}
		return describe(rest) == wantC
	})
	now := time.Now()
	left := now.Sub(killed)
	t.Logf("a left b's list %v after being killed, %v after b last saw it (expiry %v)",
		left.Round(time.Millisecond), now.Sub(lastSeen).Round(time.Millisecond), expiry)
	if lastSeen.IsZero() {
		t.Fatal("b's lines never showed when it last saw a")
	}
	if since := now.Sub(lastSeen); since < expiry {
		t.Errorf("a left %v after b last saw it, before the %v expiry", since, expiry)
	}
	if log := pb.Log(); !strings.Contains(log, "kith-evil") {
		t.Errorf("b's debug log does not mention ignoring the hostile record kith-evil")
	}
}

// TestNetnsNoLeak checks, in a namespace, that Announcer.Serve and
// Browser.Serve return promptly on cancel and leave no goroutines behind.
func TestNetnsNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	lan := netns.New(t, 1)
	p := startHelper(t, lan.Hosts[0], "leak")
	for line := range p.Lines {
		t.Log(line)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("leak helper: %v\n%s", err, p.Log())
	}
}

// TestNetnsMultiHomed checks discovery across several interfaces: host m
// is on two LANs. m's browser must see a (LAN 1) and c (LAN 2) with their
// own addresses, and a must see m with m's LAN 1 address first (m's LAN 2
// address is not reachable from a).
func TestNetnsMultiHomed(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	lan1 := netns.New(t, 2)
	lan2 := netns.New(t, 1)
	a, m, c := lan1.Hosts[0], lan1.Hosts[1], lan2.Hosts[0]
	m2 := lan2.Join(t, m)
	fp := "KITH_LAN_FP=" + fp1
	browse := []string{"KITH_LAN_BROWSE=1", "KITH_LAN_EXPIRY=30s"}
	pa := startHelper(t, a, "announce", append(browse, "KITH_LAN_INSTANCE=kith-a", "KITH_LAN_ID="+idA, fp, "KITH_LAN_PORT=7001")...)
	startHelper(t, c, "announce", "KITH_LAN_INSTANCE=kith-c", "KITH_LAN_ID="+idC, fp, "KITH_LAN_PORT=7003")
	pm := startHelper(t, m, "announce", append(browse, "KITH_LAN_INSTANCE=kith-b", "KITH_LAN_ID="+idB, fp, "KITH_LAN_PORT=7002")...)

	want := fmt.Sprintf("kith-a %s %s %s:7001;kith-c %s %s %s:7003", idA, fp1, a.IP, idC, fp1, c.IP)
	got := describe(pm.Line(t, "neighbours", 30*time.Second, func(rest string) bool {
		return strings.Count(describe(rest), ";") >= 1
	}))
	if got != want {
		t.Fatalf("m (on %s and %s) sees %q\nwant %q", m.Iface, m2.Iface, got, want)
	}
	first := fmt.Sprintf("%s:7002", m.IP)
	pa.Line(t, "neighbours", 30*time.Second, func(rest string) bool {
		var ns []Neighbour
		return json.Unmarshal([]byte(rest), &ns) == nil && len(ns) == 1 && ns[0].Instance == "kith-b" &&
			len(ns[0].Addrs) > 0 && ns[0].Addrs[0].String() == first
	})
}

// TestNetnsLoopback runs the loopback discovery check in a namespace whose
// lo has multicast switched on (TestLoopback skips where it is off).
func TestNetnsLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	h := netns.New(t, 1).Hosts[0]
	if out, err := h.Command(context.Background(), "ip", "link", "set", "lo", "multicast", "on").CombinedOutput(); err != nil {
		t.Fatalf("enabling multicast on lo in %s: %v %s", h.Name, err, out)
	}
	p := startHelper(t, h, "loopback")
	for range p.Lines {
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("loopback helper: %v\n%s", err, p.Log())
	}
}

// TestNetnsSameNameOneRound checks that one query round lists every
// address answering for one instance name: a rogue r copies a's record
// (same instance, device and directory) from its own address, and both
// answer the same query. Each round of b uses a fresh Browser, so nothing
// is merged across rounds; keeping one entry per name within a round (as
// hashicorp/mdns's client does) listed whichever host answered last.
func TestNetnsSameNameOneRound(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	lan := netns.New(t, 3)
	a, r, b := lan.Hosts[0], lan.Hosts[1], lan.Hosts[2]
	same := []string{"KITH_LAN_INSTANCE=kith-a", "KITH_LAN_ID=" + idA, "KITH_LAN_FP=" + fp1, "KITH_LAN_PORT=7001"}
	startHelper(t, a, "announce", same...)
	startHelper(t, r, "announce", same...)
	pb := startHelper(t, b, "rounds")

	want := fmt.Sprintf("kith-a %s %s %s:7001,%s:7001", idA, fp1, a.IP, r.IP)
	if r.IP.Less(a.IP) {
		want = fmt.Sprintf("kith-a %s %s %s:7001,%s:7001", idA, fp1, r.IP, a.IP)
	}
	// The first rounds may run before both announcers answer; then every
	// round must list both addresses.
	pb.Line(t, "round", 30*time.Second, func(rest string) bool { return describe(rest) == want })
	for i := range 3 {
		got := describe(pb.Line(t, "round", 10*time.Second, func(string) bool { return true }))
		if got != want {
			t.Fatalf("round %d after both answered lists %q\nwant %q", i+1, got, want)
		}
	}
}
