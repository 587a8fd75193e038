package directory_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// TestAnnouncementsLeaveLookupsRoom: announcements waiting on a store that
// is slow to take their holdings (here another connection holds SQLite's
// write lock, as `kith-directory publish` may) hold at most half of the
// directory's requests in flight, so the lookups a crowd waits on, answered
// from memory, are still answered; announcements beyond the half are
// refused busy (the client asks again) and those let in complete once the
// store is free. Without the cap of their own the announcements took every
// slot and a suppliers lookup was refused "too many requests in flight".
func TestAnnouncementsLeaveLookupsRoom(t *testing.T) {
	ctx := context.Background()
	p := publishTitle(t, 7, 256<<10, sqlitestore.Options{BusyTimeout: time.Minute})
	st, id, origin, title, dbPath := p.st, p.id, p.origin, p.title, p.path
	const maxInFlight = 8
	d := dirtest.Serve(t, directory.Options{Identity: id, Store: st, OriginDir: origin,
		MaxInFlight: maxInFlight, RateIP: -1, RateDevice: -1, RateAuth: -1})
	c, _ := d.Enrolled(ctx, t, "crowd", "asker")
	cid := title.ContentID
	if _, err := c.Suppliers(ctx, cid); err != nil {
		t.Fatalf("a lookup before the store is held: %v", err)
	}

	// Each announcer is a device of its own whose first announcement must
	// write its holdings: more of them than the directory has slots.
	const announcers = maxInFlight + 4
	clients := make([]*directory.Client, announcers)
	holders := map[identity.ID]bool{}
	for i := range clients {
		var dev *identity.Identity
		clients[i], dev = d.Enrolled(ctx, t, "crowd", fmt.Sprintf("holder %d", i))
		holders[dev.ID()] = true
	}

	// Another connection takes the write lock and keeps it.
	lock, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Error(err)
			}
		}
	}
	defer unlock()

	errs := make([]error, announcers)
	var wg sync.WaitGroup
	for i, hc := range clients {
		wg.Go(func() {
			errs[i] = hc.Announce(ctx, directory.Announcement{Addrs: []string{"192.0.2.7:" + strconv.Itoa(7000+i)},
				Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}})
		})
	}
	// Wait until the announcements not let in have been refused: the
	// others are then waiting on the store.
	busy := regexp.MustCompile(`kith_directory_busy_total\{route="announce"\} (\d+)`)
	refused := func() int {
		w := httptest.NewRecorder()
		d.Server.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		m := busy.FindStringSubmatch(w.Body.String())
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for refused() < announcers-maxInFlight/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := refused(); n != announcers-maxInFlight/2 {
		t.Fatalf("%d announcements refused busy while the store was held, want %d (all but half of %d slots)", n, announcers-maxInFlight/2, maxInFlight)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Suppliers(ctx, cid); err != nil {
			t.Fatalf("a suppliers lookup while announcements wait on the store: %v", err)
		}
		if _, err := c.Manifest(ctx, cid); err != nil {
			t.Fatalf("a manifest lookup while announcements wait on the store: %v", err)
		}
	}

	unlock()
	wg.Wait()
	let := 0
	for i, err := range errs {
		switch {
		case err == nil:
			let++
		case !isStatus(err, 503):
			t.Errorf("announcement %d: %v, want done or 503 busy", i, err)
		}
	}
	if let != maxInFlight/2 {
		t.Errorf("%d announcements done once the store was free, want %d", let, maxInFlight/2)
	}
	sups, err := c.Suppliers(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, s := range sups {
		if holders[s.Device] {
			listed++
		}
	}
	if listed != maxInFlight/2 {
		t.Errorf("%d announcers listed as suppliers afterwards, want %d", listed, maxInFlight/2)
	}
}
