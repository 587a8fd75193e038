package netns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// NAT is how a home router maps its LAN's outgoing connections.
type NAT string

// Router behaviours (nftables masquerade).
const (
	// NATPortPreserving keeps a connection's source port where it can, so
	// one LAN endpoint keeps one public endpoint ("masquerade").
	NATPortPreserving NAT = "masquerade"
	// NATSymmetric picks a random public port for every connection
	// ("masquerade fully-random").
	NATSymmetric NAT = "masquerade fully-random"
)

// HomeSpec describes one home LAN behind a router.
type HomeSpec struct {
	Hosts int // machines on the home LAN
	NAT   NAT // default NATPortPreserving
}

// Home is a LAN behind a NAT router.
type Home struct {
	LAN    *LAN // the home's machines (LAN.Hosts), each with a default route via the router
	Router Host // the router's side on the public segment: the home's public address
	Inside Host // the router's side on the home LAN (same namespace as Router)
	NAT    NAT
}

// Internet is a public segment with servers and home routers on it.
type Internet struct {
	Public  *LAN   // the public segment: Servers, then one host per home router
	Servers []Host // public machines (a directory, a relay)
	Homes   []Home
}

// NewInternet builds servers public hosts and one home per spec, each
// behind a router that forwards its LAN's connections to the public
// segment under masquerade and drops every connection started from
// outside (to the router and through it), as home routers do. The public
// segment has no route to any home LAN. It needs nft (nftables) besides
// what New needs, and skips the test saying so otherwise. Everything is
// removed with the test.
func NewInternet(t testing.TB, servers int, homes ...HomeSpec) *Internet {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("skipping: the nftables 'nft' command is not installed (scripts/deps.sh test installs it): %v", err)
	}
	in := &Internet{Public: New(t, servers+len(homes))}
	in.Servers = in.Public.Hosts[:servers]
	used := []*LAN{in.Public}
	for i, spec := range homes {
		if spec.NAT == "" {
			spec.NAT = NATPortPreserving
		}
		lan := distinctLAN(t, spec.Hosts, used)
		used = append(used, lan)
		r := in.Public.Hosts[servers+i]
		inside := lan.Join(t, r)
		if err := routerUp(r, inside, spec.NAT); err != nil {
			t.Fatalf("setting up router %s: %v", r.Name, err)
		}
		for _, h := range lan.Hosts {
			if err := ip("-n", h.Name, "route", "add", "default", "via", inside.IP.String()); err != nil {
				t.Fatalf("routing home host %s: %v", h.Name, err)
			}
		}
		in.Homes = append(in.Homes, Home{LAN: lan, Router: r, Inside: inside, NAT: spec.NAT})
	}
	return in
}

// distinctLAN builds a LAN whose prefix differs from every one in used
// (New gives each LAN of the process its own prefix; a clash is retried).
func distinctLAN(t testing.TB, n int, used []*LAN) *LAN {
	t.Helper()
	for range 8 {
		lan := New(t, n)
		clash := false
		for _, u := range used {
			clash = clash || u.Prefix.Overlaps(lan.Prefix)
		}
		if !clash {
			return lan
		}
	}
	t.Fatal("netns: no distinct LAN prefix in 8 tries")
	return nil
}

// routerRules is the nftables ruleset of a home router: masquerade out
// of the WAN side, forward only what the home started, and accept no new
// connection from outside to the router itself.
const routerRules = `table ip kith_router {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "%[1]s" oifname "%[2]s" accept
		iifname "%[2]s" ct state new counter drop
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "%[2]s" ct state new counter drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "%[2]s" %[3]s
	}
}
`

func routerUp(r, inside Host, nat NAT) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := r.Command(ctx, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		return fmt.Errorf("enabling forwarding: %w: %s", err, out)
	}
	cmd := r.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(routerRules, inside.Iface, r.Iface, nat))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("loading nftables rules: %w: %s", err, out)
	}
	// Byte counts per tracked connection (conntrack -L bytes=), so tests
	// can show how much each path carried.
	if out, err := r.Command(ctx, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1").CombinedOutput(); err != nil {
		return fmt.Errorf("enabling conntrack accounting: %w: %s", err, out)
	}
	return nil
}

// Dropped is how many connections from outside the router has dropped
// (to itself and through it), read from its nftables counters.
func (h Home) Dropped(ctx context.Context) (int64, error) {
	out, err := h.Router.Command(ctx, "nft", "list", "table", "ip", "kith_router").Output()
	if err != nil {
		return 0, fmt.Errorf("listing router rules: %w", err)
	}
	var total int64
	for _, line := range bytes.Split(out, []byte("\n")) {
		var packets, b int64
		if i := bytes.Index(line, []byte("counter packets ")); i >= 0 {
			if _, err := fmt.Sscanf(string(line[i:]), "counter packets %d bytes %d", &packets, &b); err == nil {
				total += packets
			}
		}
	}
	return total, nil
}

// Conntrack lists the router's tracked connections (conntrack -L, with
// packets= and bytes= per direction), for tests that show which way a
// transfer flows.
func (h Home) Conntrack(ctx context.Context) (string, error) {
	out, err := h.Router.Command(ctx, "conntrack", "-L").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("conntrack -L: %w: %s", err, out)
	}
	return string(out), nil
}
