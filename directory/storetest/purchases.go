package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

func purchase(d directory.Device, tr *directory.TitleRecord, id, nonce string) *directory.Purchase {
	return &directory.Purchase{ID: id, Nonce: []byte(nonce), TitleID: tr.ID, Account: d.Account, Device: d.ID,
		Amount: tr.Price, Currency: tr.Currency, State: directory.PurchasePending, Created: time.Now().Truncate(time.Millisecond)}
}

func testPurchaseRules(t *testing.T, s directory.Store) {
	d, tr := seed(t, s)
	lic := &directory.LicenseRecord{ID: "l1", Purchase: "p1", Device: d.ID, Content: tr.ContentID, Issued: time.Now()}
	cur, created, err := s.BeginPurchase(ctx, purchase(d, tr, "p1", "nonce-1"))
	if err != nil || !created || cur.ID != "p1" || cur.State != directory.PurchasePending || string(cur.Nonce) != "nonce-1" {
		t.Fatalf("first purchase: %+v %v %v", cur, created, err)
	}
	// a license for a pending purchase is refused by the database itself
	if err := s.AddLicense(ctx, lic); err == nil || !strings.Contains(err.Error(), "paid purchase") {
		t.Errorf("license for a pending purchase: %v", err)
	}
	if cur, created, _ = s.BeginPurchase(ctx, purchase(d, tr, "p2", "nonce-1")); created || cur.ID != "p1" {
		t.Errorf("same nonce: %+v created=%v", cur, created)
	}
	if cur, created, _ = s.BeginPurchase(ctx, purchase(d, tr, "p3", "nonce-2")); created || cur.ID != "p1" {
		t.Errorf("second nonce while pending: %+v created=%v", cur, created)
	}
	if _, err := s.OwnedPurchase(ctx, "alice", tr.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("owned while pending: %v", err)
	}
	done := *cur
	done.State, done.CardBrand, done.CardLast4, done.Token = directory.PurchasePaid, "visa", "4242", "tok_1"
	ev := &directory.OutboxEvent{Kind: "registration", Payload: []byte(`{"n":1}`), Created: time.Now(), NextAttempt: time.Now()}
	if err := s.CompletePurchase(ctx, &done, ev, lic); err != nil {
		t.Fatal(err)
	}
	if err := s.CompletePurchase(ctx, &done, ev, nil); !errors.Is(err, directory.ErrNotPending) {
		t.Errorf("completing twice: %v, want ErrNotPending", err)
	}
	if err := s.DeclinePurchase(ctx, "p1", "late"); err != nil {
		t.Fatal(err)
	}
	o, err := s.OwnedPurchase(ctx, "alice", tr.ID)
	if err != nil || o.CardLast4 != "4242" || o.Token != "tok_1" || o.State != directory.PurchasePaid {
		t.Errorf("owned (a paid purchase is never declined): %+v %v", o, err)
	}
	// after paying, a new nonce finds the paid row
	if cur, created, _ = s.BeginPurchase(ctx, purchase(d, tr, "p4", "nonce-3")); created || cur.ID != "p1" || cur.State != directory.PurchasePaid {
		t.Errorf("new nonce after paying: %+v created=%v", cur, created)
	}
	if _, err := s.IssuedLicense(ctx, "p1", d.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("a license recorded without its encoding: %v", err)
	}
	lic2 := *lic
	lic2.ID, lic2.Encoded = "l2", []byte(`{"id":"l2"}`)
	if err := s.AddLicense(ctx, &lic2); err != nil {
		t.Errorf("second license of a paid purchase: %v", err)
	}
	if err := s.AddLicense(ctx, &lic2); err == nil {
		t.Error("the same license id twice")
	}
	if got, err := s.IssuedLicense(ctx, "p1", d.ID); err != nil || got.ID != "l2" || string(got.Encoded) != `{"id":"l2"}` || got.Content != tr.ContentID {
		t.Errorf("issued license: %+v %v", got, err)
	}
	var n int
	if err := s.Events(ctx, func(e *directory.OutboxEvent) error {
		n++
		if e.Kind != "registration" || string(e.Payload) != `{"n":1}` {
			t.Errorf("event %+v", e)
		}
		return nil
	}); err != nil || n != 1 {
		t.Errorf("events: %d %v", n, err)
	}
	if a, ok := s.(Auditor); ok {
		if n, err := a.OrphanLicenses(ctx); n != 0 || err != nil {
			t.Errorf("%d orphan licenses, %v", n, err)
		}
		ps, err := a.Purchases(ctx)
		if err != nil || len(ps) != 1 || ps[0].ID != "p1" {
			t.Errorf("purchases: %+v %v", ps, err)
		}
	}
}

func testDeclineFreesSlot(t *testing.T, s directory.Store) {
	d, tr := seed(t, s)
	if _, _, err := s.BeginPurchase(ctx, purchase(d, tr, "q1", "n1")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeclinePurchase(ctx, "q1", "card_declined"); err != nil {
		t.Fatal(err)
	}
	// the declined nonce keeps answering its refusal
	if cur, created, err := s.BeginPurchase(ctx, purchase(d, tr, "q9", "n1")); err != nil || created || cur.State != directory.PurchaseDeclined || cur.Reason != "card_declined" {
		t.Errorf("declined nonce again: %+v %v %v", cur, created, err)
	}
	if cur, created, err := s.BeginPurchase(ctx, purchase(d, tr, "q2", "n2")); err != nil || !created || cur.ID != "q2" {
		t.Errorf("after decline: %+v %v %v", cur, created, err)
	}
}

// testConcurrentPurchases: copies of one registration, and registrations
// with different nonces for one account and title, racing: exactly one
// purchase stands and everyone is answered with it.
func testConcurrentPurchases(t *testing.T, s directory.Store) {
	d, tr := seed(t, s)
	const n = 16
	for _, sameNonce := range []bool{true, false} {
		tr := newTitle(t, s, fmt.Sprintf("race-%v", sameNonce), "Race", nil)
		var wg sync.WaitGroup
		ids := make([]string, n)
		made := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				nonce := "same"
				if !sameNonce {
					nonce = fmt.Sprint("nonce-", i)
				}
				cur, created, err := s.BeginPurchase(ctx, purchase(d, tr, fmt.Sprint(tr.ID, "-", i), nonce+tr.ID))
				errs[i], made[i] = err, created
				if err == nil {
					ids[i] = cur.ID
				}
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("racer %d: %v", i, errs[i])
			}
			if made[i] {
				created++
			}
			if ids[i] != ids[0] {
				t.Errorf("racers answered with %s and %s", ids[0], ids[i])
			}
		}
		if created != 1 {
			t.Errorf("same nonce %v: %d purchases created, want 1", sameNonce, created)
		}
	}
	_ = tr
}

// testFreePurchase: a free registration is recorded paid with its event
// and license at once; a repeat or a second nonce finds the standing row
// and records nothing more.
func testFreePurchase(t *testing.T, s directory.Store) {
	d, _ := seed(t, s)
	tr := newTitle(t, s, "free", "Free", func(r *directory.TitleRecord) { r.Price = 0 })
	free := func(id, nonce string) (*directory.Purchase, bool, error) {
		p := purchase(d, tr, id, nonce)
		p.State = directory.PurchasePaid
		ev := &directory.OutboxEvent{Kind: "registration", Payload: []byte(`{"free":"` + id + `"}`), Created: time.Now(), NextAttempt: time.Now()}
		lic := &directory.LicenseRecord{ID: "l-" + id, Purchase: id, Device: d.ID, Content: tr.ContentID, Issued: time.Now()}
		return s.FreePurchase(ctx, p, ev, lic)
	}
	cur, created, err := free("f1", "n1")
	if err != nil || !created || cur.ID != "f1" || cur.State != directory.PurchasePaid {
		t.Fatalf("free purchase: %+v %v %v", cur, created, err)
	}
	if o, err := s.OwnedPurchase(ctx, "alice", tr.ID); err != nil || o.ID != "f1" || !o.Created.Equal(cur.Created) {
		t.Errorf("owned: %+v %v (answered %v)", o, err, cur.Created)
	}
	for _, n := range []string{"n1", "n2"} {
		if cur, created, err := free("f-"+n, n); err != nil || created || cur.ID != "f1" {
			t.Errorf("again with %s: %+v %v %v", n, cur, created, err)
		}
	}
	var evs int
	_ = s.Events(ctx, func(*directory.OutboxEvent) error { evs++; return nil })
	if evs != 1 {
		t.Errorf("%d events after one free purchase and two repeats", evs)
	}
	if a, ok := s.(Auditor); ok {
		if n, _ := a.OrphanLicenses(ctx); n != 0 {
			t.Errorf("%d orphan licenses", n)
		}
	}
	// a priced title's pending purchase stands against a free attempt
	pr := newTitle(t, s, "priced", "Priced", nil)
	if _, _, err := s.BeginPurchase(ctx, purchase(d, pr, "pp", "np")); err != nil {
		t.Fatal(err)
	}
	p := purchase(d, pr, "pf", "nf")
	p.State = directory.PurchasePaid
	if cur, created, err := s.FreePurchase(ctx, p, nil, nil); err != nil || created || cur.ID != "pp" || cur.State != directory.PurchasePending {
		t.Errorf("free attempt over a pending purchase: %+v %v %v", cur, created, err)
	}
}
