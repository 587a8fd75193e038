package storetest

import (
	"fmt"
	"sync"
	"testing"

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
