package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/pgstore"
	"github.com/kith-media/kith/internal/pgtest"
	"github.com/kith-media/kith/share/sealed"
)

// countingHook is a billing webhook that counts every delivery of every
// event (a duplicate is a second delivery of one event ID).
type countingHook struct {
	secret []byte
	mu     sync.Mutex
	got    map[string]int
	bad    int
}

func (h *countingHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var ev directory.BillingEvent
	h.mu.Lock()
	defer h.mu.Unlock()
	if directory.VerifyWebhook(h.secret, r.Header.Get(directory.HeaderWebhookSignature), body, time.Now(), time.Minute) != nil ||
		json.Unmarshal(body, &ev) != nil || ev.EventID == "" {
		h.bad++
		http.Error(w, "bad delivery", http.StatusBadRequest)
		return
	}
	h.got[ev.EventID]++
}

func (h *countingHook) snapshot() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.got))
	for k, v := range h.got {
		out[k] = v
	}
	return out, h.bad
}

// TestTwoInstances is issue 12's two-instance test: two kith-directory
// processes on one PostgreSQL, 32 buyers spread over both, some
// registrations sent to both at once, one instance killed with SIGKILL
// mid-load and restarted. One registration gets one license wherever it
// is sent. Every acknowledged purchase is paid exactly once (one purchase
// row, one billing event) and charged once (one charge in the test
// processor's ledger under its nonce, the one the purchase records,
// however many instances were asked), no license is without a paid
// purchase, every billing event reaches the webhook (a duplicate only for
// what the killed instance held), an announce on one instance is listed by
// the other within 2 s, a revoke is effective everywhere within 5 s, and a
// request replayed to the other instance is refused.
func TestTwoInstances(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	data1, data2 := t.TempDir(), t.TempDir()
	runCmd(t, "migrate", "--data", data1, "--store", dsn)
	key, err := os.ReadFile(filepath.Join(data1, "directory.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data2, "directory.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	song, _ := publishFile(t, data1, 32<<10, "--title", "Song", "--price", "1.99", "--store", dsn)
	hook := &countingHook{secret: []byte("hook-secret"), got: map[string]int{}}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	args := []string{"--store", dsn, "--webhook", hs.URL, "--webhook-secret-file", secretFile(t, "hook-secret"),
		"--outbox-lease", "3s", "--rate-ip", "-1", "--rate-device", "-1"}
	p1, p2 := serve(t, data1, args...), serve(t, data2, args...)
	if p1.fp != p2.fp {
		t.Fatalf("two instances, two identities: %s and %s", p1.fp, p2.fp)
	}

	// 32 buyers, enrolled half on each instance; 8 of them send their
	// registration to both instances at once
	const buyers = 32
	devs := make([]*device, buyers)
	for i := range devs {
		devs[i] = enroll(t, []*proc{p1, p2}[i%2], fmt.Sprintf("buyer%02d", i), "phone")
	}
	clientOn := func(d *device, p *proc) *directory.Client {
		c, err := directory.NewClient(directory.ClientOptions{URL: p.url, Device: d.id})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	regs := make([]*license.SealedRegistration, buyers)
	for i, d := range devs {
		regs[i] = d.seal(t, song.ID, goodCard)
	}
	var mu sync.Mutex
	receipts := map[int][]string{} // buyer -> purchase IDs acknowledged
	licenses := map[int][]string{} // buyer -> license IDs answered
	ack := func(i int, r *directory.Registered) {
		mu.Lock()
		receipts[i] = append(receipts[i], r.Receipt.PurchaseID)
		licenses[i] = append(licenses[i], r.License.ID)
		mu.Unlock()
	}
	var p1restarted *proc
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for i := range buyers {
		wg.Go(func() {
			if i == buyers/2 {
				p1.kill9()
				close(killed)
			}
			targets := []*proc{[]*proc{p1, p2}[i%2]}
			if i%4 == 0 {
				targets = []*proc{p1, p2} // both at once
			}
			var inner sync.WaitGroup
			for _, p := range targets {
				inner.Go(func() {
					r, err := clientOn(devs[i], p).Register(ctx, regs[i])
					if err != nil { // its instance was killed: the same registration to the other
						r, err = clientOn(devs[i], p2).Register(ctx, regs[i])
					}
					if err != nil {
						t.Errorf("buyer %d: %v", i, err)
						return
					}
					ack(i, r)
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	<-killed
	p1restarted = serve(t, data1, args...)

	// every acknowledged registration of one buyer names one purchase
	for i := range buyers {
		ids := receipts[i]
		if len(ids) == 0 {
			t.Errorf("buyer %d: no purchase acknowledged", i)
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Errorf("buyer %d: acknowledged purchases %v", i, ids)
			}
		}
		for _, id := range licenses[i] { // the same registration nonce, the same license
			if id != licenses[i][0] {
				t.Errorf("buyer %d: one registration answered with licenses %v", i, licenses[i])
			}
		}
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := st.Purchases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paid := map[string]string{} // account -> purchase
	for _, p := range ps {
		if p.State != directory.PurchasePaid {
			t.Errorf("purchase %s of %s is %s", p.ID, p.Account, p.State)
			continue
		}
		if prev, dup := paid[p.Account]; dup {
			t.Errorf("%s paid twice: %s and %s", p.Account, prev, p.ID)
		}
		paid[p.Account] = p.ID
	}
	for i := range buyers {
		if ids := receipts[i]; len(ids) > 0 && paid[fmt.Sprintf("buyer%02d", i)] != ids[0] {
			t.Errorf("buyer %d: acknowledged %s, paid %q", i, ids[0], paid[fmt.Sprintf("buyer%02d", i)])
		}
	}
	// charged once: the test processor's ledger (shared by both instances,
	// kept across the kill) holds one charge per paid purchase, under its
	// nonce, and the purchase was recorded with that very charge
	charges, err := st.TestCharges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		c, ok := charges[hex.EncodeToString(p.Nonce)]
		switch {
		case !ok:
			t.Errorf("purchase %s of %s paid without a charge under its nonce", p.ID, p.Account)
		case c.Token != p.Token:
			t.Errorf("purchase %s of %s recorded with charge %s, the processor charged %s", p.ID, p.Account, p.Token, c.Token)
		}
	}
	if len(charges) != len(paid) {
		t.Errorf("%d charges for %d paid purchases", len(charges), len(paid))
	}
	if n, err := st.OrphanLicenses(ctx); n != 0 || err != nil {
		t.Errorf("%d licenses without a paid purchase, %v", n, err)
	}
	events := 0
	_ = st.Events(ctx, func(*directory.OutboxEvent) error { events++; return nil })
	if events != len(paid) {
		t.Errorf("%d billing events for %d paid purchases", events, len(paid))
	}
	// every event delivered; duplicates only of what the killed instance held
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, bad := hook.snapshot()
		if bad > 0 {
			t.Fatalf("%d bad webhook deliveries", bad)
		}
		dups := 0
		for _, n := range got {
			dups += n - 1
		}
		if len(got) == len(paid) {
			t.Logf("%d events delivered, %d duplicates (leases held at the kill)", len(got), dups)
			if dups > 16 {
				t.Errorf("%d duplicate deliveries: more than one lease batch", dups)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered", len(got), len(paid))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// an announce on one instance is listed by the other within 2 s (the
	// issue's bound; each instance reads the change feed every 500 ms, so
	// the bound leaves 4 polls of slack for a loaded machine)
	holder, asker := devs[1], devs[3]
	var content sealed.ContentID
	copy(content[:], song.ContentID[:])
	ann := directory.Announcement{Addrs: []string{"192.0.2.9:7000"},
		Holdings: []directory.Holding{{Content: content, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}
	if err := clientOn(holder, p2).Announce(ctx, ann); err != nil {
		t.Fatal(err)
	}
	listed := func(p *proc) bool {
		ss, err := clientOn(asker, p).Suppliers(ctx, content)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.Device == holder.id.ID() {
				return true
			}
		}
		return false
	}
	// The bound is judged by when each lookup was sent, not when its answer
	// came: a lookup sent 1.9 s after the acknowledgement and answered at
	// 2.1 s on a loaded machine says nothing about the state at 2 s; one
	// sent after 2 s that does not list the holder does.
	start := time.Now()
	for {
		asked := time.Now()
		if listed(p1restarted) {
			break
		}
		if asked.Sub(start) > 2*time.Second {
			t.Fatalf("an announce on one instance not listed by the other in a lookup sent %s after it was acknowledged (the bound is 2 s)", asked.Sub(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("announce listed by the other instance after %s", time.Since(start).Round(time.Millisecond))

	// a revoke on one instance is effective everywhere within 5 s (the
	// issue's bound; the other instance's device cache lives ≤ 5 s)
	other := enroll(t, p2, holder.account, "tablet")
	if err := clientOn(other, p2).RevokeDevice(ctx, holder.id.ID()); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for {
		asked := time.Now()
		if !listed(p1restarted) {
			break
		}
		if asked.Sub(start) > 5*time.Second {
			t.Fatalf("a revoked device still listed by the other instance in a lookup sent %s after the revoke was acknowledged (the bound is 5 s)", asked.Sub(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revoke effective on the other instance after %s", time.Since(start).Round(time.Millisecond))
	if _, err := clientOn(holder, p1restarted).Devices(ctx); err == nil {
		t.Error("the revoked device is still served by the other instance")
	}

	// a request replayed to the other instance is refused
	body := []byte(`{"addrs":["192.0.2.10:7000"],"holdings":[]}`)
	now := time.Now()
	if resp, b := rawReq(t, p2, "POST", "/v1/announce", body, asker.id, now); resp.StatusCode != http.StatusOK {
		t.Fatalf("announce: %d %s", resp.StatusCode, b)
	}
	if resp, b := rawReq(t, p1restarted, "POST", "/v1/announce", body, asker.id, now); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(string(b), "replay") {
		t.Errorf("the same signed request at the other instance: %d %s, want 401 replay", resp.StatusCode, b)
	}
}
