package share

import (
	"context"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// TestAnnouncementsInOrder: an announcement built before a policy change
// (the heartbeat's, slow on its way) and reaching the directory after the
// one SetPolicy sends does not leave the directory with the old policy
// until the next heartbeat (here an hour; 30 s by default): the node
// announces once more. Real directory on SQLite and TLS; the first
// announcement held on its way.
func TestAnnouncementsInOrder(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Ordered Song", 256<<10, 0)
	g := newAnnounceGate(t, true) // the first plain announcement sent while armed
	dev, c := d.enroll(t, "bob", g)
	b := serveNode(t, c, dev, "bob", func(o *Options) { o.AnnounceInterval = time.Hour })
	if _, err := b.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	x := startNode(t, d, "carol", nil)
	waitSupplier(t, x, b, title)

	g.hold.Store(true)
	b.announceSoon() // the heartbeat's announcement, policy "anyone", held
	select {
	case <-g.held:
	case <-time.After(20 * time.Second):
		t.Fatal("no heartbeat announcement")
	}
	if err := b.SetPolicy(ctx, "", directory.Policy{Mode: "nobody"}); err != nil {
		t.Fatal(err)
	}
	g.Release() // the held one reaches the directory after SetPolicy's
	<-g.answered
	// The directory ends with the new policy: at once, or after one more
	// announcement.
	deadline := time.Now().Add(10 * time.Second)
	for listed := true; listed; {
		if time.Now().After(deadline) {
			t.Fatal("the directory lists the device to another account 10 s after it stopped sharing: the announcement built before SetPolicy arrived after SetPolicy's, and nothing announced again")
		}
		sups, err := x.dirClient().Suppliers(ctx, title.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		listed = false
		for _, s := range sups {
			listed = listed || s.Device == b.ID()
		}
		if listed {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
