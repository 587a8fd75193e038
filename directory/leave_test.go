package directory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func isStatus(err error, status int) bool {
	var e *directory.Error
	return errors.As(err, &e) && e.Status == status
}

func listed(t *testing.T, c *directory.Client, cid sealed.ContentID, dev identity.ID) (bool, string) {
	t.Helper()
	ss, err := c.Suppliers(context.Background(), cid)
	if err != nil {
		t.Fatalf("suppliers: %v", err)
	}
	for _, s := range ss {
		if s.Device == dev {
			return true, s.Account
		}
	}
	return false, ""
}

// A device leaves its account and joins another, end to end over TLS: the
// old account no longer counts it as its own (devices, suppliers, whois,
// licenses, registrations in its name), the new one does, and the
// household title of the old account is out of its reach.
func TestLeaveAccount(t *testing.T) {
	ctx := context.Background()
	h := newHousehold(t, directory.PublishPolicy{Mode: directory.PublishOwner, Owner: "home"})
	req, _ := sealRequest(t, h.info, bytes.Repeat([]byte("home"), 50_000), "Home Song")
	pub, err := h.home1.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	cid := pub.Title.ContentID
	sr, _ := license.SealRegistration(license.Registration{TitleID: pub.Title.ID, Account: "home"}, h.dev1, h.info.Keys.Box)
	if _, err := h.home1.Register(ctx, sr); err != nil {
		t.Fatal(err)
	}
	announce := func() error {
		return h.home1.Announce(ctx, directory.Announcement{Addrs: []string{"192.0.2.7:7000"},
			Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}})
	}
	if err := announce(); err != nil {
		t.Fatal(err)
	}
	if ok, acct := listed(t, h.home2, cid, h.dev1.ID()); !ok || acct != "home" {
		t.Fatalf("before leaving: listed %v as %q, want true as home", ok, acct)
	}
	if err := h.home1.EnrollDevice(ctx, "away", "pass-away-word", "moved"); !isStatus(err, http.StatusConflict) {
		t.Fatalf("enrolling under another account before leaving: %v, want 409", err)
	}

	if err := h.home1.LeaveAccount(ctx, "home"); err != nil {
		t.Fatalf("leaving: %v", err)
	}
	if _, err := h.home1.Devices(ctx); !isStatus(err, http.StatusUnauthorized) {
		t.Errorf("a signed request after leaving: %v, want 401", err)
	}
	if ds, err := h.home2.Devices(ctx); err != nil || len(ds) != 1 || ds[0].ID != h.dev2.ID() {
		t.Errorf("home's devices after the leave: %+v, %v; want only the other one", ds, err)
	}
	if ok, _ := listed(t, h.home2, cid, h.dev1.ID()); ok {
		t.Errorf("still listed as a supplier after leaving")
	}
	if _, err := h.home2.Whois(ctx, h.dev1.ID()); !isNotFound(err) {
		t.Errorf("whois after leaving: %v, want 404", err)
	}

	if err := h.home1.EnrollDevice(ctx, "away", "pass-away-word", "moved"); err != nil {
		t.Fatalf("enrolling under another account after leaving: %v", err)
	}
	if ds, err := h.home1.Devices(ctx); err != nil || len(ds) != 2 {
		t.Errorf("away's devices seen by the moved device: %+v, %v; want 2", ds, err)
	}
	if d, err := h.away.Whois(ctx, h.dev1.ID()); err != nil || d.Account != "away" {
		t.Errorf("away's whois of the moved device: %+v, %v", d, err)
	}
	// home's household title is no longer its business.
	if _, err := h.home1.Title(ctx, pub.Title.ID); !isNotFound(err) {
		t.Errorf("home's household title seen from away: %v, want 404", err)
	}
	if _, err := h.home1.License(ctx, cid); err == nil {
		t.Errorf("a license of home's title issued to the device now under away")
	}
	sr, _ = license.SealRegistration(license.Registration{TitleID: pub.Title.ID, Account: "home"}, h.dev1, h.info.Keys.Box)
	if _, err := h.home1.Register(ctx, sr); err == nil {
		t.Errorf("a registration in home's name from the device that left home was accepted")
	}
	// Announced again, it is away's device: home sees it as a stranger.
	if err := announce(); err != nil {
		t.Fatal(err)
	}
	if ok, acct := listed(t, h.home2, cid, h.dev1.ID()); !ok || acct != "" {
		t.Errorf("home sees the moved device listed %v as %q, want listed without an account", ok, acct)
	}
	if ok, acct := listed(t, h.away, cid, h.dev1.ID()); !ok || acct != "away" {
		t.Errorf("away sees its device listed %v as %q", ok, acct)
	}
}

// signed is a signed request frozen so it can be sent again byte for byte.
type signed struct {
	method, path string
	body         []byte
	hdr          http.Header
}

func sign(dev *identity.Identity, method, path, body string) signed {
	d, ts, sig := directory.SignRequest(dev, method, path, time.Now().UnixMilli(), []byte(body))
	h := http.Header{}
	h.Set(directory.HeaderDevice, d)
	h.Set(directory.HeaderTime, ts)
	h.Set(directory.HeaderSignature, sig)
	return signed{method, path, []byte(body), h}
}

func (q signed) send(s http.Handler) int {
	r := httptest.NewRequest(q.method, q.path, bytes.NewReader(q.body))
	r.RemoteAddr = "192.0.2.1:40000"
	for k, v := range q.hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code
}

// TestSecurityLeaveAccount: leaving an account is the device's own act and
// nobody else's. Refused: an unsigned leave; one naming another account
// than the device's (a stale or replayed leave cannot pull it out of an
// account joined since); one naming another device (it only ever takes
// the signer out); a revoked device's (it stays revoked and cannot enroll
// anywhere); a replay of a leave already done; an oversize body.
func TestSecurityLeaveAccount(t *testing.T) {
	ctx := context.Background()
	s, st := newTestServer(t, directory.Options{})
	d, other := enrollIn(t, st, "alice"), enrollIn(t, st, "alice")
	enrolled := func(dev *identity.Identity, account string) bool {
		got, err := st.Device(ctx, dev.ID())
		return err == nil && got.Account == account && !got.Revoked
	}
	body := `{"account":"alice"}`

	unsigned := signed{"POST", "/v1/devices/leave", []byte(body), http.Header{}}
	if code := unsigned.send(s); code != http.StatusUnauthorized || !enrolled(d, "alice") {
		t.Errorf("unsigned leave: %d, want 401 and the device kept", code)
	}
	if code := sign(d, "POST", "/v1/devices/leave", `{"account":"bob"}`).send(s); code != http.StatusConflict || !enrolled(d, "alice") {
		t.Errorf("leave naming another account: %d, want 409 and the device kept", code)
	}
	if code := sign(d, "POST", "/v1/devices/leave", `{"account":"alice","device":"`+string(other.ID())+`"}`).send(s); code != http.StatusBadRequest ||
		!enrolled(d, "alice") || !enrolled(other, "alice") {
		t.Errorf("leave naming another device: %d, want 400 and both kept", code)
	}
	big := `{"account":"alice","x":"` + strings.Repeat("a", 20<<10) + `"}`
	if code := sign(d, "POST", "/v1/devices/leave", big).send(s); code != http.StatusRequestEntityTooLarge || !enrolled(d, "alice") {
		t.Errorf("oversize leave: %d, want 413", code)
	}

	// A revoked device cannot leave to shed its revocation.
	r := enrollIn(t, st, "alice")
	if err := st.RevokeDevice(ctx, "alice", r.ID()); err != nil {
		t.Fatal(err)
	}
	if code := sign(r, "POST", "/v1/devices/leave", body).send(s); code != http.StatusForbidden {
		t.Errorf("revoked device's leave: %d, want 403", code)
	}
	if got, err := st.Device(ctx, r.ID()); err != nil || !got.Revoked {
		t.Errorf("revoked device after its leave: %+v, %v; want still revoked", got, err)
	}
	if err := st.LeaveAccount(ctx, "alice", r.ID()); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("store: a revoked device left: %v", err)
	}

	// The device leaves, comes back, and the captured leave is replayed.
	leave := sign(d, "POST", "/v1/devices/leave", body)
	if code := leave.send(s); code != http.StatusNoContent || enrolled(d, "alice") {
		t.Fatalf("leave: %d, want 204 and the device gone", code)
	}
	if code := leave.send(s); code != http.StatusUnauthorized {
		t.Errorf("the same leave again, device gone: %d, want 401", code)
	}
	if err := st.EnrollDevice(ctx, directory.Device{ID: d.ID(), Name: "back", Account: "alice", Keys: d.Public(), Created: time.Now()}, 0); err != nil {
		t.Fatalf("enrolling again after leaving: %v", err)
	}
	if code := leave.send(s); code != http.StatusUnauthorized || !enrolled(d, "alice") {
		t.Errorf("replayed leave after enrolling again: %d, want 401 (replay) and the device kept", code)
	}
	if !enrolled(other, "alice") {
		t.Errorf("the other device of the account was touched")
	}
}

// TestSecurityEnrollmentChangeRacesAnnounce: a heartbeat authenticated
// just before its device is revoked or leaves must not put the device back
// in the online index under the old account (where it would be listed to
// that account's devices as its own until the announcement expires).
func TestSecurityEnrollmentChangeRacesAnnounce(t *testing.T) {
	ctx := context.Background()
	s, st := newTestServer(t, directory.Options{RateIP: -1, RateDevice: -1})
	asker := enrollIn(t, st, "alice")
	cid := sealed.ContentID{7}
	ann := fmt.Sprintf(`{"addrs":["192.0.2.9:7000"],"holdings":[{"content":"%s","complete":true,"policy":{"mode":"anyone"}}],"load":0}`, cid)
	for i := 0; i < 100; i++ {
		d := enrollIn(t, st, "alice")
		change := sign(d, "POST", "/v1/devices/leave", `{"account":"alice"}`)
		what := "leave"
		if i%2 == 1 {
			change = sign(asker, "DELETE", "/v1/devices/"+string(d.ID()), "")
			what = "revoke"
		}
		hb := sign(d, "POST", "/v1/announce", ann)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); hb.send(s) }()
		go func() { defer wg.Done(); change.send(s) }()
		wg.Wait()
		if got, err := st.Device(ctx, d.ID()); err == nil && !got.Revoked {
			t.Fatalf("round %d: the %s did not happen", i, what)
		}
		w := httptest.NewRecorder()
		// a limit that differs from round to round: two rounds within one
		// millisecond would otherwise send the very same signed request (a replay)
		r := signedReq(asker, "GET", fmt.Sprintf("/v1/suppliers/%s?limit=%d", cid, 1+i%50), nil, "192.0.2.1:40000")
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("suppliers: %d %s", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), string(d.ID())) {
			t.Fatalf("round %d: after a %s racing its heartbeat, the device is listed: %s", i, what, w.Body)
		}
	}
}
