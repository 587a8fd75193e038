package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// TestIdempotentRegistration sends one registration 100 times at once:
// one purchase, one charge, the same receipt for all.
func TestIdempotentRegistration(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	song, _ := publishFile(t, data, 20_000, "--title", "Once", "--price", "4.50")
	p := serve(t, data, "--rate-ip", "-1", "--rate-device", "-1")
	d := enroll(t, p, "dana", "laptop")
	sr := d.seal(t, song.ID, goodCard)

	var wg sync.WaitGroup
	ids := make([]string, 100)
	errs := make([]error, 100)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := d.c.Register(ctx, sr)
			if err == nil {
				ids[i] = r.Receipt.PurchaseID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Fatalf("copy %d got purchase %s, copy 0 %s", i, ids[i], ids[0])
		}
	}
	if c := metric(t, p, "kith_directory_charges_total"); c != "1" {
		t.Errorf("charges = %s, want 1", c)
	}
	// a second, different registration for the same title by the same account: no new charge
	if r, err := d.c.Register(ctx, d.seal(t, song.ID, goodCard)); err != nil || r.Receipt.PurchaseID != ids[0] {
		t.Errorf("second registration: %+v, %v", r, err)
	}
	p.stop(t)
	ps, err := openStore(t, data).Purchases(ctx)
	if err != nil || len(ps) != 1 || ps[0].State != directory.PurchasePaid {
		t.Fatalf("purchases = %+v, %v; want one paid", ps, err)
	}
	if csv := runCmd(t, "billing", "export", "--csv", "--data", data); strings.Count(strings.TrimSpace(csv), "\n") != 1 {
		t.Errorf("billing rows:\n%s", csv)
	}
}

// TestReplay sends the same signed request twice, and one signed too long ago.
func TestReplay(t *testing.T) {
	data := t.TempDir()
	p := serve(t, data)
	d := enroll(t, p, "erin", "laptop")
	body := []byte(`{"addrs":["10.1.1.1:7000"],"holdings":[],"load":0}`)
	now := time.Now()
	resp, b := rawReq(t, p, "POST", "/v1/announce", body, d.id, now)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first: %d %s", resp.StatusCode, b)
	}
	resp, b = rawReq(t, p, "POST", "/v1/announce", body, d.id, now)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"replay"`) {
		t.Errorf("exact replay: %d %s, want 401 replay", resp.StatusCode, b)
	}
	resp, b = rawReq(t, p, "POST", "/v1/announce", body, d.id, now.Add(-2*time.Minute))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"replay"`) {
		t.Errorf("stale request: %d %s, want 401 replay", resp.StatusCode, b)
	}
	// a signature over another body does not carry over
	resp, _ = rawReq(t, p, "POST", "/v1/announce", body, d.id, now.Add(time.Millisecond))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("fresh request: %d", resp.StatusCode)
	}
	if v := metric(t, p, "kith_directory_replays_total"); v != "1" {
		t.Errorf("replays metric = %s", v)
	}
}

// TestBadInput: malformed requests get a clear 4xx, never a 5xx, and write nothing.
func TestBadInput(t *testing.T) {
	data := t.TempDir()
	song, _ := publishFile(t, data, 1000, "--title", "X", "--price", "1")
	p := serve(t, data, "--rate-ip", "-1", "--rate-device", "-1")
	d := enroll(t, p, "fred", "laptop")
	now := time.Now()
	many := make([]string, 0, directory.MaxHoldings+1)
	for i := 0; i <= directory.MaxHoldings; i++ {
		many = append(many, fmt.Sprintf(`{"content":"%064x","complete":true,"policy":{"mode":"anyone"}}`, i))
	}
	huge := `{"addrs":[],"holdings":[` + strings.Join(many, ",") + `],"load":0}`
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		signed bool
		status int
		want   string // in the message
	}{
		{"unknown field", "POST", "/v1/accounts", `{"account":"zed","password":"12345678","admin":true}`, false, 400, "unknown field"},
		{"wrong type", "POST", "/v1/accounts", `{"account":7,"password":"12345678"}`, false, 400, `field "account"`},
		{"malformed", "POST", "/v1/accounts", `{"account":`, false, 400, "JSON"},
		{"trailing data", "POST", "/v1/accounts", `{"account":"zed","password":"12345678"} {}`, false, 400, "trailing"},
		{"empty body", "POST", "/v1/accounts", ``, false, 400, "empty body"},
		{"short password", "POST", "/v1/accounts", `{"account":"zed","password":"1"}`, false, 400, "password"},
		{"bad account chars", "POST", "/v1/accounts", `{"account":"z ed!","password":"12345678"}`, false, 400, "account"},
		{"body too large", "POST", "/v1/accounts", `{"account":"` + strings.Repeat("a", 2<<20) + `"}`, false, 413, "limit"},
		{"huge array", "POST", "/v1/announce", huge, true, 400, "holdings"},
		{"bad policy mode", "POST", "/v1/announce", `{"addrs":[],"holdings":[{"content":"` + song.ContentID.String() + `","complete":true,"policy":{"mode":"everyone"}}],"load":0}`, true, 400, "mode"},
		{"bad addr", "POST", "/v1/announce", `{"addrs":["nohost"],"holdings":[],"load":0}`, true, 400, "host:port"},
		{"bad content id", "GET", "/v1/suppliers/xyz", ``, true, 400, "hex"},
		{"unsigned", "GET", "/v1/suppliers/" + song.ContentID.String(), ``, false, 401, "signed"},
		{"bad page", "GET", "/v1/titles?page=-3", ``, false, 400, "page"},
		{"per_page too big", "GET", "/v1/titles?per_page=1000", ``, false, 400, "per_page"},
		{"unknown title", "GET", "/v1/titles/nope", ``, false, 404, "no title"},
		{"unknown endpoint", "GET", "/v1/nothing", ``, false, 404, "no endpoint"},
		{"garbage registration", "POST", "/v1/registrations", `{"device":"x","ct":"AAAA","sig":"AAAA"}`, false, 400, "registration"},
		{"registration bad base64", "POST", "/v1/registrations", `{"device":"x","ct":"!!","sig":""}`, false, 400, ""},
		{"relay unsigned wrapper", "POST", "/v1/relay", `{"registration":{"device":"x","ct":"","sig":""},"supplier":{"sign":"","box":""},"time":"2020-01-01T00:00:00Z","sig":""}`, false, 400, "supplier"},
		{"enroll without signature", "POST", "/v1/devices", `{"account":"fred","password":"` + password + `","name":"x","keys":{"sign":"` + b64(d.id.Public().Sign) + `","box":"` + b64(d.id.Public().Box) + `"}}`, false, 401, ""},
		{"control byte in device name", "POST", "/v1/devices", `{"account":"fred","password":"` + password + `","name":"x\u0000y","keys":{"sign":"` + b64(d.id.Public().Sign) + `","box":"` + b64(d.id.Public().Box) + `"}}`, true, 400, "name"},
		{"content not in origin", "GET", "/v1/content/" + strings.Repeat("ab", 32), ``, false, 404, "origin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var signer = d.id
			if !c.signed {
				signer = nil
			}
			now = now.Add(time.Millisecond)
			resp, b := rawReq(t, p, c.method, c.path, []byte(c.body), signer, now)
			var e directory.Error
			_ = json.Unmarshal(b, &e)
			if resp.StatusCode != c.status || e.Code == "" || !strings.Contains(e.Message, c.want) {
				t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.path, resp.StatusCode, b, c.status, c.want)
			}
		})
	}
	p.stop(t)
	as, _ := openStore(t, data).Accounts(context.Background())
	if len(as) != 1 {
		t.Errorf("bad input wrote accounts: %+v", as)
	}
}

// TestRateLimit: requests over the per-IP limit get 429 with Retry-After.
// The bound on successes allows for refills while the requests run (the
// machine may be slow), so the test does not depend on timing; the rate is
// low enough that only 18 s for 20 requests would let all through (at 5/s
// with 40 requests, 6 s did: a loaded CI machine can take that).
func TestRateLimit(t *testing.T) {
	const rate, burst, n = 1, 2, 20
	p := serve(t, t.TempDir(), "--rate-ip", strconv.Itoa(rate))
	ok, limited := 0, 0
	retry := ""
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, _ := rawReq(t, p, "GET", "/v1/titles", nil, nil, time.Now())
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			limited++
			retry = resp.Header.Get("Retry-After")
		case http.StatusOK:
			ok++
		default:
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	maxOK := burst + int(time.Since(start).Seconds()*rate) + 1
	if limited == 0 || ok < burst || ok > maxOK {
		t.Fatalf("%d ok, %d limited in %s; want %d to %d ok", ok, limited, time.Since(start), burst, maxOK)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Errorf("Retry-After %q", retry)
	}
	// healthz is never limited (probes)
	if resp, _ := rawReq(t, p, "GET", "/healthz", nil, nil, time.Now()); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz while limited: %d", resp.StatusCode)
	}
	if v := metric(t, p, `kith_directory_rate_limited_total{route="titles"}`); v == "" || v == "0" {
		t.Errorf("rate-limited metric = %q", v)
	}
}

// TestPasswordRateLimit: password-checking endpoints have their own,
// stricter per-IP limit (one per 20 s here, bursts of 1). Each accepted
// request hashes a password, slow under -race on a loaded machine: at
// 1/s, six of them taking 4 s were all accepted and the test failed.
func TestPasswordRateLimit(t *testing.T) {
	const rate, burst = 0.05, 1
	p := serve(t, t.TempDir(), "--rate-auth", strconv.FormatFloat(rate, 'f', -1, 64))
	var codes []int
	start := time.Now()
	for i := 0; i < 6; i++ {
		resp, _ := rawReq(t, p, "POST", "/v1/accounts", []byte(fmt.Sprintf(`{"account":"guess%d","password":"12345678"}`, i)), nil, time.Now())
		codes = append(codes, resp.StatusCode)
	}
	limited := 0
	for _, c := range codes {
		if c == http.StatusTooManyRequests {
			limited++
		}
	}
	if maxOK := burst + int(time.Since(start).Seconds()*rate) + 1; limited == 0 || 6-limited > maxOK {
		t.Fatalf("codes %v: want at most %d accepted, the rest 429", codes, maxOK)
	}
	// other endpoints are not affected
	if resp, _ := rawReq(t, p, "GET", "/v1/titles", nil, nil, time.Now()); resp.StatusCode != http.StatusOK {
		t.Errorf("titles after password limit: %d", resp.StatusCode)
	}
}

// TestKill9DuringPurchases kills the server while purchases stream in:
// every acknowledged purchase is there after restart, no license lacks a
// paid purchase, and the database passes integrity_check.
func TestKill9DuringPurchases(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	const titles = 40
	ids := make([]string, titles)
	for i := range ids {
		ti, _ := publishInProcess(t, data, fmt.Sprintf("Track %02d", i), 150)
		ids[i] = ti
	}
	p := serve(t, data, "--rate-ip", "-1", "--rate-device", "-1")
	var devs []*device
	for i := 0; i < 6; i++ {
		devs = append(devs, enroll(t, p, fmt.Sprintf("buyer%d", i), "laptop"))
	}
	var mu sync.Mutex
	acked := map[string]string{} // purchase ID → license ID
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids {
				select {
				case <-stop:
					return
				default:
				}
				r, err := d.c.Register(ctx, d.seal(t, id, goodCard))
				if err != nil {
					return // the server died
				}
				mu.Lock()
				acked[r.Receipt.PurchaseID] = r.License.ID
				mu.Unlock()
			}
		}()
	}
	// kill once a good number are acknowledged
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 60 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.kill9()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no purchase acknowledged before the kill")
	}
	st := openStore(t, data)
	if ok, err := st.IntegrityCheck(ctx); err != nil || ok != "ok" {
		t.Fatalf("integrity_check = %q, %v", ok, err)
	}
	ps, err := st.Purchases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paid := map[string]bool{}
	for _, pu := range ps {
		paid[pu.ID] = pu.State == directory.PurchasePaid
	}
	for id := range acked {
		if !paid[id] {
			t.Errorf("acknowledged purchase %s lost after kill -9", id)
		}
	}
	if n, err := st.OrphanLicenses(ctx); err != nil || n != 0 {
		t.Errorf("%d licenses without a paid purchase (%v)", n, err)
	}
	t.Logf("%d purchases acknowledged before kill -9, %d rows after", len(acked), len(ps))
	// it serves again, and the billing outbox written before the kill is
	// delivered after the restart: one event per paid purchase
	hook := &webhook{secret: []byte("k"), events: map[string]directory.BillingEvent{}}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	p2 := serve(t, data, "--webhook", hs.URL, "--webhook-secret-file", secretFile(t, "k"))
	if resp, _ := rawReq(t, p2, "GET", "/healthz", nil, nil, time.Now()); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after restart: %d", resp.StatusCode)
	}
	wantEvents := 0
	for _, ok := range paid {
		if ok {
			wantEvents++
		}
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		evs, bad := hook.snapshot()
		if bad > 0 {
			t.Fatalf("%d bad webhook deliveries", bad)
		}
		if len(evs) == wantEvents {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %d events after restart, want %d", len(evs), wantEvents)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
