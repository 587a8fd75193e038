package lan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"
)

// errNoLoopbackMulticast says why the loopback test cannot run.
var errNoLoopbackMulticast = errors.New("multicast is not enabled on lo (no MULTICAST flag; " +
	"'ip link set lo multicast on' would change the host, so the test does not): " +
	"TestNetnsLoopback runs the same check in a namespace, TestNetnsDiscovery covers real multicast")

// loopbackDiscovery announces a device on lo and browses for it on lo, in
// this process.
func loopbackDiscovery(log *slog.Logger) error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("%w: %v", errNoLoopbackMulticast, err)
	}
	if lo.Flags&net.FlagMulticast == 0 || lo.Flags&net.FlagUp == 0 {
		return errNoLoopbackMulticast
	}
	a, err := NewAnnouncer(AnnouncerOptions{
		Service:    Service{Kind: Device, DeviceID: idA, Fingerprint: fp1, Port: 7001},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Interfaces: []string{"lo"},
		Logger:     log,
	})
	if err != nil {
		return err
	}
	b, err := NewBrowser(BrowserOptions{Kind: Device, Fingerprint: fp1, Interfaces: []string{"lo"}, IPv4Only: true, Logger: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	// Rounds until the announcement is seen, for up to 30 s: an incidental
	// wait for the announcer's goroutine to start answering (5 rounds,
	// 1.5 s, could end first on a loaded machine).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err := b.Round(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		if ns := b.Neighbours(); len(ns) == 1 {
			if got := fmt.Sprint(ns[0].Addrs); ns[0].DeviceID != idA || got != "[127.0.0.1:7001]" {
				return fmt.Errorf("neighbour %s at %s, want %s at 127.0.0.1:7001", ns[0].DeviceID, got, idA)
			}
			return nil
		}
	}
	select {
	case err := <-done:
		return fmt.Errorf("announcer stopped: %v", err)
	default:
	}
	return fmt.Errorf("announcement on lo not seen in 30 s of rounds: %+v", b.Neighbours())
}

func TestLoopback(t *testing.T) {
	err := loopbackDiscovery(quietLogger())
	if errors.Is(err, errNoLoopbackMulticast) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
