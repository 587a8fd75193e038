package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/relay"
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
