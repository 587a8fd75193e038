package pgstore

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/pgtest"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestChangeFeed: two stores on one database (two instances): what one
// announces, withdraws or revokes, the other's feed hands out once, with
// the device's current state; a signed request recorded by one is a
// replay to the other.
func TestChangeFeed(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	a, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, cursor, err := b.DeviceChanges(ctx, 0, time.Now())
	if err != nil || cursor == 0 {
		t.Fatalf("starting the feed: %d %v", cursor, err)
	}
	if err := a.CreateAccount(ctx, "alice", "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	id, _ := identity.Generate()
	if err := a.EnrollDevice(ctx, directory.Device{ID: id.ID(), Name: "d", Account: "alice", Keys: id.Public(), Created: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	var c sealed.ContentID
	_, _ = rand.Read(c[:])
	ann := &directory.AnnounceRecord{Device: id.ID(), PublicIP: "192.0.2.1", Expires: time.Now().Add(time.Minute),
		Announcement: directory.Announcement{Addrs: []string{"192.0.2.1:7000"},
			Holdings: []directory.Holding{{Content: c, Complete: true, Policy: directory.Policy{Mode: "household"}}}}}
	if err := a.Announce(ctx, ann); err != nil {
		t.Fatal(err)
	}
	poll := func() []directory.DeviceChange {
		t.Helper()
		ch, next, err := b.DeviceChanges(ctx, cursor, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		cursor = next
		return ch
	}
	ch := poll()
	if len(ch) != 1 || ch[0].Device != id.ID() || ch[0].Account != "alice" || ch[0].Online == nil ||
		len(ch[0].Online.Holdings) != 1 || ch[0].Online.Holdings[0].Content != c || ch[0].Online.Holdings[0].Policy.Mode != "household" {
		t.Fatalf("after an announce: %+v", ch)
	}
	if ch := poll(); len(ch) != 0 {
		t.Errorf("the same change handed out again: %+v", ch)
	}
	if err := a.RevokeDevice(ctx, "alice", id.ID()); err != nil {
		t.Fatal(err)
	}
	if ch := poll(); len(ch) != 1 || ch[0].Online != nil {
		t.Errorf("after a revoke: %+v", ch)
	}
	exp := time.Now().Add(30 * time.Second)
	if fresh, err := a.SeenRequest(ctx, []byte("sig-1"), exp); !fresh || err != nil {
		t.Fatalf("first sight: %v %v", fresh, err)
	}
	if fresh, err := b.SeenRequest(ctx, []byte("sig-1"), exp); fresh || err != nil {
		t.Errorf("the same request at the other instance: fresh=%v %v", fresh, err)
	}
	if err := b.PruneShared(ctx, exp.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := a.SeenRequest(ctx, []byte("sig-1"), exp); !fresh {
		t.Error("a replay row outlived its window")
	}
}
