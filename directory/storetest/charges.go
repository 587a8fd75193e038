package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
)

// testChargeLedger: the test processor's charges are kept one per
// idempotency key in the store: racing records of one key leave one
// standing and every racer is answered with it; two processors on the
// same store (two instances) charge a key once between them.
func testChargeLedger(t *testing.T, s directory.Store) {
	l, ok := s.(directory.ChargeLedger)
	if !ok {
		t.Fatalf("%T is not a directory.ChargeLedger", s)
	}
	const n = 16
	var wg sync.WaitGroup
	standing := make([]*directory.ChargeResult, n)
	recorded := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r := &directory.ChargeResult{Token: fmt.Sprint("tok_", i), Brand: "visa", Last4: "4242"}
			standing[i], recorded[i], errs[i] = l.RecordTestCharge(ctx, "key-race", 199, r)
		})
	}
	wg.Wait()
	won := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if recorded[i] {
			won++
		}
		if *standing[i] != *standing[0] {
			t.Errorf("racers answered %+v and %+v", *standing[0], *standing[i])
		}
	}
	if won != 1 {
		t.Errorf("%d racers recorded a charge under one key, want 1", won)
	}

	// two processors on one store, as two instances: one charge per key
	card := license.Payment{Name: "A", Card: "4242 4242 4242 4242", Expiry: "12/39", CVC: "123"}
	p1, p2 := directory.NewLedgerTestProcessor(l), directory.NewLedgerTestProcessor(l)
	tokens := make([]string, n)
	for i := range n {
		wg.Go(func() {
			p := []*directory.TestProcessor{p1, p2}[i%2]
			res, err := p.Charge(ctx, directory.Charge{IdempotencyKey: "nonce-1", Amount: 199, Currency: "EUR", Card: card})
			if err != nil {
				errs[i] = err
				return
			}
			tokens[i] = res.Token
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("charge %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] {
			t.Errorf("one key charged as %s and %s", tokens[0], tokens[i])
		}
	}
	if c := p1.Charges() + p2.Charges(); c != 1 {
		t.Errorf("%d charges made for one key by two processors, want 1", c)
	}
	// a declined card records nothing; another key is another charge
	if _, err := p1.Charge(ctx, directory.Charge{IdempotencyKey: "nonce-2", Amount: 199, Currency: "EUR",
		Card: license.Payment{Name: "A", Card: directory.DeclineCard, Expiry: "12/39", CVC: "123"}}); err == nil {
		t.Error("the decline card was charged")
	}
	if _, err := p2.Charge(ctx, directory.Charge{IdempotencyKey: "nonce-3", Amount: 299, Currency: "EUR", Card: card}); err != nil {
		t.Fatal(err)
	}
	all, err := l.TestCharges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all["nonce-1"].Token != tokens[0] || all["key-race"] != *standing[0] {
		t.Errorf("ledger = %+v; want key-race, nonce-1 (%s) and nonce-3", all, tokens[0])
	}
	if _, ok := all["nonce-2"]; ok {
		t.Error("a declined charge was recorded")
	}
}

// testChargedPurchase: a purchase the test processor charged is recorded
// paid with its charge, event and license in one transaction, all or
// nothing: a purchase standing for the nonce or the account and title
// writes nothing (and charges nothing), a charge standing under the key
// refuses the whole, and of racing buyers of one title one purchase and
// one charge stand.
func testChargedPurchase(t *testing.T, s directory.Store) {
	l := s.(directory.ChargeLedger)
	d, tr := seed(t, s)
	charged := func(tr *directory.TitleRecord, id, nonce string) (*directory.Purchase, bool, error) {
		p := purchase(d, tr, id, nonce)
		p.State, p.CardBrand, p.CardLast4, p.Token = directory.PurchasePaid, "visa", "4242", "tok_"+id
		ev := &directory.OutboxEvent{Kind: "registration", Payload: []byte(`{"paid":"` + id + `"}`), Created: time.Now(), NextAttempt: time.Now()}
		lic := &directory.LicenseRecord{ID: "l-" + id, Purchase: id, Device: d.ID, Content: tr.ContentID, Issued: time.Now()}
		return l.ChargedPurchase(ctx, p, "key-"+nonce, &directory.ChargeResult{Token: p.Token, Brand: "visa", Last4: "4242"}, ev, lic)
	}
	cur, created, err := charged(tr, "c1", "n1")
	if err != nil || !created || cur.ID != "c1" || cur.State != directory.PurchasePaid || cur.Token != "tok_c1" {
		t.Fatalf("charged purchase: %+v %v %v", cur, created, err)
	}
	if o, err := s.OwnedPurchase(ctx, "alice", tr.ID); err != nil || o.ID != "c1" || o.Token != "tok_c1" || o.Amount != tr.Price {
		t.Errorf("owned: %+v %v", o, err)
	}
	// the same nonce again, or another nonce for the same title: the paid
	// purchase stands, nothing more is written or charged
	for _, n := range []string{"n1", "n2"} {
		if cur, created, err := charged(tr, "c-"+n, n); err != nil || created || cur.ID != "c1" {
			t.Errorf("again with %s: %+v %v %v", n, cur, created, err)
		}
	}
	// a charge standing under the key: nothing written, the purchase neither
	tr2 := newTitle(t, s, "t2", "Other", nil)
	if _, _, err := l.RecordTestCharge(ctx, "key-n3", tr2.Price, &directory.ChargeResult{Token: "tok_earlier", Brand: "visa", Last4: "4242"}); err != nil {
		t.Fatal(err)
	}
	if cur, created, err := charged(tr2, "c3", "n3"); !errors.Is(err, directory.ErrChargeStands) || created || cur != nil {
		t.Errorf("over a standing charge: %+v %v %v, want ErrChargeStands", cur, created, err)
	}
	if _, err := s.OwnedPurchase(ctx, "alice", tr2.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("a purchase stands after the refused write: %v", err)
	}
	// racing buyers of one title (distinct nonces): one purchase, one charge
	tr3 := newTitle(t, s, "t3", "Raced", nil)
	const n = 16
	var wg sync.WaitGroup
	curs := make([]*directory.Purchase, n)
	wins := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { curs[i], wins[i], errs[i] = charged(tr3, fmt.Sprint("r", i), fmt.Sprint("rn", i)) })
	}
	wg.Wait()
	won := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if wins[i] {
			won++
		}
		if curs[i].ID != curs[0].ID {
			t.Errorf("racers answered purchases %s and %s", curs[0].ID, curs[i].ID)
		}
	}
	if won != 1 {
		t.Errorf("%d racers recorded a purchase of one title, want 1", won)
	}
	all, err := l.TestCharges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// key-n1 (c1), key-n3 (the earlier charge) and the one racer that won
	if len(all) != 3 || all["key-n1"].Token != "tok_c1" || all["key-n3"].Token != "tok_earlier" {
		t.Errorf("ledger = %+v", all)
	}
	var evs int
	_ = s.Events(ctx, func(*directory.OutboxEvent) error { evs++; return nil })
	if evs != 2 {
		t.Errorf("%d events after two charged purchases", evs)
	}
	if a, ok := s.(Auditor); ok {
		if n, _ := a.OrphanLicenses(ctx); n != 0 {
			t.Errorf("%d orphan licenses", n)
		}
	}
}
