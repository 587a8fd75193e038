package lan

import (
	"github.com/kith-media/kith/internal/leakcheck"

	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
)

// helperEnv selects a helper mode: the test binary re-executed inside a
// network namespace runs that mode instead of the tests.
const helperEnv = "KITH_LAN_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	leakcheck.Main(m)
}

// runHelper runs one mode and returns the exit code. Modes:
//
//	announce  announce a device (KITH_LAN_ID, KITH_LAN_FP, KITH_LAN_PORT,
//	          KITH_LAN_INSTANCE); with KITH_LAN_DIR_PORT also a directory
//	          (fp=KITH_LAN_FP); with KITH_LAN_BROWSE=1 also browse for devices
//	          of KITH_LAN_FP, printing "neighbours <json>" on each change
//	          (a neighbour's LastSeen moving is one)
//	hostile   announce a device with a malformed TXT record
//	find      run FindDirectory and print "found <json>"
//	loopback  run the loopback discovery check
//	rounds    run one query round for devices with a fresh Browser, again
//	          and again, printing "round <json>" after each
//	leak      run an announcer and a browser, stop them and check that no
//	          goroutines are left
func runHelper(mode string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The signals stay caught until the process exits (no stop; see
	// netns.Host.Helper).
	ctx, _ := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	env := os.Getenv
	port, _ := strconv.Atoi(env("KITH_LAN_PORT"))
	var err error
	switch mode {
	case "announce":
		err = helperAnnounce(ctx, log, port)
	case "hostile":
		err = helperHostile(ctx, log, port)
	case "find":
		var found []Neighbour
		found, err = FindDirectory(ctx, 3*time.Second, BrowserOptions{IPv4Only: true, Logger: log})
		if err == nil {
			b, _ := json.Marshal(found)
			fmt.Printf("found %s\n", b)
		}
	case "leak":
		err = helperLeak(log)
	case "loopback":
		err = loopbackDiscovery(log)
	case "rounds":
		err = helperRounds(ctx, log)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

func helperAnnounce(ctx context.Context, log *slog.Logger, port int) error {
	env := os.Getenv
	svc := Service{Kind: Device, Instance: env("KITH_LAN_INSTANCE"), DeviceID: env("KITH_LAN_ID"),
		Fingerprint: env("KITH_LAN_FP"), Name: "host " + env("KITH_LAN_INSTANCE"), Port: port}
	dev, err := NewAnnouncer(AnnouncerOptions{Service: svc, IPv4Only: true, Logger: log})
	if err != nil {
		return err
	}
	run := []func(context.Context) error{dev.Serve}
	if p, _ := strconv.Atoi(env("KITH_LAN_DIR_PORT")); p != 0 {
		dir, err := NewAnnouncer(AnnouncerOptions{Logger: log, IPv4Only: true, Service: Service{
			Kind: Directory, Fingerprint: env("KITH_LAN_FP"), URLs: []string{"/kith"}, Port: p}})
		if err != nil {
			return err
		}
		run = append(run, dir.Serve)
	}
	if env("KITH_LAN_BROWSE") == "1" {
		expiry, _ := time.ParseDuration(env("KITH_LAN_EXPIRY"))
		br, err := NewBrowser(BrowserOptions{Kind: Device, Fingerprint: env("KITH_LAN_FP"), Self: dev.Instance(),
			Interval: time.Second, QueryTimeout: 500 * time.Millisecond, Expiry: expiry, IPv4Only: true, Logger: log})
		if err != nil {
			return err
		}
		// Printed on each change, and when a neighbour's LastSeen moved
		// (looked at every 100 ms): TestNetnsDiscovery judges the expiry
		// from the last sighting.
		run = append(run, br.Serve, func(ctx context.Context) error {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			last := ""
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-br.Changes():
				case <-tick.C:
				}
				b, _ := json.Marshal(br.Neighbours())
				if string(b) != last {
					last = string(b)
					fmt.Printf("neighbours %s\n", b)
				}
			}
		})
	}
	return runAll(ctx, run)
}

// helperRounds prints what each single query round saw: a fresh Browser
// each time, so nothing is merged across rounds.
func helperRounds(ctx context.Context, log *slog.Logger) error {
	for ctx.Err() == nil {
		br, err := NewBrowser(BrowserOptions{Kind: Device, IPv4Only: true, Logger: log})
		if err != nil {
			return err
		}
		if err := br.Round(ctx, DefaultQueryTimeout); err != nil && ctx.Err() == nil {
			return err
		}
		b, _ := json.Marshal(br.Neighbours())
		fmt.Printf("round %s\n", b)
	}
	return nil
}

// helperHostile announces a TXT record a well-behaved peer would never send.
func helperHostile(ctx context.Context, log *slog.Logger, port int) error {
	ifaces, err := interfaces(nil)
	if err != nil {
		return err
	}
	ips, err := addresses(ifaces, false)
	if err != nil {
		return err
	}
	zone, err := mdns.NewMDNSService("kith-evil", DeviceService, "local.", "kith-evil.local.", port,
		ips, []string{"v=1", "id=EVIL ID\x1b[2J", "dir=" + os.Getenv("KITH_LAN_FP")})
	if err != nil {
		return err
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Logger: mdnsLogger(log)})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return srv.Shutdown()
}

// helperLeak starts an announcer and a browser, stops them and checks that
// Serve returns promptly and the goroutine count returns to its baseline.
func helperLeak(log *slog.Logger) error {
	base := runtime.NumGoroutine()
	a, err := NewAnnouncer(AnnouncerOptions{Service: Service{Kind: Device, DeviceID: idA, Port: 7100}, Logger: log})
	if err != nil {
		return err
	}
	b, err := NewBrowser(BrowserOptions{Kind: Device, Interval: 200 * time.Millisecond,
		QueryTimeout: 300 * time.Millisecond, Logger: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runAll(ctx, []func(context.Context) error{a.Serve, b.Serve}) }()
	// Wait for the browser to see the announcer (a few query intervals on a
	// quiet machine; a loaded one may take many more).
	for deadline := time.Now().Add(20 * time.Second); !slices.ContainsFunc(b.Neighbours(), func(n Neighbour) bool { return n.Instance == a.Instance() }); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			return fmt.Errorf("browser did not see our own announcer in 20 s: %+v", b.Neighbours())
		}
	}
	cancel()
	stopped := time.Now()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-time.After(20 * time.Second):
		return fmt.Errorf("Serve did not return 20 s after cancel")
	}
	fmt.Printf("stopped %s\n", time.Since(stopped).Round(time.Millisecond))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if runtime.NumGoroutine() <= base {
			fmt.Printf("goroutines %d (baseline %d)\n", runtime.NumGoroutine(), base)
			return nil
		}
	}
	buf := make([]byte, 1<<20)
	return fmt.Errorf("%d goroutines left, baseline %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
}

// runAll runs fns until ctx is done and returns the first error.
func runAll(ctx context.Context, fns []func(context.Context) error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
