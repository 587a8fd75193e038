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
// Those beyond the half wait up to a while for a slot (announceWait)
// before they are refused.
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

	unlock := holdWriteLock(t, dbPath)
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
	// (Each is refused once it has waited announceWait for a slot.)
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

// holdWriteLock takes the SQLite write lock of the store at dbPath on a
// connection of its own, as `kith-directory publish` may, and keeps it
// until the returned func is called (again: nothing).
func holdWriteLock(t *testing.T, dbPath string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	lock, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	conn, err := lock.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestAnnouncementWaitsForASlot: an announcement that finds every slot
// of the announcements in flight taken waits for one, and is done once
// one frees, rather than refused busy at once (a flash crowd's devices
// were refused hundreds of times, each waiting out its retry): with one
// slot, held by an announcement waiting on the store, a second one is
// done when the store is free half a second later, and nothing is
// refused.
func TestAnnouncementWaitsForASlot(t *testing.T) {
	ctx := context.Background()
	p := publishTitle(t, 8, 256<<10, sqlitestore.Options{BusyTimeout: time.Minute})
	d := dirtest.Serve(t, directory.Options{Identity: p.id, Store: p.st, OriginDir: p.origin,
		MaxInFlight: 2, RateIP: -1, RateDevice: -1, RateAuth: -1}) // one announcement in flight
	cid := p.title.ContentID
	var clients [2]*directory.Client
	for i := range clients {
		clients[i], _ = d.Enrolled(ctx, t, "crowd", fmt.Sprintf("holder %d", i))
	}
	unlock := holdWriteLock(t, p.path)
	defer unlock()
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			errs[i] = c.Announce(ctx, directory.Announcement{Addrs: []string{"192.0.2.8:" + strconv.Itoa(7000+i)},
				Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}})
		})
		time.Sleep(50 * time.Millisecond) // the first takes the slot
	}
	time.Sleep(500 * time.Millisecond)
	unlock()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("announcement %d: %v, want done once the slot freed", i, err)
		}
	}
}
