package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/kith-media/kith/directory"
)

// TestCountParamZeroIsDefault: a count parameter given as 0 (limit of a
// lookup, GET or with an announcement; page and per_page of the catalog)
// means its default, as an absent one does, and one out of its range is
// refused (400). Decided, not an accident: Client.Titles sends page and
// per_page as given, 0 too, and a client that writes every field of its
// query (0 for "not set") must not get an empty list or a 400 (real
// directory on SQLite, real TLS, 20 holders).
func TestCountParamZeroIsDefault(t *testing.T) {
	ctx := context.Background()
	d, st, cid := unlimitedDir(t)
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	for i := range 20 {
		h := enrollIn(t, st, fmt.Sprintf("holder%d", i))
		if err := d.Client(t, h).Announce(ctx, directory.Announcement{Addrs: []string{fmt.Sprintf("198.51.100.%d:7000", i+1)},
			Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: anyone}}}); err != nil {
			t.Fatal(err)
		}
	}
	asker := enrollIn(t, st, "alice")
	hc := tlsClient(t)
	get := func(path string, out any) int {
		t.Helper()
		resp, b := signedDo(t, hc, d.Addr, asker, "GET", path, nil)
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	lookup := "/v1/suppliers/" + cid.String()
	for q, want := range map[string]int{"": directory.DefaultSuppliers, "?limit=0": directory.DefaultSuppliers, "?limit=18": 18} {
		var r struct{ Suppliers []directory.Supplier }
		if code := get(lookup+q, &r); code != http.StatusOK || len(r.Suppliers) != want {
			t.Errorf("GET %s: %d, %d suppliers; want 200, %d", lookup+q, code, len(r.Suppliers), want)
		}
	}
	for _, q := range []string{"?limit=-1", "?limit=51", "?limit=x", "?limit=00x"} {
		var r struct{}
		if code := get(lookup+q, &r); code != http.StatusBadRequest {
			t.Errorf("GET %s: %d; want 400", lookup+q, code)
		}
	}
	_, sups, ok, err := d.Client(t, asker).AnnounceSuppliers(ctx, directory.Announcement{Addrs: []string{"198.51.100.99:7000"}}, cid, 0)
	if err != nil || !ok || len(sups) != directory.DefaultSuppliers {
		t.Errorf("an announcement asking for the lookup without a limit: %d suppliers (ok %v, %v); want %d",
			len(sups), ok, err, directory.DefaultSuppliers)
	}
	for q, want := range map[string][2]int{"?page=0&per_page=0": {1, 20}, "?page=2&per_page=5": {2, 5}} {
		var r struct {
			Page    int `json:"page"`
			PerPage int `json:"per_page"`
		}
		if code := get("/v1/titles"+q, &r); code != http.StatusOK || [2]int{r.Page, r.PerPage} != want {
			t.Errorf("GET /v1/titles%s: %d, page %d per_page %d; want 200, %v", q, code, r.Page, r.PerPage, want)
		}
	}
	if code := get("/v1/titles?per_page=101", &struct{}{}); code != http.StatusBadRequest {
		t.Errorf("GET /v1/titles?per_page=101: %d; want 400", code)
	}
}
