package lan

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	idB = "BBBBBBB-HIJKLMN-OPQRSTU-VWXYZ23-4567ABC"
	idC = "CCCCCCC-HIJKLMN-OPQRSTU-VWXYZ23-4567ABC"
	fp2 = "DIRTWOA-BCDEFGH-IJKLMNO-PQRSTUV-WXYZ234"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// deviceAnswer builds what one response packet gives for one device
// instance.
func deviceAnswer(inst, id, fp, ip string, port int) answer {
	txt := []string{"v=1", "id=" + id}
	if fp != "" {
		txt = append(txt, "dir="+fp)
	}
	a := answer{Name: inst + "._kith._tcp.local.", Port: port, TXT: txt}
	if addr, err := netip.ParseAddr(ip); err == nil {
		a.Addrs = append(a.Addrs, addr)
	}
	return a
}

func newTestBrowser(t *testing.T, opts BrowserOptions) (*Browser, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts.Clock = clock.Now
	if opts.Kind == 0 {
		opts.Kind = Device
	}
	opts.Logger = quietLogger()
	b, err := NewBrowser(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, clock
}

func instances(ns []Neighbour) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Instance)
	}
	return strings.Join(s, ",")
}

func changed(b *Browser) bool {
	select {
	case <-b.Changes():
		return true
	default:
		return false
	}
}

func TestBrowserExpiry(t *testing.T) {
	b, clock := newTestBrowser(t, BrowserOptions{})
	if b.opts.Expiry != 90*time.Second {
		t.Fatalf("default expiry %v, want 90s", b.opts.Expiry)
	}
	observe := func(e answer) bool { return b.observe(e, link{}, clock.Now()) }
	if !observe(deviceAnswer("kith-a", idA, fp1, "10.0.0.1", 7001)) || !observe(deviceAnswer("kith-b", idB, fp1, "10.0.0.2", 7002)) {
		t.Fatal("new neighbours not reported as a change")
	}
	start := clock.Now()
	clock.Advance(60 * time.Second)
	// Seeing a again refreshes it without being a change.
	if observe(deviceAnswer("kith-a", idA, fp1, "10.0.0.1", 7001)) {
		t.Error("refresh reported as a change")
	}
	clock.Advance(29 * time.Second) // 89 s after b was seen
	if b.expire(clock.Now()) {
		t.Error("expired before 90 s")
	}
	clock.Advance(time.Second) // 90 s
	if !b.expire(clock.Now()) {
		t.Error("nothing expired at 90 s")
	}
	got := b.Neighbours()
	if instances(got) != "kith-a" {
		t.Fatalf("after expiry: %q, want kith-a", instances(got))
	}
	want := Neighbour{
		Service:  Service{Kind: Device, Instance: "kith-a", DeviceID: idA, Fingerprint: fp1, Port: 7001, Proto: 1},
		Addrs:    []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:7001")},
		LastSeen: start.Add(60 * time.Second),
	}
	if !sameService(got[0].Service, want.Service) || fmt.Sprint(got[0].Addrs) != fmt.Sprint(want.Addrs) || !got[0].LastSeen.Equal(want.LastSeen) {
		t.Errorf("neighbour %+v, want %+v", got[0], want)
	}

	// A second address is added; each address expires on its own.
	clock.Advance(10 * time.Second)
	if !observe(deviceAnswer("kith-a", idA, fp1, "10.0.1.1", 7001)) {
		t.Error("new address not reported as a change")
	}
	if n := b.Neighbours()[0]; len(n.Addrs) != 2 {
		t.Fatalf("addresses %v, want two", n.Addrs)
	}
	clock.Advance(80 * time.Second) // first address last seen 90 s ago
	b.expire(clock.Now())
	if n := b.Neighbours()[0]; fmt.Sprint(n.Addrs) != "[10.0.1.1:7001]" {
		t.Errorf("addresses after partial expiry %v", n.Addrs)
	}
	// A changed TXT record is a change.
	if !observe(deviceAnswer("kith-a", idA, fp2, "10.0.1.1", 7001)) {
		t.Error("changed fingerprint not reported")
	}
}

// TestChangesMerged checks that bursts of changes leave one pending signal.
func TestChangesMerged(t *testing.T) {
	b, _ := newTestBrowser(t, BrowserOptions{})
	if changed(b) {
		t.Fatal("signal before any change")
	}
	b.notify()
	b.notify()
	if !changed(b) || changed(b) {
		t.Error("want exactly one pending signal after two changes")
	}
}

func TestBrowserIgnores(t *testing.T) {
	lo := link{name: "lo", loopback: true}
	for _, c := range []struct {
		name string
		opts BrowserOptions
		e    answer
		from link
	}{
		// Neighbours of another directory are not ours.
		{"other directory", BrowserOptions{Fingerprint: fp1}, deviceAnswer("kith-c", idC, fp2, "10.0.0.3", 7000), link{}},
		// With a filter, devices without a directory are not ours either.
		{"no directory", BrowserOptions{Fingerprint: fp1}, deviceAnswer("kith-c", idC, "", "10.0.0.3", 7000), link{}},
		// Our own announcement, by instance and by device ID.
		{"self instance", BrowserOptions{Self: "kith-a"}, deviceAnswer("kith-a", idA, fp1, "10.0.0.1", 7000), link{}},
		{"self id", BrowserOptions{Self: idA}, deviceAnswer("kith-x", idA, fp1, "10.0.0.1", 7000), link{}},
		// Hostile or broken answers.
		{"bad id", BrowserOptions{}, deviceAnswer("kith-c", "C C", fp1, "10.0.0.3", 7000), link{}},
		{"no port", BrowserOptions{}, deviceAnswer("kith-c", idC, fp1, "10.0.0.3", 0), link{}},
		{"huge port", BrowserOptions{}, deviceAnswer("kith-c", idC, fp1, "10.0.0.3", 70000), link{}},
		{"no address", BrowserOptions{}, deviceAnswer("kith-c", idC, fp1, "", 7000), link{}},
		{"multicast address", BrowserOptions{}, deviceAnswer("kith-c", idC, fp1, "224.0.0.251", 7000), link{}},
		{"loopback from the LAN", BrowserOptions{}, deviceAnswer("kith-c", idC, fp1, "127.0.0.1", 7000), link{}},
		{"bad instance", BrowserOptions{}, deviceAnswer("kith c", idC, fp1, "10.0.0.3", 7000), link{}},
		{"wrong service", BrowserOptions{Kind: Directory}, deviceAnswer("kith-c", idC, fp1, "10.0.0.3", 7000), link{}},
		{"ipv6 only with IPv4Only", BrowserOptions{IPv4Only: true}, answer{
			Name: "kith-c._kith._tcp.local.", Port: 7000, TXT: []string{"v=1", "id=" + idC},
			Addrs: []netip.Addr{netip.MustParseAddr("fd00::3")}}, link{}},
		{"loopback answer on lo is fine but self", BrowserOptions{Self: "kith-c"}, deviceAnswer("kith-c", idC, fp1, "127.0.0.1", 7000), lo},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, clock := newTestBrowser(t, c.opts)
			if b.observe(c.e, c.from, clock.Now()) || len(b.Neighbours()) != 0 {
				t.Errorf("answer accepted: %+v", b.Neighbours())
			}
		})
	}
	// Loopback addresses are fine when the answer came over loopback.
	b, clock := newTestBrowser(t, BrowserOptions{})
	if !b.observe(deviceAnswer("kith-c", idC, fp1, "127.0.0.1", 7000), lo, clock.Now()) {
		t.Error("loopback answer on lo rejected")
	}
	// IPv6 answers keep their address.
	b, clock = newTestBrowser(t, BrowserOptions{})
	b.observe(answer{Name: "kith-c._kith._tcp.local.", Port: 7000, TXT: []string{"v=1", "id=" + idC},
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::3%eth0")}}, link{}, clock.Now())
	if got := b.Neighbours(); len(got) != 1 || got[0].Addrs[0].String() != "[fe80::3%eth0]:7000" {
		t.Errorf("ipv6 neighbour %+v", got)
	}
}

// TestOnLinkFirst checks that addresses in the answering link's subnet
// come first: on a multi-homed neighbour the others may be unreachable.
func TestOnLinkFirst(t *testing.T) {
	b, clock := newTestBrowser(t, BrowserOptions{})
	eth := link{name: "eth0", prefixes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}}
	b.observe(deviceAnswer("kith-m", idB, "", "10.0.0.2", 7000), eth, clock.Now())
	b.observe(deviceAnswer("kith-m", idB, "", "10.9.0.2", 7000), eth, clock.Now())
	b.observe(deviceAnswer("kith-m", idB, "", "10.200.0.2", 7000), eth, clock.Now())
	if got := fmt.Sprint(b.Neighbours()[0].Addrs); got != "[10.9.0.2:7000 10.0.0.2:7000 10.200.0.2:7000]" {
		t.Errorf("addresses %s, want the on-link one first", got)
	}
}

func TestBrowserLimit(t *testing.T) {
	b, clock := newTestBrowser(t, BrowserOptions{})
	for i := range MaxNeighbours + 10 {
		b.observe(deviceAnswer(fmt.Sprintf("kith-%d", i), idA, "", "10.0.0.1", 7000), link{}, clock.Now())
	}
	if n := len(b.Neighbours()); n != MaxNeighbours {
		t.Errorf("%d neighbours, want the cap %d", n, MaxNeighbours)
	}
	for i := range 40 {
		b.observe(deviceAnswer("kith-0", idA, "", fmt.Sprintf("10.0.1.%d", i), 7000), link{}, clock.Now())
	}
	if n := len(b.Neighbours()[0].Addrs); n != maxAddrs {
		t.Errorf("%d addresses, want the cap %d", n, maxAddrs)
	}
}

func TestNewBrowserRejects(t *testing.T) {
	if _, err := NewBrowser(BrowserOptions{}); err == nil {
		t.Error("no kind accepted")
	}
	if _, err := NewBrowser(BrowserOptions{Kind: Device, Fingerprint: "bad fp"}); err == nil {
		t.Error("bad fingerprint accepted")
	}
}

func TestFindDirectoryRejects(t *testing.T) {
	if _, err := FindDirectory(t.Context(), 0, BrowserOptions{}); err == nil {
		t.Error("zero timeout accepted")
	}
	if _, err := FindDirectory(t.Context(), time.Second, BrowserOptions{Fingerprint: "a b"}); err == nil {
		t.Error("bad fingerprint accepted")
	}
}

func TestNewAnnouncerRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		opts AnnouncerOptions
	}{
		{"no port", AnnouncerOptions{Service: Service{Kind: Device, DeviceID: idA}}},                                   // port required
		{"bad instance", AnnouncerOptions{Service: Service{Kind: Device, DeviceID: idA, Port: 1, Instance: "a.b"}}},    // dots would split the label
		{"bad id", AnnouncerOptions{Service: Service{Kind: Device, DeviceID: "a b", Port: 1}}},                         // same rules as parsing
		{"bad ip", AnnouncerOptions{Service: Service{Kind: Device, DeviceID: idA, Port: 1}, IPs: []net.IP{{1, 2, 3}}}}, // 3-byte IP
	} {
		if _, err := NewAnnouncer(c.opts); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	a, err := NewAnnouncer(AnnouncerOptions{Service: Service{Kind: Device, DeviceID: idA, Port: 7000}})
	if err != nil || a.Instance() != "kith-abcdefghijklmnopqrs" {
		t.Errorf("NewAnnouncer: %v, instance %q", err, a.Instance())
	}
}

func BenchmarkObserve(b *testing.B) {
	br, err := NewBrowser(BrowserOptions{Kind: Device, Fingerprint: fp1, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	e := deviceAnswer("kith-a", idA, fp1, "10.0.0.1", 7000)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		br.observe(e, link{}, now)
	}
}
