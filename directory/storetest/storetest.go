// Package storetest is the one test suite every directory.Store passes:
// sqlitestore and pgstore run it (Run) against a fresh database per test,
// so the two engines keep the same rules — idempotent purchases, one
// pending-or-paid purchase per account and title, no license without a
// paid purchase, who is online, the outbox, the test processor's charges
// (one per idempotency key) — including under concurrency.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Auditor is what a store offers beyond directory.Store for audits; both
// stores implement it, and the suite checks it when present.
type Auditor interface {
	Purchases(ctx context.Context) ([]directory.Purchase, error)
	OrphanLicenses(ctx context.Context) (int, error)
}

// Binder is the start-up check that a database belongs to one directory
// key; both stores implement it, and the suite checks it when present.
type Binder interface {
	BindIdentity(ctx context.Context, id identity.ID, now time.Time) error
}

// Opener returns a new, empty, migrated store; the suite closes it.
type Opener func(t *testing.T) directory.Store

// Run runs every test of the suite as a subtest of t.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, directory.Store)
	}{
		{"AccountsAndDevices", testAccountsAndDevices},
		{"PurchaseRules", testPurchaseRules},
		{"DeclineFreesSlot", testDeclineFreesSlot},
		{"FreePurchase", testFreePurchase},
		{"ConcurrentPurchases", testConcurrentPurchases},
		{"ConcurrentEnrollment", testConcurrentEnrollment},
		{"DeviceLimit", testDeviceLimit},
		{"Titles", testTitles},
		{"Online", testOnline},
		{"Outbox", testOutbox},
		{"BindIdentity", testBindIdentity},
		{"LeaveAccount", testLeaveAccount},
		{"ChargeLedger", testChargeLedger},
		{"ChargedPurchase", testChargedPurchase},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if c, ok := s.(interface{ Close() error }); ok {
					_ = c.Close()
				}
			})
			c.fn(t, s)
		})
	}
}

var ctx = context.Background()

func newDevice(t *testing.T, s directory.Store, account string) directory.Device {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	d := directory.Device{ID: id.ID(), Name: "dev", Account: account, Keys: id.Public(), Created: time.Now().Truncate(time.Millisecond)}
	if err := s.EnrollDevice(ctx, d, 0); err != nil {
		t.Fatal(err)
	}
	return d
}

func newTitle(t *testing.T, s directory.Store, id, name string, mod func(*directory.TitleRecord)) *directory.TitleRecord {
	t.Helper()
	var c sealed.ContentID
	_, _ = rand.Read(c[:])
	tr := &directory.TitleRecord{Title: directory.Title{ID: id, Name: name, MediaType: "audio/mpeg", Price: 100,
		Currency: "EUR", ContentID: c}, Manifest: []byte("m"), SealedKey: []byte("k"), Published: time.Now()}
	if mod != nil {
		mod(tr)
	}
	if err := s.PutTitle(ctx, tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func seed(t *testing.T, s directory.Store) (directory.Device, *directory.TitleRecord) {
	t.Helper()
	for _, a := range []string{"alice", "bob"} {
		if err := s.CreateAccount(ctx, a, "hash-"+a, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return newDevice(t, s, "alice"), newTitle(t, s, "t1", "Song", nil)
}

func testTitles(t *testing.T, s directory.Store) {
	_, tr := seed(t, s)
	if err := s.PutTitle(ctx, tr); !errors.Is(err, directory.ErrExists) {
		t.Errorf("same title twice: %v", err)
	}
	art := []byte("\xff\xd8jpeg")
	newTitle(t, s, "t2", "Blue 100% Pure_Song", func(r *directory.TitleRecord) {
		r.Artist, r.Album, r.Artwork, r.Track, r.Year = "Zoë", "Album X", art, 3, 2024
		r.DurationMS, r.Width, r.Height = 61_500, 1280, 720
	})
	newTitle(t, s, "t3", "Secret", func(r *directory.TitleRecord) {
		r.Owner, r.Visibility, r.Publisher, r.Price = "bob", directory.VisibilityHousehold, "DEVB", 0
	})
	newTitle(t, s, "t4", "Gone", func(r *directory.TitleRecord) { r.Withdrawn = true })
	got, err := s.Title(ctx, "t2")
	if err != nil || got.Artist != "Zoë" || got.Album != "Album X" || !got.Title.Artwork || got.Track != 3 || got.Year != 2024 ||
		got.DurationMS != 61_500 || got.Width != 1280 || got.Height != 720 || string(got.Manifest) != "m" || string(got.SealedKey) != "k" {
		t.Fatalf("title: %+v %v", got, err)
	}
	if got, err := s.TitleByContent(ctx, tr.ContentID); err != nil || got.ID != "t1" || got.Title.Artwork {
		t.Errorf("by content: %+v %v", got, err)
	}
	if b, err := s.Artwork(ctx, "t2"); err != nil || string(b) != string(art) {
		t.Errorf("artwork: %q %v", b, err)
	}
	if _, err := s.Artwork(ctx, "t1"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("no artwork: %v", err)
	}
	if _, err := s.Title(ctx, "nope"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing title: %v", err)
	}
	search := func(q, viewer string, off, lim int) ([]string, int) {
		t.Helper()
		ts, total, err := s.SearchTitles(ctx, q, viewer, off, lim)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var ids []string
		for _, x := range ts {
			ids = append(ids, x.ID)
		}
		return ids, total
	}
	for _, c := range []struct {
		q, viewer string
		want      string
	}{
		{"", "", "t2 t1"},       // by name; household and withdrawn titles left out
		{"", "bob", "t2 t3 t1"}, // bob sees his household's title
		{"SONG", "", "t2 t1"},   // case-insensitive (ASCII)
		{"100%", "", "t2"},      // % is a literal
		{"u_e", "", ""},         // _ is a literal, not a wildcard ("Pure" would match)
		{"pure_", "", "t2"},     // and matches itself
		{"zoë", "", "t2"},       // artist
		{"album x", "", "t2"},   // album
		{"Gone", "", ""},        // withdrawn
		{"secret", "alice", ""}, // another household's
	} {
		ids, total := search(c.q, c.viewer, 0, 10)
		if strings.Join(ids, " ") != c.want || total != len(ids) {
			t.Errorf("search %q as %q: %v (total %d), want %q", c.q, c.viewer, ids, total, c.want)
		}
	}
	if ids, total := search("", "", 1, 1); len(ids) != 1 || ids[0] != "t1" || total != 2 {
		t.Errorf("second page: %v total %d", ids, total)
	}
	if err := s.WithdrawTitle(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Title(ctx, "t1"); !got.Withdrawn {
		t.Error("withdrawn title not marked")
	}
	if err := s.WithdrawTitle(ctx, "nope"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("withdrawing a missing title: %v", err)
	}
}

func online(t *testing.T, s directory.Store, now time.Time) map[string]directory.Candidate {
	t.Helper()
	out := map[string]directory.Candidate{}
	err := s.OnlineHoldings(ctx, now, func(c sealed.ContentID, h *directory.Candidate) error {
		out[fmt.Sprintf("%x/%s", c[:4], h.Device)] = *h
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testOnline(t *testing.T, s directory.Store) {
	d, tr := seed(t, s)
	tr2 := newTitle(t, s, "t2", "Other", nil)
	now := time.Now().Truncate(time.Millisecond)
	pol := directory.Policy{Mode: directory.PolicyList, Allow: []string{"bob", "carol"}, Deny: []string{"dave"}}
	a := &directory.AnnounceRecord{Device: d.ID, PublicIP: "198.51.100.7", Expires: now.Add(time.Minute),
		Announcement: directory.Announcement{Addrs: []string{"10.0.0.1:7000", "[fd00::1]:7000"}, PrivateAddrs: []string{"10.0.0.1"},
			Load: 3, RTTs: map[string]int64{"X": 4},
			Holdings: []directory.Holding{{Content: tr.ContentID, Complete: true, Policy: pol}, {Content: tr2.ContentID}}}}
	if err := s.Announce(ctx, a); err != nil {
		t.Fatal(err)
	}
	on := online(t, s, now)
	c, ok := on[fmt.Sprintf("%x/%s", tr.ContentID[:4], d.ID)]
	if len(on) != 2 || !ok {
		t.Fatalf("online: %+v", on)
	}
	if c.Device != d.ID || c.Account != "alice" || c.Load != 3 || !c.Complete || c.PublicIP != "198.51.100.7" ||
		strings.Join(c.Addrs, " ") != "10.0.0.1:7000 [fd00::1]:7000" || strings.Join(c.PrivateAddrs, " ") != "10.0.0.1" ||
		c.Policy.Mode != "list" || strings.Join(c.Policy.Allow, " ") != "bob carol" || strings.Join(c.Policy.Deny, " ") != "dave" ||
		!c.Expires.Equal(a.Expires) {
		t.Errorf("candidate = %+v", c)
	}
	if got, err := s.Announcement(ctx, d.ID); err != nil || got.RTTs["X"] != 4 || got.PrivateAddrs[0] != "10.0.0.1" ||
		got.Load != 3 || !got.Expires.Equal(a.Expires) || len(got.Addrs) != 2 {
		t.Errorf("announcement = %+v %v", got, err)
	}
	if h, err := s.Holding(ctx, d.ID, tr.ContentID); err != nil || !h.Complete || h.Policy.Mode != "list" || len(h.Policy.Deny) != 1 {
		t.Errorf("holding: %+v %v", h, err)
	}
	if len(online(t, s, now.Add(2*time.Minute))) != 0 {
		t.Error("expired announcement still online")
	}
	// the same holdings again, later: a store may keep the rows as they
	// were, but they are online as long as the new announcement is
	later := *a
	later.Expires = now.Add(3 * time.Minute)
	if err := s.Announce(ctx, &later); err != nil {
		t.Fatal(err)
	}
	if on := online(t, s, now.Add(2*time.Minute)); len(on) != 2 {
		t.Errorf("a repeated heartbeat: %d online after the first one expired, want 2", len(on))
	}
	for _, c := range online(t, s, now) {
		if !c.Expires.Equal(later.Expires) {
			t.Errorf("expiry %v after a repeated heartbeat, want %v", c.Expires, later.Expires)
		}
	}
	// a heartbeat replaces the holdings set
	a.Holdings = a.Holdings[1:]
	a.Load = 1
	if err := s.Announce(ctx, a); err != nil {
		t.Fatal(err)
	}
	if on := online(t, s, now); len(on) != 1 {
		t.Errorf("after a smaller heartbeat: %+v", on)
	}
	if _, err := s.Holding(ctx, d.ID, tr.ContentID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("dropped holding: %v", err)
	}
	// many holdings in one heartbeat (a store may take another path for them)
	var many []directory.Holding
	for range 100 {
		var c sealed.ContentID
		_, _ = rand.Read(c[:])
		many = append(many, directory.Holding{Content: c, Complete: true, Policy: directory.Policy{Mode: directory.PolicyHousehold}})
	}
	a.Holdings = many
	if err := s.Announce(ctx, a); err != nil {
		t.Fatal(err)
	}
	if on := online(t, s, now); len(on) != 100 {
		t.Errorf("after 100 holdings: %d online", len(on))
	}
	if err := s.Withdraw(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if on := online(t, s, now); len(on) != 0 {
		t.Errorf("withdrawn device still online: %d", len(on))
	}
	if _, err := s.Holding(ctx, d.ID, many[0].Content); err != nil {
		t.Errorf("holding kept after withdraw: %v", err)
	}
	if _, err := s.Announcement(ctx, d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("announcement after withdraw: %v", err)
	}
	if err := s.Announce(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeDevice(ctx, "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	if on := online(t, s, now); len(on) != 0 {
		t.Errorf("revoked device still online: %d", len(on))
	}
	stranger := &directory.AnnounceRecord{Device: "NOSUCHDEVICE", Expires: now.Add(time.Minute)}
	if err := s.Announce(ctx, stranger); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("announcing an unknown device: %v", err)
	}
}

func testOutbox(t *testing.T, s directory.Store) {
	d, _ := seed(t, s)
	now := time.Now().Truncate(time.Millisecond)
	var want []string
	for i := range 5 {
		tr := newTitle(t, s, fmt.Sprint("o", i), "T", nil)
		p, _, err := s.BeginPurchase(ctx, purchase(d, tr, fmt.Sprint("p", i), fmt.Sprint("n", i)))
		if err != nil {
			t.Fatal(err)
		}
		p.State = directory.PurchasePaid
		payload := fmt.Sprintf(`{"i":%d}`, i)
		want = append(want, payload)
		ev := &directory.OutboxEvent{Kind: "registration", Payload: []byte(payload), Created: now, NextAttempt: now.Add(time.Duration(i) * time.Millisecond)}
		if err := s.CompletePurchase(ctx, p, ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	lease := time.Minute
	due, err := s.ClaimEvents(ctx, now.Add(time.Second), 3, lease)
	if err != nil || len(due) != 3 || string(due[0].Payload) != want[0] || string(due[2].Payload) != want[2] {
		t.Fatalf("claimed: %d %v", len(due), err)
	}
	// leased: another claim (another instance) gets only the other two
	other, err := s.ClaimEvents(ctx, now.Add(time.Second), 10, lease)
	if err != nil || len(other) != 2 || string(other[0].Payload) != want[3] {
		t.Fatalf("second claim: %d %v", len(other), err)
	}
	if again, _ := s.ClaimEvents(ctx, now.Add(2*time.Second), 10, lease); len(again) != 0 {
		t.Errorf("claimed again within the lease: %d", len(again))
	}
	if err := s.MarkDelivered(ctx, []int64{due[0].ID, other[1].ID}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetry(ctx, due[1].ID, 1, now.Add(time.Hour), strings.Repeat("é", 400)); err != nil {
		t.Fatal(err)
	}
	// after the leases ran out: the undelivered ones not backing off
	due, _ = s.ClaimEvents(ctx, now.Add(lease+time.Second), 10, lease)
	var got []string
	for _, e := range due {
		got = append(got, string(e.Payload))
	}
	if strings.Join(got, " ") != strings.Join([]string{want[2], want[3]}, " ") {
		t.Errorf("claimed after the leases ran out: %v", got)
	}
	// concurrent claims never hand out one event twice
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]int{}
	for range 8 {
		wg.Go(func() {
			evs, err := s.ClaimEvents(ctx, now.Add(3*lease), 1, lease)
			if err != nil {
				t.Errorf("racing claim: %v", err)
			}
			mu.Lock()
			for _, e := range evs {
				seen[e.ID]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 2 {
		t.Errorf("racing claims got %d events, want the 2 due", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %d claimed %d times at once", id, n)
		}
	}
	var all []*directory.OutboxEvent
	_ = s.Events(ctx, func(e *directory.OutboxEvent) error { all = append(all, e); return nil })
	if len(all) != 5 || !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].ID < all[j].ID }) {
		t.Fatalf("events: %d", len(all))
	}
	if all[0].Delivered.IsZero() || all[0].Attempts != 1 || all[1].Attempts != 1 || all[1].LastError == "" || all[4].Delivered.IsZero() ||
		!all[1].NextAttempt.Equal(now.Add(time.Hour)) || len(all[1].LastError) > 500 {
		t.Errorf("delivered %+v, retried %+v", all[0], all[1])
	}
}
