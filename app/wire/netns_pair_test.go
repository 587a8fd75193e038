package wire

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/pairing"
	"github.com/kith-media/kith/internal/netns"
)

func init() {
	helpers["joiner"] = helperJoiner
	// The household's screen: a join code for every "code?" line on stdin.
	householdReady = func(k *Kith, log *slog.Logger) {
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				if sc.Text() == "code?" {
					c, _, err := k.Pairing().JoinCode(context.Background())
					if err != nil {
						log.Error("join code", "err", err)
					}
					say("code", c)
				}
			}
		}()
	}
}

// helperJoiner is a first run that pairs the way the welcome screen does:
// it lists the directories found ("found [...]"), tries the rogue's own
// directory with the right code ("rogue-own {err}"), the real one with a
// wrong code ("wrong-code {err}"), the real one with the right code
// (KITH_JOIN_CODE; "paired {err}"), then signs up and buys a priced title
// with a card ("signup {err}", "buy {err}").
func helperJoiner(ctx context.Context, log *slog.Logger) error {
	k, err := Start(ctx, Config{DataDir: os.Getenv("KITH_WIRE_DATA"), DeviceName: "bob", Output: newPaceOutput(),
		LANWait: 4 * time.Second, Logger: log})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Serve(sctx) }()
	defer func() { cancel(); <-done }()
	p := k.Backend.Pairing
	realFP, rogueFP := os.Getenv("KITH_REAL_FP"), os.Getenv("KITH_ROGUE_FP")
	var found []app.FoundDirectory
	for range 5 { // until both are listed
		if found, err = p.Search(ctx); err != nil {
			return err
		}
		// mDNS answers can be missed in one search; the user would search again.
		if r := pick(found, realFP); r != nil && pick(found, rogueFP) != nil && containsHost(r.Hosts, os.Getenv("KITH_REAL_IP")) {
			break
		}
	}
	say("found", found)
	real, rogue := pick(found, realFP), pick(found, rogueFP)
	if real == nil || rogue == nil {
		return fmt.Errorf("not both directories found: %+v", found)
	}
	code := os.Getenv("KITH_JOIN_CODE")
	// The copy of the household's record at the rogue's address alone.
	copied := app.FoundDirectory{Name: real.Name, Fingerprint: real.Fingerprint, Hosts: []string{os.Getenv("KITH_ROGUE_HOST")}}
	say("rogue-copy", errString(p.Pair(ctx, copied, code)))
	say("rogue-own", errString(p.Pair(ctx, *rogue, code)))
	// The rogue's address typed by hand (no fingerprint to pin).
	say("rogue-addr", errString(p.Pair(ctx, app.FoundDirectory{Hosts: []string{rogue.Hosts[0]}}, code)))
	say("signup-unpaired", errString(k.Backend.Session.SignUp(ctx, "bob", joinPassword, "bob")))
	wrong, _ := pairing.NewCode()
	say("wrong-code", errString(p.Pair(ctx, *real, string(wrong))))
	say("paired", errString(p.Pair(ctx, *real, code)))
	say("directory", k.Backend.Session.Directory())
	say("signup", errString(k.Backend.Session.SignUp(ctx, "bob", joinPassword, "bob")))
	ts, _, err := k.Backend.Catalog.Titles(ctx, "Evening Bells", 1, 10)
	if err != nil || len(ts) == 0 {
		say("buy", fmt.Sprintf("no title: %v", err))
		return nil
	}
	_, err = k.Backend.Catalog.Buy(ctx, ts[0], &license.Payment{Name: "Bob", Card: joinCard, Expiry: "12/39", CVC: joinCVC, Address: "1 Road"})
	say("buy", errString(err))
	// A restart keeps the paired directory.
	say("saved", mustJoined(k.cfg.DataDir))
	return nil
}

func pick(found []app.FoundDirectory, fp string) *app.FoundDirectory {
	for i := range found {
		if string(found[i].Fingerprint) == fp {
			return &found[i]
		}
	}
	return nil
}

func mustJoined(dir string) Joined {
	j, _, _ := LoadJoined(dir)
	return j
}

// TestSecurityNetnsPairing: the household directory, a rogue (a copy of
// the household's record at its own address, and its own directory with a
// fingerprint sorting first and the same name) and a joining device on one
// LAN. The joiner lists both, fails to pair with the rogue even with the
// right code, fails with a wrong code, pairs with the household with the
// code its screen shows, then signs up and buys there. The rogue receives
// no password, card, account creation or registration.
func TestSecurityNetnsPairing(t *testing.T) {
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
	fmt.Fprintln(house.Stdin, "code?") // the user reads the household's screen
	var code string
	next(t, house, "code", 30*time.Second, &code)

	j := startHelper(t, b, "joiner", "KITH_REAL_FP="+hh["fingerprint"], "KITH_ROGUE_FP="+rr["fingerprint"], "KITH_JOIN_CODE="+code, "KITH_REAL_IP="+a.IP.String(),
		"KITH_ROGUE_HOST="+c.IP.String()+":7443")
	var found []app.FoundDirectory
	next(t, j, "found", 90*time.Second, &found)
	t.Logf("found: %+v", found)
	// The household's entry lists both hosts answering for its record:
	// the browser keeps every address seen for a name within a round, so
	// the rogue answering last cannot hide the household's address.
	listed := false
	for _, d := range found {
		if string(d.Fingerprint) == hh["fingerprint"] {
			listed = true
			if !containsHost(d.Hosts, a.IP.String()) || !containsHost(d.Hosts, c.IP.String()) {
				t.Errorf("the household's entry lists %v, want both its address %s and the copy's %s", d.Hosts, a.IP, c.IP)
			}
		}
	}
	if !listed {
		t.Errorf("the household's directory %s is not listed", hh["fingerprint"])
	}
	var rogueCopy, rogueOwn, signupUnpaired, wrong, paired, signup, buy string
	next(t, j, "rogue-copy", 60*time.Second, &rogueCopy)
	next(t, j, "rogue-own", 60*time.Second, &rogueOwn)
	var rogueAddr string
	next(t, j, "rogue-addr", 60*time.Second, &rogueAddr)
	if !strings.Contains(rogueAddr, pairing.ErrNotDirectory.Error()) {
		t.Errorf("pairing with the rogue's typed address: %q, want %q", rogueAddr, pairing.ErrNotDirectory)
	}
	next(t, j, "signup-unpaired", 30*time.Second, &signupUnpaired)
	next(t, j, "wrong-code", 60*time.Second, &wrong)
	next(t, j, "paired", 60*time.Second, &paired)
	var info app.DirectoryInfo
	next(t, j, "directory", 30*time.Second, &info)
	next(t, j, "signup", 60*time.Second, &signup)
	next(t, j, "buy", 60*time.Second, &buy)
	var saved Joined
	next(t, j, "saved", 30*time.Second, &saved)
	t.Logf("the household's record copied by the rogue, with the right code: %s", rogueCopy)
	t.Logf("rogue's own directory with the right code: %s", rogueOwn)
	if !strings.Contains(rogueCopy, "certificate") {
		t.Errorf("pairing with the copied record at the rogue's address: %q, want a certificate error", rogueCopy)
	}
	t.Logf("sign-up before pairing: %s", signupUnpaired)
	t.Logf("household with a wrong code: %s", wrong)
	if rogueOwn == "" || !strings.Contains(rogueOwn, pairing.ErrNotDirectory.Error()) {
		t.Errorf("pairing with the rogue's directory: %q, want %q", rogueOwn, pairing.ErrNotDirectory)
	}
	if !strings.Contains(signupUnpaired, ErrNotPaired.Error()) {
		t.Errorf("sign-up before pairing: %q, want %q", signupUnpaired, ErrNotPaired)
	}
	if !strings.Contains(wrong, "wrong join code") {
		t.Errorf("pairing with a wrong code: %q", wrong)
	}
	if paired != "" {
		t.Fatalf("pairing with the household's code: %s", paired)
	}
	if string(info.Fingerprint) != hh["fingerprint"] || info.URL != "https://"+a.IP.String()+":"+hh["port"] {
		t.Errorf("paired with %+v, want %s at %s:%s", info, hh["fingerprint"], a.IP, hh["port"])
	}
	if signup != "" || buy != "" {
		t.Errorf("after pairing: sign-up %q, buy %q; want both to work", signup, buy)
	}
	if !saved.Paired || string(saved.Fingerprint) != hh["fingerprint"] || saved.URL != info.URL {
		t.Errorf("saved %+v", saved)
	}
	time.Sleep(time.Second)
	reqs := drainRequests(rogue)
	t.Logf("the rogue received %d requests: %v", len(reqs), paths(reqs))
	checkRogue(t, reqs)
	// Only the rogue's own directory (port 7444, listed and typed) got
	// pairing attempts; the copied record failed at TLS, before any request.
	if len(reqs) != 4 || reqs[0].Path != pairing.StartPath || reqs[1].Path != pairing.FinishPath {
		t.Errorf("the rogue received %v, want exactly two pairing attempts (start, finish) on its own directory", paths(reqs))
	}
}

func containsHost(hosts []string, ip string) bool {
	for _, h := range hosts {
		if strings.HasPrefix(h, ip+":") {
			return true
		}
	}
	return false
}

func paths(rs []rogueRequest) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
