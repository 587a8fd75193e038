package directory_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

func supplierIDs(ss []directory.Supplier) []identity.ID {
	var ids []identity.ID
	for _, s := range ss {
		ids = append(ids, s.Device)
	}
	slices.Sort(ids)
	return ids
}

// TestAnnounceSuppliers: an announcement asking for a lookup (real
// directory on SQLite, real TLS) is recorded before the lookup is answered,
// so a crowd arriving together finds itself in one round trip each, and
// the list is the one GET /v1/suppliers answers.
func TestAnnounceSuppliers(t *testing.T) {
	ctx := context.Background()
	d, st, cid := unlimitedDir(t)
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	holder := enrollIn(t, st, "bob")
	if err := d.Client(t, holder).Announce(ctx, directory.Announcement{Addrs: []string{"198.51.100.1:7000"},
		Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: anyone}}}); err != nil {
		t.Fatal(err)
	}
	downloading := func(addr string) directory.Announcement {
		return directory.Announcement{Addrs: []string{addr}, Holdings: []directory.Holding{{Content: cid, Policy: anyone}}}
	}
	first, second := enrollIn(t, st, "alice"), enrollIn(t, st, "carol")
	fc, sc := d.Client(t, first), d.Client(t, second)
	_, sups, ok, err := fc.AnnounceSuppliers(ctx, downloading("198.51.100.2:7000"), cid, directory.MaxSuppliers)
	if err != nil || !ok {
		t.Fatalf("first: ok %v, %v; want the list", ok, err)
	}
	if got, want := supplierIDs(sups), []identity.ID{holder.ID()}; !slices.Equal(got, want) {
		t.Fatalf("first found %v; want the holder %v", got, want)
	}
	ans, sups, ok, err := sc.AnnounceSuppliers(ctx, downloading("198.51.100.3:7000"), cid, directory.MaxSuppliers)
	if err != nil || !ok {
		t.Fatalf("second: ok %v, %v; want the list", ok, err)
	}
	if ans.TTLSeconds <= 0 || ans.Expires.Before(time.Now()) || ans.SuppliersBin != nil {
		t.Errorf("second's answer %+v: want the announcement's fields and the list taken out", ans)
	}
	want := []identity.ID{holder.ID(), first.ID()}
	slices.Sort(want)
	if got := supplierIDs(sups); !slices.Equal(got, want) {
		t.Fatalf("second found %v; want the holder and the first downloader %v", got, want)
	}
	for _, s := range sups {
		if s.Device == first.ID() && s.Complete {
			t.Errorf("the first downloader is listed complete")
		}
	}
	// The second's announcement is in: the first finds it by GET.
	got, err := fc.SuppliersN(ctx, cid, directory.MaxSuppliers)
	if err != nil {
		t.Fatal(err)
	}
	want = []identity.ID{holder.ID(), second.ID()}
	slices.Sort(want)
	if !slices.Equal(supplierIDs(got), want) {
		t.Fatalf("GET lookup by the first found %v; want %v", supplierIDs(got), want)
	}
}

// TestAnnounceSuppliersRateLimited: the lookup costs the device's rate
// limit what a GET costs; with no token left the announcement is still
// recorded and answered, without a list (the client asks GET then).
func TestAnnounceSuppliersRateLimited(t *testing.T) {
	ctx := context.Background()
	// Half a request a second: a burst of one, the next token in 2 s.
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: 0.5})
	st := d.Store.(*sqlitestore.Store)
	var cid sealed.ContentID
	rand.Read(cid[:])
	dev := enrollIn(t, st, "alice")
	ans, sups, ok, err := d.Client(t, dev).AnnounceSuppliers(ctx, directory.Announcement{Addrs: []string{"198.51.100.2:7000"},
		Holdings: []directory.Holding{{Content: cid, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}, cid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok || sups != nil || ans.TTLSeconds <= 0 {
		t.Fatalf("with one token: list %v (ok %v), answer %+v; want the announcement answered without a list", sups, ok, ans)
	}
	other := enrollIn(t, st, "bob")
	got, err := d.Client(t, other).Suppliers(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(supplierIDs(got), []identity.ID{dev.ID()}) {
		t.Fatalf("the announcement was not recorded: lookup found %v", supplierIDs(got))
	}
}

// TestAnnounceSuppliersMalformed: a malformed lookup query is refused
// before anything is recorded, and an announcement without one (an older
// client) is answered without a list.
func TestAnnounceSuppliersMalformed(t *testing.T) {
	ctx := context.Background()
	d, st, cid := unlimitedDir(t)
	dev := enrollIn(t, st, "alice")
	body, _ := json.Marshal(directory.Announcement{Addrs: []string{"198.51.100.2:7000"},
		Holdings: []directory.Holding{{Content: cid, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}})
	hc := tlsClient(t)
	post := func(query string) (int, map[string]json.RawMessage) {
		resp, b := signedDo(t, hc, d.Addr, dev, "POST", "/v1/announce"+query, body)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	other := d.Client(t, enrollIn(t, st, "bob"))
	for _, q := range []string{"?suppliers=zz", "?suppliers=" + cid.String() + "&suppliers=" + cid.String(),
		"?suppliers=" + cid.String() + "&limit=-1", "?suppliers=" + cid.String() + "&limit=51"} {
		if code, _ := post(q); code != http.StatusBadRequest {
			t.Errorf("POST /v1/announce%s: %d; want 400", q, code)
		}
		if got, err := other.Suppliers(ctx, cid); err != nil || len(got) != 0 {
			t.Fatalf("after a refused %s: lookup found %v (%v); want nothing recorded", q, supplierIDs(got), err)
		}
	}
	code, m := post("")
	if _, listed := m["suppliers_bin"]; code != http.StatusOK || listed {
		t.Fatalf("an announcement without a lookup: %d %v; want 200 without a list", code, m)
	}
}
