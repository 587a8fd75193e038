package sqlitestore

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func newDevice(t testing.TB, s *Store, account string) directory.Device {
	return newDeviceF(t, s, account)
}

func newDeviceF(t testing.TB, s *Store, account string) directory.Device {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	d := directory.Device{ID: id.ID(), Name: "dev", Account: account, Keys: id.Public(), Created: time.Now()}
	if err := s.EnrollDevice(context.Background(), d, 0); err != nil {
		t.Fatal(err)
	}
	return d
}

func seed(t testing.TB, s *Store) (directory.Device, *directory.TitleRecord) {
	t.Helper()
	ctx := context.Background()
	for _, a := range []string{"alice", "bob"} {
		if err := s.CreateAccount(ctx, a, "hash", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var c sealed.ContentID
	_, _ = rand.Read(c[:])
	tr := &directory.TitleRecord{Title: directory.Title{ID: "t1", Name: "Song", MediaType: "audio/mpeg", Price: 100,
		Currency: "EUR", ContentID: c}, Manifest: []byte("m"), SealedKey: []byte("k"), Published: time.Now()}
	if err := s.PutTitle(ctx, tr); err != nil {
		t.Fatal(err)
	}
	return newDevice(t, s, "alice"), tr
}

func TestMigrationsIdempotent(t *testing.T) {
	s, path := openTest(t)
	s.Close()
	s2, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err := s2.SchemaVersion(context.Background()); err != nil || v != 10 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if ok, err := s2.IntegrityCheck(context.Background()); ok != "ok" || err != nil {
		t.Fatalf("integrity %q %v", ok, err)
	}
}

func TestAccountsAndDevices(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	d, _ := seed(t, s)
	if err := s.CreateAccount(ctx, "alice", "h", time.Now()); !errors.Is(err, directory.ErrExists) {
		t.Errorf("duplicate account: %v", err)
	}
	if _, err := s.PasswordHash(ctx, "nobody"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("missing account: %v", err)
	}
	d.Account = "bob"
	if err := s.EnrollDevice(ctx, d, 0); !errors.Is(err, directory.ErrExists) {
		t.Errorf("same key under another account: %v", err)
	}
	if err := s.RevokeDevice(ctx, "bob", d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("revoking another account's device: %v", err)
	}
	if err := s.RevokeDevice(ctx, "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Device(ctx, d.ID)
	if err != nil || !got.Revoked || got.Account != "alice" {
		t.Errorf("device after revoke: %+v, %v", got, err)
	}
	d.Account = "alice"
	if err := s.EnrollDevice(ctx, d, 0); !errors.Is(err, directory.ErrExists) {
		t.Errorf("re-enrolling a revoked device: %v", err)
	}
}

func TestPurchaseRules(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	d, tr := seed(t, s)
	p := func(id, nonce string) *directory.Purchase {
		return &directory.Purchase{ID: id, Nonce: []byte(nonce), TitleID: tr.ID, Account: "alice", Device: d.ID,
			Amount: 100, Currency: "EUR", State: directory.PurchasePending, Created: time.Now()}
	}
	lic := &directory.LicenseRecord{ID: "l1", Purchase: "p1", Device: d.ID, Content: tr.ContentID, Issued: time.Now()}
	// a license for a pending purchase is refused by the trigger
	cur, created, err := s.BeginPurchase(ctx, p("p1", "nonce-1"))
	if err != nil || !created || cur.ID != "p1" {
		t.Fatalf("first purchase: %+v %v %v", cur, created, err)
	}
	if err := s.AddLicense(ctx, lic); err == nil || !strings.Contains(err.Error(), "paid purchase") {
		t.Errorf("license for a pending purchase: %v", err)
	}
	// same nonce: the same row
	if cur, created, _ = s.BeginPurchase(ctx, p("p2", "nonce-1")); created || cur.ID != "p1" {
		t.Errorf("same nonce: %+v created=%v", cur, created)
	}
	// another nonce, same account and title while pending: the pending row
	if cur, created, _ = s.BeginPurchase(ctx, p("p3", "nonce-2")); created || cur.ID != "p1" {
		t.Errorf("second nonce while pending: %+v created=%v", cur, created)
	}
	done := *cur
	done.State, done.CardLast4 = directory.PurchasePaid, "4242"
	ev := &directory.OutboxEvent{Kind: "registration", Payload: []byte(`{}`), Created: time.Now(), NextAttempt: time.Now()}
	if err := s.CompletePurchase(ctx, &done, ev, lic); err != nil {
		t.Fatal(err)
	}
	if err := s.CompletePurchase(ctx, &done, ev, nil); err == nil {
		t.Error("completing twice succeeded")
	}
	if o, err := s.OwnedPurchase(ctx, "alice", tr.ID); err != nil || o.CardLast4 != "4242" {
		t.Errorf("owned: %+v %v", o, err)
	}
	// a declined purchase frees the (account, title) slot for a new nonce
	s2, _ := openTest(t)
	d2, tr2 := seed(t, s2)
	q := &directory.Purchase{ID: "q1", Nonce: []byte("n1"), TitleID: tr2.ID, Account: "alice", Device: d2.ID, Currency: "EUR", State: directory.PurchasePending}
	if _, _, err := s2.BeginPurchase(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := s2.DeclinePurchase(ctx, "q1", "declined"); err != nil {
		t.Fatal(err)
	}
	q2 := *q
	q2.ID, q2.Nonce = "q2", []byte("n2")
	if cur, created, err := s2.BeginPurchase(ctx, &q2); err != nil || !created || cur.ID != "q2" {
		t.Errorf("after decline: %+v %v %v", cur, created, err)
	}
	if n, _ := s.OrphanLicenses(ctx); n != 0 {
		t.Errorf("%d orphan licenses", n)
	}
	evs, err := s.ClaimEvents(ctx, time.Now().Add(time.Second), 10, time.Millisecond)
	if err != nil || len(evs) != 1 {
		t.Fatalf("pending events: %d %v", len(evs), err)
	}
	if err := s.MarkRetry(ctx, evs[0].ID, 1, time.Now().Add(time.Hour), "503"); err != nil {
		t.Fatal(err)
	}
	if evs, _ := s.ClaimEvents(ctx, time.Now().Add(time.Second), 10, time.Millisecond); len(evs) != 0 {
		t.Error("event due despite backoff")
	}
}

func TestSuppliers(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	d, tr := seed(t, s)
	now := time.Now()
	a := &directory.AnnounceRecord{Device: d.ID, PublicIP: "198.51.100.7", Expires: now.Add(time.Minute),
		Announcement: directory.Announcement{Addrs: []string{"10.0.0.1:7000", "[fd00::1]:7000"}, PrivateAddrs: []string{"10.0.0.1"},
			Load: 3, RTTs: map[string]int64{"X": 4},
			Holdings: []directory.Holding{{Content: tr.ContentID, Complete: true,
				Policy: directory.Policy{Mode: directory.PolicyList, Allow: []string{"bob", "carol"}, Deny: []string{"dave"}}}}}}
	if err := s.Announce(ctx, a); err != nil {
		t.Fatal(err)
	}
	cs, err := s.SupplierCandidates(ctx, tr.ContentID, now, "", 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("candidates: %+v %v", cs, err)
	}
	c := cs[0]
	if c.Device != d.ID || c.Account != "alice" || c.Load != 3 || !c.Complete || c.PublicIP != "198.51.100.7" ||
		len(c.Addrs) != 2 || c.Policy.Mode != "list" || len(c.Policy.Allow) != 2 || c.Policy.Deny[0] != "dave" {
		t.Errorf("candidate = %+v", c)
	}
	if got, err := s.Announcement(ctx, d.ID); err != nil || got.RTTs["X"] != 4 || got.PrivateAddrs[0] != "10.0.0.1" {
		t.Errorf("announcement = %+v %v", got, err)
	}
	if cs, _ := s.SupplierCandidates(ctx, tr.ContentID, now.Add(2*time.Minute), "", 10); len(cs) != 0 {
		t.Error("expired announcement still listed")
	}
	if err := s.Withdraw(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.SupplierCandidates(ctx, tr.ContentID, now, "", 10); len(cs) != 0 {
		t.Error("withdrawn device still listed")
	}
	if h, err := s.Holding(ctx, d.ID, tr.ContentID); err != nil || h.Policy.Mode != "list" {
		t.Errorf("holding kept after withdraw: %+v %v", h, err)
	}
	_ = s.Announce(ctx, a)
	_ = s.RevokeDevice(ctx, "alice", d.ID)
	if cs, _ := s.SupplierCandidates(ctx, tr.ContentID, now, "", 10); len(cs) != 0 {
		t.Error("revoked device still listed")
	}
}

// FuzzV1Rec: decoding version 1's holdings.rec (migration 2) never
// panics, and whatever it accepts names its own device, has a valid policy
// and came from exactly ten fields.
func FuzzV1Rec(f *testing.F) {
	const id = "ABC"
	f.Add("1"+us+id+us+"alice"+us+"1.2.3.4"+us+"3"+us+"h:1"+us+"10.0.0.1"+us+"list"+us+"bob"+rs+"carol"+us+"dave", id)
	f.Add("0"+us+id+us+"a"+us+"::1"+us+"0"+us+""+us+"fe80::1%z"+rs+us+"anyone"+us+""+us+"", id)
	f.Fuzz(func(t *testing.T, rec, dev string) {
		complete, p, ok := decodeV1Rec(rec, identity.ID(dev))
		if !ok {
			return
		}
		fs := strings.Split(rec, us)
		if len(fs) != 10 || fs[1] != dev || dev == "" || complete != (fs[0] == "1") {
			t.Fatalf("accepted %q for %q", rec, dev)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted policy %+v: %v", p, err)
		}
	})
}

func TestBulkLoad(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var c sealed.ContentID
	_, _ = rand.Read(c[:])
	var devs []directory.Device
	var anns []directory.AnnounceRecord
	for i := 0; i < 20; i++ {
		id, _ := identity.Generate()
		devs = append(devs, directory.Device{ID: id.ID(), Name: "d", Account: "acct", Keys: id.Public(), Created: time.Now()})
		anns = append(anns, directory.AnnounceRecord{Device: id.ID(), PublicIP: "192.0.2.1", Expires: time.Now().Add(time.Hour),
			Announcement: directory.Announcement{Addrs: []string{"192.0.2.1:7000"}, Holdings: []directory.Holding{{Content: c, Complete: true}}}})
	}
	if err := s.BulkLoad(ctx, "hash", []string{"acct"}, devs, anns); err != nil {
		t.Fatal(err)
	}
	cs, err := s.SupplierCandidates(ctx, c, time.Now(), "", 100)
	if err != nil || len(cs) != 20 {
		t.Fatalf("candidates after bulk load: %d, %v", len(cs), err)
	}
	// the index dropped and rebuilt during the load is back
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'holdings_dev'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("holdings_dev index: %d, %v", n, err)
	}
	if err := s.Withdraw(ctx, devs[0].ID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.SupplierCandidates(ctx, c, time.Now(), "", 100); len(cs) != 19 {
		t.Errorf("after withdraw: %d", len(cs))
	}
}
