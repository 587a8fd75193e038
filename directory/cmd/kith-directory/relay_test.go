package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/relay"
)

// TestServeRelay: serve --relay runs a relay with the directory's key
// beside the directory, offers it in announcement answers, and the relay
// honours this directory's tickets only.
func TestServeRelay(t *testing.T) {
	p := serve(t, t.TempDir(), "--relay", "127.0.0.1:0")
	sup := enroll(t, p, "alice", "supplier")
	asker := enroll(t, p, "bob", "asker")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ans, err := sup.c.AnnounceStatus(ctx, directory.Announcement{Addrs: []string{"127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Relay == nil || ans.Relay.ID != p.fp || ans.Reachable == nil || *ans.Reachable {
		t.Fatalf("announce answered %+v, want the directory's relay and not reachable", ans)
	}
	_, err = relay.Dial(ctx, ans.Relay.Addr, []byte("not a ticket"))
	var re *relay.RefusedError
	if !errors.As(err, &re) || re.Code != relay.CodeBadTicket {
		t.Fatalf("garbage ticket: %v, want refused as bad", err)
	}
	// a well-formed ticket signed by a device, not the directory
	tk, err := relay.SignTicket(asker.id, relay.Ticket{Asker: asker.id.ID(), Supplier: sup.id.ID(), Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = relay.Dial(ctx, ans.Relay.Addr, tk); !errors.As(err, &re) || re.Code != relay.CodeBadTicket {
		t.Fatalf("ticket signed by a device: %v, want refused as bad", err)
	}
}
