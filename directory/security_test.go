package directory_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// newTestServer is a Server over a real SQLite store, driven in-process
// through ServeHTTP (so a test can choose the client address).
func newTestServer(t *testing.T, o directory.Options) (*directory.Server, *sqlitestore.Store) {
	t.Helper()
	d := dirtest.New(t, o)
	return d.Server, d.Store.(*sqlitestore.Store) // New's own store
}

// TestSecurityIPv6Slash64: the per-client limits key an IPv6 client by its
// /64, so an attacker walking the 2^64 addresses of its own prefix gets
// one budget, not one per address; another /64 has its own.
func TestSecurityIPv6Slash64(t *testing.T) {
	frozen := time.Now()                                                                              // no refill while the argon2id hashes run
	s, _ := newTestServer(t, directory.Options{RateAuth: 1, Now: func() time.Time { return frozen }}) // bursts of 2
	post := func(ip string, i int) int {
		body := fmt.Sprintf(`{"account":"user%d","password":"long enough"}`, i)
		r := httptest.NewRequest("POST", "/v1/accounts", bytes.NewReader([]byte(body)))
		r.RemoteAddr = "[" + ip + "]:40000"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}
	limited := 0
	for i := 0; i < 6; i++ {
		if post(fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1), i) == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 4 {
		t.Errorf("six account creations from one /64 (six addresses): %d refused, want 4 (a burst of 2)", limited)
	}
	if code := post("2001:db8:1:3::1", 99); code != http.StatusCreated {
		t.Errorf("another /64 answered %d, want 201", code)
	}
}

// TestSecurityAccountCreationUniform: creating an account answers the same
// whether the name is free or taken, so POST /v1/accounts cannot tell
// which names exist; the existing account's password is unchanged.
func TestSecurityAccountCreationUniform(t *testing.T) {
	ctx := context.Background()
	s, st := newTestServer(t, directory.Options{RateAuth: -1})
	post := func(account, pw string) (int, string) {
		r := httptest.NewRequest("POST", "/v1/accounts", bytes.NewReader([]byte(`{"account":"`+account+`","password":"`+pw+`"}`)))
		r.RemoteAddr = "192.0.2.1:40000"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	code1, body1 := post("alice", "alice's password")
	start := time.Now()
	code2, body2 := post("alice", "mallory's guess")
	taken := time.Since(start)
	start = time.Now()
	code3, body3 := post("carol", "carol's password")
	free := time.Since(start)
	if code1 != http.StatusCreated || code2 != code1 || body2 != body1 {
		t.Errorf("taken name answered %d %q, a new one %d %q: they differ", code2, body2, code1, body1)
	}
	if code3 != code1 || len(body3) != len(body1) {
		t.Errorf("second new name answered %d %q", code3, body3)
	}
	// both hash the password (argon2id): neither is an order of magnitude faster
	if taken < free/10 || free < taken/10 {
		t.Errorf("taken name answered in %s, a free one in %s", taken, free)
	}
	h, err := st.PasswordHash(ctx, "alice")
	if err != nil || !directory.CheckPassword(h, "alice's password") {
		t.Errorf("alice's password changed by a second creation: %v", err)
	}
}

// signedReq builds a request signed by dev from addr.
func signedReq(dev *identity.Identity, method, path string, body []byte, addr string) *http.Request {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.RemoteAddr = addr
	d, ts, sig := directory.SignRequest(dev, method, r.RequestURI, time.Now().UnixMilli(), body)
	r.Header.Set(directory.HeaderDevice, d)
	r.Header.Set(directory.HeaderTime, ts)
	r.Header.Set(directory.HeaderSignature, sig)
	return r
}

// enrollIn enrolls a fresh device of account straight into st.
func enrollIn(t testing.TB, st *sqlitestore.Store, account string) *identity.Identity {
	t.Helper()
	ctx := context.Background()
	if _, err := st.PasswordHash(ctx, account); err != nil {
		if err := st.CreateAccount(ctx, account, "h", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnrollDevice(ctx, directory.Device{ID: id.ID(), Name: "d", Account: account, Keys: id.Public(), Created: time.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSecurityHoldingsCaps: one device announces at most
// MaxHoldingsPerDevice holdings and all devices together at most
// MaxHoldingsTotal (503 capacity past it, nothing stored); a device
// replacing its own holdings is not counted twice.
func TestSecurityHoldingsCaps(t *testing.T) {
	s, st := newTestServer(t, directory.Options{MaxHoldingsPerDevice: 3, MaxHoldingsTotal: 5})
	a, b := enrollIn(t, st, "alice"), enrollIn(t, st, "bob")
	announce := func(dev *identity.Identity, n, from int) int {
		var hs []string
		for i := 0; i < n; i++ {
			hs = append(hs, fmt.Sprintf(`{"content":"%064x","complete":true,"policy":{"mode":"anyone"}}`, from+i))
		}
		body := []byte(`{"addrs":["192.0.2.1:7000"],"holdings":[` + strings.Join(hs, ",") + `],"load":0}`)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, signedReq(dev, "POST", "/v1/announce", body, "192.0.2.1:40000"))
		return w.Code
	}
	steps := []struct {
		name string
		dev  *identity.Identity
		n    int
		want int
	}{
		{"alice 3", a, 3, 200},
		{"alice 4: over the per-device cap", a, 4, 400},
		{"bob 3: over the total", b, 3, 503},
		{"bob 2", b, 2, 200},
		{"alice replaces her 3", a, 3, 200},
		{"bob 3 now: still over", b, 3, 503},
	}
	for i, st := range steps {
		if got := announce(st.dev, st.n, 100*i); got != st.want {
			t.Errorf("%s: %d, want %d", st.name, got, st.want)
		}
	}
	ctx := context.Background()
	if an, err := st.Announcement(ctx, b.ID()); err != nil || an == nil {
		t.Fatalf("bob's announcement: %v", err)
	}
	n := 0
	if err := st.OnlineHoldings(ctx, time.Now(), func(sealed.ContentID, *directory.Candidate) error { n++; return nil }); err != nil || n != 5 {
		t.Errorf("%d holdings stored (%v), want 5", n, err)
	}
}
