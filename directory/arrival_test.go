package directory_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// TestArrivalOrder: a real directory (SQLite, TLS) answers a forming
// crowd's downloads in the order they were first announced, each asker
// placed among them (Supplier.Arrival), through both lookups; a heartbeat
// or the completion keeps a download's place; a complete holder has none;
// a client asking for v1 (an older client) gets v1, which has none.
func TestArrivalOrder(t *testing.T) {
	ctx := context.Background()
	d, st, cid := unlimitedDir(t)
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	ann := func(complete bool) directory.Announcement {
		return directory.Announcement{Addrs: []string{"198.51.100.1:7000"}, Holdings: []directory.Holding{{Content: cid, Complete: complete, Policy: anyone}}}
	}
	seed := enrollIn(t, st, "bob")
	if err := d.Client(t, seed).Announce(ctx, ann(true)); err != nil {
		t.Fatal(err)
	}
	devs := make([]*identity.Identity, 4)
	arrivals := func(ss []directory.Supplier) map[identity.ID]int {
		m := map[identity.ID]int{}
		for _, s := range ss {
			m[s.Device] = s.Arrival
		}
		return m
	}
	for i := range devs {
		devs[i] = enrollIn(t, st, "alice")
		if i == 1 { // the first's heartbeat: its place is kept
			if err := d.Client(t, devs[0]).Announce(ctx, ann(false)); err != nil {
				t.Fatal(err)
			}
		}
		_, sups, ok, err := d.Client(t, devs[i]).AnnounceSuppliers(ctx, ann(false), cid, directory.MaxSuppliers)
		if err != nil || !ok {
			t.Fatalf("%d: ok %v, %v", i, ok, err)
		}
		got := arrivals(sups)
		if got[seed.ID()] != 0 || len(got) != i+1 {
			t.Fatalf("%d: arrivals %v; want the seed without one and %d downloads", i, got, i)
		}
		for j := range i {
			if got[devs[j].ID()] != -(j + 1) {
				t.Fatalf("%d: arrivals %v; want %v at -%d (before the asker)", i, got, devs[j].ID(), j+1)
			}
		}
	}
	// The first completes; its place stays, and it sees the others after it.
	if err := d.Client(t, devs[0]).Announce(ctx, ann(true)); err != nil {
		t.Fatal(err)
	}
	sups, err := d.Client(t, devs[2]).SuppliersN(ctx, cid, directory.MaxSuppliers)
	if err != nil {
		t.Fatal(err)
	}
	if got := arrivals(sups); got[devs[0].ID()] != -1 || got[devs[1].ID()] != -2 || got[devs[3].ID()] != 4 {
		t.Fatalf("the third's GET: arrivals %v; want -1, -2, (itself 3), 4", got)
	}
	// An older client: v1 by GET, and by announcement without &v=.
	hc := tlsClient(t)
	resp, b := signedDo(t, hc, d.Addr, devs[3], "GET", "/v1/suppliers/"+cid.String()+"?limit=50", nil, "Accept", directory.SuppliersMediaType)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != directory.SuppliersMediaType || len(b) == 0 || b[0] != 1 {
		t.Fatalf("v1 GET: %d %q %x", resp.StatusCode, resp.Header.Get("Content-Type"), b[:min(len(b), 4)])
	}
	body, _ := json.Marshal(ann(false))
	for q, want := range map[string]byte{"": 1, "&v=1": 1, "&v=2": 2, "&v=3": 2} {
		resp, b := signedDo(t, hc, d.Addr, devs[3], "POST", "/v1/announce?suppliers="+cid.String()+q, body)
		var a directory.AnnounceAnswer
		if err := json.Unmarshal(b, &a); resp.StatusCode != http.StatusOK || err != nil || len(a.SuppliersBin) == 0 || a.SuppliersBin[0] != want {
			t.Errorf("announce%s: %d %v %s; want form %d", q, resp.StatusCode, err, b, want)
		}
	}
	for _, q := range []string{"&v=0", "&v=x", "&v=2&v=2"} {
		if resp, b := signedDo(t, hc, d.Addr, devs[3], "POST", "/v1/announce?suppliers="+cid.String()+q, body); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("announce%s: %d %s; want 400", q, resp.StatusCode, b)
		}
	}
}
