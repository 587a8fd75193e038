package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// webhook is a media source's billing endpoint that refuses the first
// failFirst deliveries (to exercise retries) and checks every signature.
type webhook struct {
	secret    []byte
	failFirst int

	mu     sync.Mutex
	calls  int
	bad    int
	events map[string]directory.BillingEvent
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if err := directory.VerifyWebhook(h.secret, r.Header.Get(directory.HeaderWebhookSignature), body, time.Now(), time.Minute); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if h.calls <= h.failFirst {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var ev directory.BillingEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.events[ev.EventID] = ev
}

func (h *webhook) snapshot() (map[string]directory.BillingEvent, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]directory.BillingEvent, len(h.events))
	for k, v := range h.events {
		out[k] = v
	}
	return out, h.bad
}

func isCode(err error, status int, code string) bool {
	var e *directory.Error
	return errors.As(err, &e) && e.Status == status && (code == "" || e.Code == code)
}

// TestEndToEnd walks the whole directory against a real process: account →
// device → publish → search → buy → license opens → announce → ranked and
// filtered suppliers → relayed registration → billing webhook.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	song, plain := publishFile(t, data, 700_000, "--title", "Night Song", "--artist", "The Band", "--price", "1.99", "--rights", "reshare")
	free, _ := publishFile(t, data, 10_000, "--title", "Free Intro", "--price", "free")

	hook := &webhook{secret: []byte("s3cret"), failFirst: 2, events: map[string]directory.BillingEvent{}}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	p := serve(t, data, "--webhook", hs.URL, "--webhook-secret-file", secretFile(t, "s3cret"), "--name", "Test Label")
	// publishing while serving works (SQLite handles the second writer)
	extra, _ := publishFile(t, data, 5_000, "--title", "Night Song (Live)", "--price", "0.99")

	a1 := enroll(t, p, "alice", "laptop")
	in, err := a1.c.Info(ctx)
	if err != nil || in.Name != "Test Label" || in.ID != p.fp {
		t.Fatalf("info = %+v, %v", in, err)
	}

	// search with paging
	ts, total, err := a1.c.Titles(ctx, "night", 1, 1)
	if err != nil || total != 2 || len(ts) != 1 {
		t.Fatalf("titles(night, page 1/1) = %v, %d, %v", ts, total, err)
	}
	ts2, _, _ := a1.c.Titles(ctx, "night", 2, 1)
	if len(ts2) != 1 || ts2[0].ID == ts[0].ID {
		t.Fatalf("page 2 = %v (page 1 %v)", ts2, ts)
	}
	if _, all, _ := a1.c.Titles(ctx, "", 1, 100); all != 3 {
		t.Fatalf("all titles: %d, want 3 (incl. %s)", all, extra.ID)
	}

	// buy: license opens with the device key and decrypts the origin's ciphertext
	reg, err := a1.c.Register(ctx, a1.seal(t, song.ID, goodCard))
	if err != nil {
		t.Fatal(err)
	}
	if reg.Receipt.Amount != 199 || reg.Receipt.CardLast4 != "4242" || reg.Receipt.CardBrand != "visa" {
		t.Errorf("receipt = %+v", reg.Receipt)
	}
	key, err := license.Open(reg.License, a1.id, in.Keys.Sign, song.ContentID, time.Now())
	if err != nil {
		t.Fatalf("opening license: %v", err)
	}
	m, err := a1.c.Manifest(ctx, song.ContentID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := a1.c.Origin(ctx, song.ContentID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := io.ReadAll(rc)
	rc.Close()
	r, err := sealed.Open(bytes.NewReader(ct), m, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes (err %v), want the %d published", len(got), err, len(plain))
	}
	// a range read of chunk 1 is exactly ChunkRange(1)
	off, n := m.ChunkRange(1)
	rc, err = a1.c.Origin(ctx, song.ContentID, off, n)
	if err != nil {
		t.Fatal(err)
	}
	chunk, _ := io.ReadAll(rc)
	rc.Close()
	if err := m.VerifyChunk(1, chunk); err != nil {
		t.Fatalf("ranged chunk: %v", err)
	}
	if v := metric(t, p, `kith_directory_origin_bytes_total{content="`+song.ContentID.String()+`"}`); v == "" || v == "0" {
		t.Errorf("origin bytes metric = %q", v)
	}

	// the household: a second device gets its own license without paying
	a2 := enroll(t, p, "alice", "phone")
	l2, err := a2.c.License(ctx, song.ContentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := license.Open(l2, a2.id, in.Keys.Sign, song.ContentID, time.Now()); err != nil {
		t.Fatalf("second device's license: %v", err)
	}
	if c := metric(t, p, "kith_directory_charges_total"); c != "1" {
		t.Errorf("charges = %s, want 1", c)
	}
	// another account has not bought it
	b1 := enroll(t, p, "bob", "desktop")
	if _, err := b1.c.License(ctx, song.ContentID); !isCode(err, http.StatusPaymentRequired, "") {
		t.Errorf("bob's license without buying: %v, want 402", err)
	}
	// free title: registration only, no card
	if reg, err := b1.c.Register(ctx, b1.seal(t, free.ID, nil)); err != nil || reg.Receipt.Amount != 0 {
		t.Errorf("free registration: %+v, %v", reg, err)
	}
	// priced title without a card, with a bad card, with the decline number
	for _, c := range []struct {
		pay  *license.Payment
		code string
	}{
		{nil, directory.CodeCardDeclined}, // no payment
		{&license.Payment{Card: "4242424242424241", Expiry: "12/39", CVC: "123"}, directory.CodeCardInvalid},     // Luhn fails
		{&license.Payment{Card: directory.DeclineCard, Expiry: "12/39", CVC: "123"}, directory.CodeCardDeclined}, // documented decline
	} {
		if _, err := b1.c.Register(ctx, b1.seal(t, song.ID, c.pay)); !isCode(err, http.StatusPaymentRequired, c.code) {
			t.Errorf("register with %v: %v, want 402 %s", c.pay, err, c.code)
		}
	}

	// suppliers: alice's devices announce with different policies, bob asks
	a3 := enroll(t, p, "alice", "nas")
	a4 := enroll(t, p, "alice", "tablet")
	a5 := enroll(t, p, "alice", "tv")
	hold := func(pol directory.Policy) []directory.Holding {
		return []directory.Holding{{Content: song.ContentID, Complete: true, Policy: pol}}
	}
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	for _, c := range []struct {
		d *device
		a directory.Announcement
	}{
		{a1, directory.Announcement{Addrs: []string{"192.168.1.10:7000"}, PrivateAddrs: []string{"192.168.1.10"}, Load: 3, Holdings: hold(anyone)}},           // same LAN as bob
		{a2, directory.Announcement{Addrs: []string{"10.0.0.5:7000"}, PrivateAddrs: []string{"10.0.0.5"}, Load: 0, Holdings: hold(anyone)}},                   // bob measured 20 ms
		{a3, directory.Announcement{Addrs: []string{"10.0.0.6:7000"}, PrivateAddrs: []string{"10.0.0.6"}, Load: 0, Holdings: hold(anyone)}},                   // unknown RTT
		{a4, directory.Announcement{Addrs: []string{"10.0.0.7:7000"}, Holdings: hold(directory.Policy{Mode: directory.PolicyHousehold})}},                     // household only
		{a5, directory.Announcement{Addrs: []string{"10.0.0.8:7000"}, Holdings: hold(directory.Policy{Mode: directory.PolicyAnyone, Deny: []string{"bob"}})}}, // denies bob
	} {
		if err := c.d.c.Announce(ctx, c.a); err != nil {
			t.Fatal(err)
		}
	}
	if err := b1.c.Announce(ctx, directory.Announcement{PrivateAddrs: []string{"192.168.1.20"},
		RTTs: map[string]int64{string(a2.id.ID()): 20}}); err != nil {
		t.Fatal(err)
	}
	sup, err := b1.c.Suppliers(ctx, song.ContentID)
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.ID{a1.id.ID(), a2.id.ID(), a3.id.ID(), p.fp}
	if ids := supplierIDs(sup); !equalIDs(ids, want) {
		t.Fatalf("bob's suppliers = %v, want %v", ids, want)
	}
	if !sup[0].SameLAN || sup[1].RTT != 20 || !sup[3].Origin || sup[0].Score <= sup[1].Score {
		t.Errorf("ranking details: %+v", sup)
	}
	// alice's own household sees the household-only holding too
	sup, _ = a2.c.Suppliers(ctx, song.ContentID)
	if ids := supplierIDs(sup); len(ids) != 5 || ids[len(ids)-1] != p.fp {
		t.Errorf("alice's suppliers = %v, want 4 devices + origin", ids)
	}

	// relayed registration: carol buys through a1 (allows anyone), credited to a1
	carolDev := enroll(t, p, "carol", "laptop")
	nonce := []byte("carol's relayed registration")
	sr, err := license.SealRegistration(license.Registration{TitleID: song.ID, Account: "carol", Payment: goodCard, Nonce: nonce}, carolDev.id, in.Keys.Box)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := a1.c.Relay(ctx, license.Relay(sr, a1.id, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// the answer travels through a1 sealed to carol: a1 cannot open it
	if _, err := directory.OpenRelayAnswer(sealed, a1.id, in.Keys.Sign, nonce); err == nil {
		t.Error("the supplier opened the requester's relay answer")
	}
	reg, err = directory.OpenRelayAnswer(sealed, carolDev.id, in.Keys.Sign, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Receipt.Supplier != a1.id.ID() || reg.License.Device != carolDev.id.ID() {
		t.Errorf("relayed receipt %+v license for %s", reg.Receipt, reg.License.Device)
	}
	if _, err := license.Open(reg.License, carolDev.id, in.Keys.Sign, song.ContentID, time.Now()); err != nil {
		t.Fatalf("relayed license does not open for the requester: %v", err)
	}
	// a supplier whose restriction excludes the requester cannot relay,
	// nor can a device that does not hold the title; the refusal is
	// sealed to the requester like a receipt
	relayAs := func(sup *device) error {
		nonce := []byte("bob's relayed registration " + sup.id.ID().Short())
		sr, err := license.SealRegistration(license.Registration{TitleID: song.ID, Account: "bob", Payment: goodCard, Nonce: nonce}, b1.id, in.Keys.Box)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sup.c.Relay(ctx, license.Relay(sr, sup.id, time.Now()))
		if err != nil {
			return err
		}
		_, err = directory.OpenRelayAnswer(sealed, b1.id, in.Keys.Sign, nonce)
		return err
	}
	if err := relayAs(a4); !isCode(err, http.StatusForbidden, "") {
		t.Errorf("relay through a household-only supplier: %v, want 403", err)
	}
	if err := relayAs(carolDev); !isCode(err, http.StatusForbidden, "") {
		t.Errorf("relay through a non-holder: %v, want 403", err)
	}

	// withdraw and revoke
	if err := a1.c.Withdraw(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a1.c.RevokeDevice(ctx, a3.id.ID()); err != nil {
		t.Fatal(err)
	}
	sup, _ = b1.c.Suppliers(ctx, song.ContentID)
	if ids := supplierIDs(sup); !equalIDs(ids, []identity.ID{a2.id.ID(), p.fp}) {
		t.Errorf("after withdraw+revoke: %v", ids)
	}
	if _, err := a3.c.License(ctx, song.ContentID); !isCode(err, http.StatusForbidden, "") {
		t.Errorf("revoked device license: %v, want 403", err)
	}
	if ds, err := a2.c.Devices(ctx); err != nil || len(ds) != 4 { // a1, a2, a4, a5: the revoked a3 is no longer listed
		t.Errorf("devices = %d, %v", len(ds), err)
	}
	// whois: bob sees a pseudonym for alice's account, alice sees her own
	if d, err := b1.c.Whois(ctx, a2.id.ID()); err != nil || d.Account == "alice" || !strings.HasPrefix(d.Account, directory.PseudonymPrefix) {
		t.Errorf("bob's whois of alice's device = %+v, %v", d, err)
	}
	if d, err := a1.c.Whois(ctx, a2.id.ID()); err != nil || d.Account != "alice" {
		t.Errorf("alice's whois of her own device = %+v, %v", d, err)
	}

	// billing: alice's purchase, bob's free registration, carol's relayed
	// purchase reach the webhook despite two refusals
	deadline := time.Now().Add(60 * time.Second) // outbox retries after the webhook's refusals (1 s, 2 s back-off)
	for {
		evs, bad := hook.snapshot()
		if bad > 0 {
			t.Fatalf("%d webhook deliveries had bad signatures", bad)
		}
		if len(evs) == 3 {
			var credited bool
			for _, ev := range evs {
				credited = credited || ev.Supplier == a1.id.ID()
			}
			if !credited {
				t.Errorf("no event credits the relaying supplier: %+v", evs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %d events, want 3", len(evs))
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.stop(t)
	csv := runCmd(t, "billing", "export", "--csv", "--data", data)
	if n := strings.Count(strings.TrimSpace(csv), "\n"); n != 3 || !strings.Contains(csv, "4242") {
		t.Errorf("billing csv has %d rows:\n%s", n, csv)
	}
	if strings.Contains(csv, "4242424242424242") || strings.Contains(csv, "4242 4242 4242 4242") {
		t.Errorf("billing csv leaks the card number")
	}
	acc := runCmd(t, "accounts", "--data", data)
	if !strings.Contains(acc, "alice") || !strings.Contains(acc, "carol") {
		t.Errorf("accounts:\n%s", acc)
	}
	// alice's four devices, and a3 removed (revoked) apart
	if f := rowOf(acc, "alice"); len(f) != 5 || f[2] != "4" || f[3] != "1" {
		t.Errorf("alice's row of accounts: %q; want 4 devices, 1 removed:\n%s", f, acc)
	}
	if out := runCmd(t, "withdraw", song.ID, "--data", data); !strings.Contains(out, song.ID) {
		t.Errorf("withdraw printed %q", out)
	}
}

func supplierIDs(s []directory.Supplier) []identity.ID {
	out := make([]identity.ID, len(s))
	for i, x := range s {
		out[i] = x.Device
	}
	return out
}

func equalIDs(a, b []identity.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rowOf is the fields of the table row of out whose first field is name.
func rowOf(out, name string) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}
