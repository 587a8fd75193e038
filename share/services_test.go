package share

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
)

// TestNoMulticastHelper is the child process of TestNoMulticastKeepsRunning;
// it does nothing unless KITH_NO_MULTICAST is set.
func TestNoMulticastHelper(t *testing.T) {
	if os.Getenv("KITH_NO_MULTICAST") == "" {
		t.Skip("child process of TestNoMulticastKeepsRunning")
	}
	ctx := context.Background()
	d := startDirectory(t)
	title, plain := d.publish(t, "Alone", 512<<10, 0)
	n := startNode(t, d, "alone", func(o *Options) { o.LAN = true })
	// LAN discovery is reported unavailable, and retried, ...
	deadline := time.Now().Add(20 * time.Second)
	for {
		var lan ServiceStatus
		for _, s := range n.Services() {
			if s.Name == ServiceLAN {
				lan = s
			}
		}
		if lan.Failures >= 2 {
			t.Logf("LAN discovery unavailable after %d attempts: %v", lan.Failures, lan.Err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LAN discovery never reported unavailable: %+v", n.Services())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ... while the node goes on: it buys, downloads and plays a title.
	if _, err := n.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := n.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, n, title); string(got) != string(plain) {
		t.Fatal("the title read back differs from the one published")
	}
	for _, s := range n.Services() {
		if s.Name == ServiceInstallPage && !s.Up() {
			t.Errorf("install page down: %v", s.Err)
		}
	}
}

// TestNoMulticastKeepsRunning runs a device on a host whose only network
// interface has multicast switched off (and no multicast route): mDNS
// cannot start, which is reported as LAN discovery unavailable and retried,
// and the device keeps serving, downloading and playing.
func TestNoMulticastKeepsRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a network namespace")
	}
	lan := netns.New(t, 1) // skips with the reason when namespaces are unavailable
	h := lan.Hosts[0]
	for _, args := range [][]string{
		{"-n", h.Name, "route", "del", "224.0.0.0/4", "dev", h.Iface},
		{"-n", h.Name, "link", "set", h.Iface, "multicast", "off"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := h.Command(ctx, os.Args[0], "-test.run=^TestNoMulticastHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "KITH_NO_MULTICAST=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("the device on a host without multicast: %v", err)
	}
	if !strings.Contains(string(out), "LAN discovery unavailable") {
		t.Fatal("the child never reported LAN discovery unavailable")
	}
}
