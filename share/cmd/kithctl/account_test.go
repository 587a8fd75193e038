package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/internal/syncbuf"
)

// serveDevice runs `kithctl serve` on data (a device of the directory at
// url, its peer server on listen, no LAN discovery) until the test ends,
// waits until it answers, and returns a runner of kithctl commands on it
// (exit code, stdout and stderr).
func serveDevice(t *testing.T, url, data, listen string) func(args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr syncbuf.Buffer // serve's log and its last words, written from several goroutines
	served := make(chan int, 1)
	go func() {
		served <- run(ctx, []string{"--data", data, "--directory", url, "serve", "--listen", listen, "--lan=false"}, &serveErr, &serveErr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-served; code != 0 {
			t.Errorf("serve exited %d: %s", code, serveErr.String())
		}
	})
	cmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"--data", data}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := cmd("status"); code == 0 {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device did not answer: %s", serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startDirectory serves a real directory (SQLite, TLS) on loopback and
// returns its URL with the fingerprint.
func startDirectory(t *testing.T) string {
	t.Helper()
	return dirtest.Serve(t, directory.Options{RateAuth: -1}).URL
}

// A running kithctl device signs out of one account and into another
// without restarting: `signin bob` is refused while it belongs to alice,
// `signout` leaves alice's account at the directory, then `signin bob`
// works and status says bob — the same serve throughout.
func TestSignOutAndInAsAnotherAccount(t *testing.T) {
	url := startDirectory(t)
	data := t.TempDir()
	t.Setenv(envPassword, "correct horse battery")
	cmd := serveDevice(t, url, data, "127.0.0.1:0")
	for _, args := range [][]string{{"signup", "alice"}, {"signup", "bob"}, {"signin", "alice"}} {
		if code, out := cmd(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
	}
	if code, out := cmd("signin", "bob"); code == 0 || !strings.Contains(out, "kithctl signout first") {
		t.Fatalf("signin bob while enrolled under alice: exit %d: %s; want refused, saying to sign out", code, out)
	}
	if code, out := cmd("signout"); code != 0 {
		t.Fatalf("signout: exit %d: %s", code, out)
	}
	if _, out := cmd("--json", "status"); !strings.Contains(out, `"account":""`) {
		t.Errorf("status after signing out: %s", out)
	}
	if code, out := cmd("signin", "bob"); code != 0 {
		t.Fatalf("signin bob after signing out: exit %d: %s", code, out)
	}
	if _, out := cmd("--json", "status"); !strings.Contains(out, `"account":"bob"`) {
		t.Errorf("status after signing in as bob: %s", out)
	}
}
