package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/syncbuf"
	"github.com/kith-media/kith/share/identity"
)

// TestRelayCommand: kith-relay prints RELAY-ID@addr, refuses a ticket
// another directory signed and stops cleanly with its context (its
// metrics listener too); without --directory it exits non-zero.
func TestRelayCommand(t *testing.T) {
	if code := run(context.Background(), []string{"--data", t.TempDir()}, io.Discard, io.Discard); code == 0 {
		t.Fatal("kith-relay without --directory exited 0")
	}
	dir, _ := identity.Generate()
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--directory", string(dir.ID()), "--addr", "127.0.0.1:0", "--data", data,
			"--metrics-addr", "127.0.0.1:0", "--log-level", "warn"}, &out, io.Discard)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatal("kith-relay printed nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rid, addr, ok := strings.Cut(strings.TrimSpace(out.String()), "@")
	if _, err := identity.ParseID(rid); !ok || err != nil {
		t.Fatalf("kith-relay printed %q", out.String())
	}
	other, _ := identity.Generate()
	tk, _ := relay.SignTicket(other, relay.Ticket{Asker: other.ID(), Supplier: dir.ID(), Expires: time.Now().Add(time.Minute)})
	_, err := relay.Dial(ctx, addr, tk)
	var re *relay.RefusedError
	if !errors.As(err, &re) || re.Code != relay.CodeBadTicket {
		t.Fatalf("another directory's ticket: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("kith-relay exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("kith-relay did not stop")
	}
}

// TestRelayDefaultData: without --data the relay keeps relay.key in
// $KITH_RELAY_DATA, else $XDG_DATA_HOME/kith-relay (made 0700) — not in
// the folder it was started from — and the ID it prints is that key's;
// a second start finds the same key.
func TestRelayDefaultData(t *testing.T) {
	xdg, cwd, env := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	t.Setenv("KITH_RELAY_DATA", "")
	t.Chdir(cwd)
	want := filepath.Join(xdg, "kith-relay")
	first := startRelay(t)
	if got := keyID(t, want); got != first {
		t.Fatalf("printed %s, key in %s is %s", first, want, got)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("default data folder: %v, %v; want mode 0700", fi, err)
	}
	if _, err := os.Stat(filepath.Join(cwd, "relay.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("relay.key in the current folder: %v", err)
	}
	if again := startRelay(t); again != first {
		t.Fatalf("second start printed %s, want the same key %s", again, first)
	}
	t.Setenv("KITH_RELAY_DATA", env)
	printed := startRelay(t)
	if got := keyID(t, env); printed != got || printed == first {
		t.Fatalf("with KITH_RELAY_DATA: printed %s, key there %s (first %s)", printed, got, first)
	}
}

// startRelay runs kith-relay with args until it prints its line, stops
// it and returns the relay ID it printed.
func startRelay(t *testing.T, args ...string) string {
	t.Helper()
	dir, _ := identity.Generate()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--directory", string(dir.ID()), "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...), &out, &errb)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		select {
		case code := <-done:
			t.Fatalf("kith-relay exited %d: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("kith-relay printed nothing")
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("kith-relay exited %d: %s", code, errb.String())
	}
	rid, _, _ := strings.Cut(out.String(), "@")
	return rid
}

// keyID is the ID of the relay.key in data.
func keyID(t *testing.T, data string) string {
	t.Helper()
	id, err := identity.Load(filepath.Join(data, "relay.key"))
	if err != nil {
		t.Fatal(err)
	}
	return string(id.ID())
}

// TestOneRelayPerFolder: a second kith-relay on a folder a running relay
// holds is refused (exit 1) with a message naming the folder and what to
// do, before it listens or prints an ID — two relays on one folder would
// answer as one relay ID; once the first stops, the folder can be used
// again (same key).
func TestOneRelayPerFolder(t *testing.T) {
	data := t.TempDir()
	dir, _ := identity.Generate()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--directory", string(dir.ID()), "--addr", "127.0.0.1:0", "--data", data, "--log-level", "warn"}, &out, &errb)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		select {
		case code := <-done:
			t.Fatalf("first kith-relay exited %d: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("first kith-relay printed nothing")
		}
	}
	first, _, _ := strings.Cut(out.String(), "@")
	if held, err := datadir.Dir(data).InUse(); err != nil || !held {
		t.Fatalf("a running relay's folder: InUse %v, %v; want held", held, err)
	}

	var out2, errb2 syncbuf.Buffer
	code := run(context.Background(), []string{"--directory", string(dir.ID()), "--addr", "127.0.0.1:0", "--data", data}, &out2, &errb2)
	msg := errb2.String()
	if code != 1 || !strings.Contains(msg, "data folder in use") || !strings.Contains(msg, data) ||
		!strings.Contains(msg, "another kith-relay") || !strings.Contains(msg, "another --data") {
		t.Fatalf("second kith-relay on the folder: exit %d, stderr %q; want exit 1 saying the folder is in use and what to do", code, msg)
	}
	if out2.String() != "" {
		t.Fatalf("the refused relay printed %q", out2.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("first kith-relay exited %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("first kith-relay did not stop")
	}
	if again := startRelay(t, "--data", data); again != first {
		t.Fatalf("after the first stopped: printed %s, want the same key %s", again, first)
	}
}
