package directory_test

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/sealed"
)

// TestHeartbeatUnchangedSkipsTheStore: a heartbeat that repeats the
// device's announcement is answered without writing its row while the
// stored expiry is more than half the TTL away (a real directory on
// SQLite, real TLS; the row read back from the store): the answer names
// the stored expiry, a lookup still lists the device; past half the TTL, a
// changed load and after a withdrawal, the row is written again. Without
// the skip every heartbeat moved the stored expiry.
func TestHeartbeatUnchangedSkipsTheStore(t *testing.T) {
	ctx := context.Background()
	const ttl = 20 * time.Second
	clock := clock.NewFake(time.Now()) // moved within ReplayWindow of the real one: clients sign with the real time
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1, AnnounceTTL: ttl, Now: clock.Now})
	st := d.Store.(*sqlitestore.Store)
	var cid sealed.ContentID
	rand.Read(cid[:])
	dev := enrollIn(t, st, "alice")
	c := d.Client(t, dev)
	other := d.Client(t, enrollIn(t, st, "bob"))
	ann := func(load int) directory.Announcement {
		return directory.Announcement{Addrs: []string{"198.51.100.2:7000"}, Load: load,
			Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}
	}
	var last time.Time // the stored expiry
	step := func(what string, advance time.Duration, a directory.Announcement, written bool) {
		t.Helper()
		clock.Advance(advance)
		ans, err := c.AnnounceStatus(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		row, err := st.Announcement(ctx, dev.ID())
		if err != nil {
			t.Fatalf("%s: reading the row: %v", what, err)
		}
		want := last
		if written {
			want = clock.Now().Add(ttl)
		}
		if !row.Expires.Equal(want.Truncate(time.Millisecond)) || ans.Expires.UnixMilli() != row.Expires.UnixMilli() {
			t.Errorf("%s: stored expiry %v, answered %v; want %v (written: %v)", what, row.Expires, ans.Expires, want, written)
		}
		last = row.Expires
		if got := heldBy(t, other, dev.ID(), cid); !slices.Equal(got, []string{"complete"}) {
			t.Errorf("%s: a lookup finds %v", what, got)
		}
	}
	step("first", 0, ann(0), true)
	step("heartbeat 5 s on", 5*time.Second, ann(0), false)
	step("heartbeat 9 s on (11 s left)", 4*time.Second, ann(0), false)
	step("heartbeat 11 s on (9 s left)", 2*time.Second, ann(0), true)
	step("load changed", time.Second, ann(2), true)
	step("heartbeat after", time.Second, ann(2), false)
	if err := c.Withdraw(ctx); err != nil {
		t.Fatal(err)
	}
	step("after withdrawing", time.Second, ann(2), true)

	rec := httptest.NewRecorder()
	d.Server.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `route="announce_unchanged",status="200"} 3`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}
