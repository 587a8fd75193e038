package wire

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/lan"
)

// The network-namespace tests re-execute this test binary inside a host
// with helperEnv naming the helper mode.
const helperEnv = "KITH_WIRE_HELPER"

// Secrets the joining device types; the rogue must never see them.
const (
	joinPassword = "joiner-secret-password-8271"
	joinCard     = "4242424242424242"
	joinCVC      = "737"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	leakcheck.Main(m, "net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop", "net/http.(*http2ClientConn).readLoop", "peer.(*wireConn).readLoop")
}

// helpers registers the helper modes (netns_pair_test.go adds its own).
var helpers = map[string]func(ctx context.Context, log *slog.Logger) error{
	"household": helperHousehold,
	"rogue":     helperRogue,
	"victim":    helperVictim,
}

// householdReady, if set, runs once the household helper serves (the
// pairing test shows join codes from it).
var householdReady func(k *Kith, log *slog.Logger)

func runHelper(mode string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The signals stay caught until the process exits (no stop): a helper
	// that finished on its own may get its test's SIGTERM while the race
	// detector holds its exit (GORACE atexit_sleep_ms, 1 s), and must not
	// die of it (netns.Host.Helper wants a clean exit).
	ctx, _ := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	h := helpers[mode]
	if h == nil {
		fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
		return 2
	}
	if err := h(ctx, log); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// say prints one "key json" line on stdout for the test.
func say(key string, v any) {
	b, _ := json.Marshal(v)
	fmt.Printf("%s %s\n", key, b)
}

// helperHousehold runs the app's wiring on a first run with nothing on
// the LAN: it starts the embedded household directory, prints
// "household {fingerprint,port,instance,name}" (then householdReady runs).
func helperHousehold(ctx context.Context, log *slog.Logger) error {
	// The household's key, made here instead of on first use, has a
	// fingerprint not starting with "2" or "3" (the smallest base32
	// characters), so the rogue's grind for one that sorts before it
	// succeeds in one try of 16 at worst. With a key drawn at random, one
	// run in about 600,000 drew one the rogue could not beat within its
	// helper's 60 s (a fingerprint among the smallest millionth).
	for {
		id, err := identity.Generate()
		if err != nil {
			return err
		}
		if string(id.ID()) >= "4" {
			if err := id.Save(filepath.Join(datadir.Dir(os.Getenv("KITH_WIRE_DATA")).Household(), "directory.key")); err != nil {
				return err
			}
			break
		}
	}
	k, err := Start(ctx, Config{DataDir: os.Getenv("KITH_WIRE_DATA"), DeviceName: "ana", Output: newPaceOutput(),
		LANWait: time.Second, Logger: log})
	if err != nil {
		return err
	}
	if !k.Joined.Embedded {
		return fmt.Errorf("the household device joined %+v, want its own household", k.Joined)
	}
	done := make(chan error, 1)
	go func() { done <- k.Serve(ctx) }()
	inst := lan.Service{Kind: lan.Directory, Fingerprint: string(k.Joined.Fingerprint)}.DefaultInstance()
	_, port, _ := splitPort(k.Joined.URL)
	say("household", map[string]string{"fingerprint": string(k.Joined.Fingerprint), "port": port,
		"instance": inst, "name": k.Joined.Name})
	if householdReady != nil {
		householdReady(k, log)
	}
	return <-done
}

// helperRogue is a hostile host on the LAN. It announces
//   - a copy of the real directory's record (KITH_ROGUE_COPY_FP, same
//     instance and name) pointing at its own port 7443, served with its own key;
//   - a directory of its own with a key whose fingerprint sorts before the
//     real one (so "the first answer" is the rogue), same name, port 7444;
//
// answers every request like a directory would (pairing messages of the
// right shape, "{}" otherwise) and prints each one as
// "request {method,path,body}".
func helperRogue(ctx context.Context, log *slog.Logger) error {
	realFP := os.Getenv("KITH_ROGUE_COPY_FP")
	name := os.Getenv("KITH_ROGUE_NAME")
	var id *identity.Identity
	for { // ground to sort first: "the first answer" (the unit tests grind shared prefixes)
		g, err := identity.Generate()
		if err != nil {
			return err
		}
		if string(g.ID()) < realFP {
			id = g
			break
		}
	}
	cert, err := id.Certificate()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		say("request", map[string]string{"method": r.Method, "path": r.URL.Path, "body": string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/pair/start":
			fmt.Fprintf(w, `{"session":"%s","nonce":"%s"}`, b64(16), b64(32))
		case "/v1/pair/finish":
			fmt.Fprintf(w, `{"proof":"%s"}`, b64(32))
		case "/v1/info":
			info := directory.Info{Name: name, Version: directory.Version, ID: id.ID(), Keys: id.Public()}
			_ = json.NewEncoder(w).Encode(info)
		default:
			io.WriteString(w, "{}")
		}
	})
	errc := make(chan error, 4)
	for _, port := range []int{7443, 7444} {
		ln, err := tls.Listen("tcp", ":"+strconv.Itoa(port), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ErrorLog: nil}
		go func() { errc <- srv.Serve(ln) }()
		defer srv.Close()
	}
	copySvc := lan.Service{Kind: lan.Directory, Fingerprint: realFP, Name: name, Port: 7443,
		Instance: os.Getenv("KITH_ROGUE_INSTANCE")}
	ownSvc := lan.Service{Kind: lan.Directory, Fingerprint: string(id.ID()), Name: name, Port: 7444}
	for _, svc := range []lan.Service{copySvc, ownSvc} {
		a, err := lan.NewAnnouncer(lan.AnnouncerOptions{Service: svc, IPv4Only: true, Logger: log})
		if err != nil {
			return err
		}
		go func() { errc <- a.Serve(ctx) }()
	}
	say("rogue", map[string]string{"fingerprint": string(id.ID())})
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

func b64(n int) string {
	b := make([]byte, n)
	return strings.TrimRight(string(must(json.Marshal(b)))[1:], "\"")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// helperVictim is a device starting for the first time on the LAN with
// the household and the rogue, whose user then signs up and buys at once
// (as the app's welcome screen and store let them): it prints
// "start {joined}", "signup {err}" and "buy {err}".
func helperVictim(ctx context.Context, log *slog.Logger) error {
	k, err := Start(ctx, Config{DataDir: os.Getenv("KITH_WIRE_DATA"), DeviceName: "bob", Output: newPaceOutput(),
		LANWait: 4 * time.Second, Logger: log})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Serve(sctx) }()
	defer func() { cancel(); <-done }()
	say("start", map[string]string{"url": k.Joined.URL, "fingerprint": string(k.Joined.Fingerprint)})
	err = k.Backend.Session.SignUp(ctx, "bob", joinPassword, "bob")
	say("signup", errString(err))
	title := directory.Title{ID: "t", Name: "Evening Bells", Price: 199, Currency: "EUR"}
	_, err = k.Backend.Catalog.Buy(ctx, title, &license.Payment{Name: "Bob", Card: joinCard, Expiry: "12/39", CVC: joinCVC, Address: "1 Road"})
	say("buy", errString(err))
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// startHelper runs this test binary in host h in the given helper mode,
// with a data folder of its own (netns.Host.Helper: stopped, checked and
// its log shown at cleanup).
func startHelper(t *testing.T, h netns.Host, mode string, env ...string) *netns.Proc {
	t.Helper()
	return h.Helper(t, mode, append([]string{helperEnv + "=" + mode, "KITH_WIRE_DATA=" + t.TempDir()}, env...)...)
}

// next decodes the JSON of the next line p prints with key into v.
func next(t *testing.T, p *netns.Proc, key string, timeout time.Duration, v any) {
	t.Helper()
	rest := p.Line(t, key, timeout, nil)
	if err := json.Unmarshal([]byte(rest), v); err != nil {
		t.Fatalf("%s: %q line %q: %v", p.Name, key, rest, err)
	}
}

// rogueRequests drains the rogue's "request" lines seen so far.
type rogueRequest struct{ Method, Path, Body string }

func drainRequests(p *netns.Proc) []rogueRequest {
	var out []rogueRequest
	for {
		select {
		case line, ok := <-p.Lines:
			if !ok {
				return out
			}
			if rest, found := strings.CutPrefix(line, "request "); found {
				var r rogueRequest
				if json.Unmarshal([]byte(rest), &r) == nil {
					out = append(out, r)
				}
			}
		default:
			return out
		}
	}
}

// checkRogue fails t if the rogue received a password, card data or any
// request that creates an account, enrolls a device or registers.
func checkRogue(t *testing.T, reqs []rogueRequest) {
	t.Helper()
	for _, r := range reqs {
		for _, secret := range []string{joinPassword, joinCard} {
			if strings.Contains(r.Body, secret) || strings.Contains(r.Path, secret) {
				t.Errorf("the rogue received a secret in %s %s: %.200s", r.Method, r.Path, r.Body)
			}
		}
		switch r.Path {
		case "/v1/accounts", "/v1/devices", "/v1/registrations", "/v1/relay":
			t.Errorf("the rogue received %s %s (%d bytes)", r.Method, r.Path, len(r.Body))
		}
	}
}

// TestSecurityNetnsFirstRunTrustsNoRogue: a first run on a LAN with the
// household directory and a rogue announcing both a copy of its record and
// its own directory (with a fingerprint that sorts first). The new device
// must not use either before pairing: sign-up and purchase fail and the
// rogue receives no password, card, account creation or registration.
func TestSecurityNetnsFirstRunTrustsNoRogue(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	l := netns.New(t, 3)
	a, b, c := l.Hosts[0], l.Hosts[1], l.Hosts[2]
	house := startHelper(t, a, "household")
	var hh map[string]string
	next(t, house, "household", 60*time.Second, &hh)
	rogue := startHelper(t, c, "rogue", "KITH_ROGUE_COPY_FP="+hh["fingerprint"], "KITH_ROGUE_NAME="+hh["name"],
		"KITH_ROGUE_INSTANCE="+hh["instance"])
	var rr map[string]string
	next(t, rogue, "rogue", 60*time.Second, &rr)

	victim := startHelper(t, b, "victim")
	var joined map[string]string
	next(t, victim, "start", 60*time.Second, &joined)
	var signup, buy string
	next(t, victim, "signup", 60*time.Second, &signup)
	next(t, victim, "buy", 60*time.Second, &buy)
	t.Logf("first run joined %v; sign-up: %q; buy: %q", joined, signup, buy)
	if joined["url"] != "" {
		t.Errorf("a first run among several directories joined %v without pairing", joined)
	}
	if signup == "" {
		t.Error("sign-up succeeded before pairing")
	}
	time.Sleep(time.Second) // the rogue's last lines
	reqs := drainRequests(rogue)
	t.Logf("the rogue received %d requests", len(reqs))
	checkRogue(t, reqs)
}
