package directory_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestSecurityDirectoryAnswersBounded (issue 11 item 6): what the client
// reads from a directory is bounded in bytes and in items before it is
// decoded. A list answer of empty elements used to be decoded whole (up to
// 16 MiB of JSON, ~200 bytes of memory per 3-byte element).
func TestSecurityDirectoryAnswersBounded(t *testing.T) {
	ctx := context.Background()
	var body func() io.Reader
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, body())
	}))
	defer ts.Close()
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := directory.NewClient(directory.ClientOptions{URL: ts.URL, Fingerprint: dev.ID(), Device: dev, HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	list := func(key string, n int) func() io.Reader {
		return func() io.Reader {
			return strings.NewReader(`{"` + key + `":[{}` + strings.Repeat(`,{}`, n-1) + `]}`)
		}
	}
	var cid sealed.ContentID
	for _, tt := range []struct {
		name string
		body func() io.Reader
		call func() (int, error)
	}{
		{"suppliers: 100 000 empty entries", list("suppliers", 100_000), func() (int, error) {
			s, err := c.SuppliersN(ctx, cid, 0)
			return len(s), err
		}},
		{"suppliers: 52 entries", list("suppliers", directory.MaxSuppliers+2), func() (int, error) {
			s, err := c.SuppliersN(ctx, cid, 0)
			return len(s), err
		}},
		{"titles: 101 on a page", list("titles", 101), func() (int, error) {
			s, _, err := c.Titles(ctx, "", 1, 100)
			return len(s), err
		}},
		{"devices: 1 000 000 empty entries", list("devices", 1_000_000), func() (int, error) {
			s, err := c.Devices(ctx)
			return len(s), err
		}},
		{"whois: 1 MiB", func() io.Reader {
			return strings.NewReader(`{"name":"` + strings.Repeat("A", 1<<20) + `"}`)
		}, func() (int, error) {
			_, err := c.Whois(ctx, dev.ID())
			return 1, err
		}},
	} {
		body = tt.body
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, err := tt.call()
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		if err == nil {
			t.Errorf("%s: accepted (%d items)", tt.name, n)
		}
		if alloc > 16<<20 {
			t.Errorf("%s: allocated %.1f MiB", tt.name, float64(alloc)/(1<<20))
		}
	}
	// Nothing lost: a full honest answer is accepted.
	body = list("suppliers", directory.MaxSuppliers+1)
	if s, err := c.SuppliersN(ctx, cid, directory.MaxSuppliers); err != nil || len(s) != directory.MaxSuppliers+1 {
		t.Fatalf("honest suppliers: %d, %v", len(s), err)
	}
}
