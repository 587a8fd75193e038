package netns

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLAN builds a two-host LAN and checks that the hosts reach each other
// over the bridge and that each has the multicast route.
func TestLAN(t *testing.T) {
	lan := New(t, 2)
	if len(lan.Hosts) != 2 {
		t.Fatalf("got %d hosts, want 2", len(lan.Hosts))
	}
	a, b := lan.Hosts[0], lan.Hosts[1]
	if !lan.Prefix.Contains(a.IP) || !lan.Prefix.Contains(b.IP) {
		t.Fatalf("host addresses %v, %v outside %v", a.IP, b.IP, lan.Prefix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := a.Command(ctx, "ping", "-c", "1", "-W", "2", b.IP.String()).CombinedOutput(); err != nil {
		if strings.Contains(err.Error(), "executable file not found") || strings.Contains(string(out), "No such file") {
			t.Logf("ping not installed, skipping reachability: %s", out)
		} else {
			t.Fatalf("ping %v from %s: %v\n%s", b.IP, a.Name, err, out)
		}
	}
	out, err := b.Command(ctx, "ip", "route", "show", "224.0.0.0/4").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev "+Iface) {
		t.Fatalf("multicast route in %s: %v %q", b.Name, err, out)
	}
}

// TestStale checks which namespace names count as leftovers.
func TestStale(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"kith-1x00aa-a", false},           // pid 1 always exists
		{"kith-2147483646x00aa-a", true},   // no such process
		{"other-2147483646x00aa-a", false}, // not ours
		{"kith-probe", false},              // no pid part
		{"kith-abcx00-a", false},           // pid not a number
	} {
		if got := stale(c.name); got != c.want {
			t.Errorf("stale(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestJoin makes a host multi-homed and checks its second interface.
func TestJoin(t *testing.T) {
	lan1, lan2 := New(t, 1), New(t, 1)
	h := lan2.Join(t, lan1.Hosts[0])
	if h.Name != lan1.Hosts[0].Name || !lan2.Prefix.Contains(h.IP) || h.Iface == Iface {
		t.Fatalf("joined host %+v", h)
	}
	out, err := h.Command(context.Background(), "ip", "-o", "addr", "show", "dev", h.Iface).CombinedOutput()
	if err != nil || !strings.Contains(string(out), h.IP.String()+"/24") {
		t.Fatalf("address of %s in %s: %v %s", h.Iface, h.Name, err, out)
	}
}
