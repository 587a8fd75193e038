package pgstore

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/internal/pgtest"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestHeartbeatUnchangedTwoInstances: two directories (real servers, real
// TLS) on one PostgreSQL database. A heartbeat repeating the device's
// announcement to the first is answered without a write, and the second
// still lists the device; once the device has announced to the second, the
// first learns it from the change feed and writes its next heartbeat
// (before, it would have skipped it against its own older row, leaving the
// second's).
func TestHeartbeatUnchangedTwoInstances(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	const ttl = 20 * time.Second
	clock := clock.NewFake(time.Now()) // both instances' (within ReplayWindow of the real one)
	serve := func() (*dirtest.Directory, *Store) {
		st, err := Open(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return dirtest.Serve(t, directory.Options{Store: st, RateAuth: -1, RateIP: -1, RateDevice: -1, AnnounceTTL: ttl, Now: clock.Now}), st
	}
	a, st := serve()
	b, _ := serve()
	enroll := func(account string) *identity.Identity {
		id, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAccount(ctx, account, "h", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := st.EnrollDevice(ctx, directory.Device{ID: id.ID(), Name: "d", Account: account, Keys: id.Public(), Created: time.Now()}, 0); err != nil {
			t.Fatal(err)
		}
		return id
	}
	dev := enroll("alice")
	var cid sealed.ContentID
	rand.Read(cid[:])
	ann := directory.Announcement{Addrs: []string{"198.51.100.2:7000"},
		Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}
	onA, onB, lookB := a.Client(t, dev), b.Client(t, dev), b.Client(t, enroll("bob"))
	stored := func() time.Time {
		t.Helper()
		row, err := st.Announcement(ctx, dev.ID())
		if err != nil {
			t.Fatal(err)
		}
		return row.Expires
	}
	heartbeat := func(c *directory.Client) {
		t.Helper()
		if _, err := c.AnnounceStatus(ctx, ann); err != nil {
			t.Fatal(err)
		}
	}

	heartbeat(onA)
	first := stored()
	clock.Advance(5 * time.Second)
	heartbeat(onA) // unchanged, 15 s of 20 left: not written
	if got := stored(); !got.Equal(first) {
		t.Fatalf("a heartbeat 5 s on was written: expiry %v, was %v", got, first)
	}
	deadline := time.Now().Add(5 * time.Second) // the feed: every 500 ms
	for {
		sups, err := lookB.SuppliersN(ctx, cid, directory.MaxSuppliers)
		if err != nil {
			t.Fatal(err)
		}
		if len(sups) > 0 && sups[0].Device == dev.ID() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other instance does not list the device: %+v", sups)
		}
		time.Sleep(100 * time.Millisecond)
	}

	heartbeat(onB) // the second instance writes its own row
	second := stored()
	if !second.After(first) {
		t.Fatalf("the second instance's announcement left expiry %v (first %v)", second, first)
	}
	time.Sleep(4 * feedPollForTest) // the first instance reads it from the feed
	clock.Advance(time.Second)
	heartbeat(onA)
	if got := stored(); !got.After(second) {
		t.Fatalf("after the other instance wrote, a heartbeat to the first was not written: expiry %v, the second's %v", got, second)
	}
}

// feedPollForTest is the directory's change-feed period (directory.feedPoll).
const feedPollForTest = 500 * time.Millisecond
