package directory_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// completeFailsOnce is a real SQLite store whose first CompletePurchase
// fails, as a database that drops the connection after the charge.
type completeFailsOnce struct {
	directory.Store
	failed atomic.Bool
}

func (s *completeFailsOnce) CompletePurchase(ctx context.Context, p *directory.Purchase, ev *directory.OutboxEvent, lic *directory.LicenseRecord) error {
	if s.failed.CompareAndSwap(false, true) {
		return errors.New("connection lost")
	}
	return s.Store.CompletePurchase(ctx, p, ev, lic)
}

// TestChargesCountedOnce: a priced registration whose purchase could not
// be recorded after its card was charged is sent again; the processor
// answers the standing charge (same idempotency key), and
// kith_directory_charges_total counts one charge, as the processor made
// one. (It counted every successful Charge call: two here.)
func TestChargesCountedOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sq, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	id, _ := identity.Generate()
	origin := filepath.Join(dir, "origin")
	title, err := directory.Publish(ctx, sq, id, origin, bytes.NewReader(bytes.Repeat([]byte("la"), 20_000)),
		directory.PublishOptions{Name: "Priced", MediaType: "audio/wav", Price: 450})
	if err != nil {
		t.Fatal(err)
	}
	pay := directory.NewTestProcessor()
	srv, c, dev := serveEnrolled(t, directory.Options{Identity: id, Store: &completeFailsOnce{Store: sq}, OriginDir: origin,
		Payments: pay}, "carol")
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	card := &license.Payment{Name: "Carol Example", Card: "4242 4242 4242 4242", Expiry: "12/39", CVC: "123", Address: "1 Road"}
	sr, err := license.SealRegistration(license.Registration{TitleID: title.ID, Account: "carol", Payment: card}, dev, info.Keys.Box)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, sr); err == nil {
		t.Fatal("the first registration went through although its purchase could not be recorded")
	}
	if _, err := c.Register(ctx, sr); err != nil {
		t.Fatalf("the same registration again: %v", err)
	}
	if n := pay.Charges(); n != 1 {
		t.Fatalf("the processor made %d charges, want 1", n)
	}
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nkith_directory_charges_total 1\n") {
		t.Errorf("one charge made; metrics say:\n%s", grepLines(rec.Body.String(), "charges"))
	}
}

// serveEnrolled serves o (its Store a real one the caller closes after
// the test) on loopback TLS until the test ends, with no rate limit on
// authentication and a quiet log, and returns the server and a client
// whose new device is enrolled in a new account.
func serveEnrolled(t *testing.T, o directory.Options, account string) (*directory.Server, *directory.Client, *identity.Identity) {
	t.Helper()
	o.RateAuth = -1
	d := dirtest.Serve(t, o)
	c, dev := d.Enrolled(context.Background(), t, account, "laptop")
	return d.Server, c, dev
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDeviceCacheFollowsClock: the device cache expires by the server's
// clock (Options.Now), so a revocation made outside this server (the CLI,
// another instance) is seen once deviceCacheTTL (5 s) has passed on it.
// (The cache read time.Now, so a moved clock could not expire it.)
func TestDeviceCacheFollowsClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	id, _ := identity.Generate()
	_, c, dev := serveEnrolled(t, directory.Options{Identity: id, Store: st, OriginDir: filepath.Join(dir, "origin"), Now: now}, "dora")
	if _, err := c.Devices(ctx); err != nil { // the device is cached now
		t.Fatal(err)
	}
	if err := st.RevokeDevice(ctx, "dora", dev.ID()); err != nil { // as `kith-directory` or another instance would
		t.Fatal(err)
	}
	skew.Store(int64(6 * time.Second))
	if _, err := c.Devices(ctx); !errors.Is(err, &directory.Error{Code: directory.CodeForbidden}) {
		t.Fatalf("6 s (server clock) after its revocation elsewhere, the device's request: %v; want refused as revoked", err)
	}
}
