package directory

import (
	"context"
	"net/http"
	"testing"
)

// TestConnRequestLikeNewRequest: the request newConnRequest builds from the
// parsed base is the one NewRequestWithContext makes of base+path (with the
// shared header), and anything it could spell differently takes the
// general way.
func TestConnRequestLikeNewRequest(t *testing.T) {
	ctx := context.WithValue(context.Background(), connInfoKey{}, "marker")
	hdr := http.Header{HeaderDevice: {"DEV"}}
	for _, base := range []string{"https://127.0.0.1:8443", "https://dir.example:8443/prefix", "https://[::1]:1", "https://dir.example", "https://dir.example:"} {
		c := &Client{base: base, baseURL: parseConnBase(base), connHeader: hdr}
		if c.baseURL == nil {
			t.Fatalf("base %q not parsed", base)
		}
		for _, path := range []string{"/v1/suppliers/00ff", "/v1/info", "", "/a-b.c_d~e/"} {
			got := c.newConnRequest(ctx, http.MethodGet, path, c.connHeader)
			if got == nil {
				t.Fatalf("%q + %q: general way taken", base, path)
			}
			want, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			want.Header = hdr
			if got.Method != want.Method || *got.URL != *want.URL || got.URL.String() != want.URL.String() ||
				got.URL.RequestURI() != want.URL.RequestURI() || got.Host != want.Host || got.Proto != want.Proto ||
				got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor || got.Body != nil ||
				got.ContentLength != 0 || got.Context() != ctx || got.Header["Kith-Device"][0] != "DEV" {
				t.Errorf("%q + %q: got %s %+v host %q, want %s %+v host %q", base, path, got.Method, *got.URL, got.Host,
					want.Method, *want.URL, want.Host)
			}
		}
		for _, path := range []string{"/v1/suppliers/00ff?limit=3", "/v1/a%20b", "/v1/a b", "/v1/é", "/v1/x#y"} {
			if c.newConnRequest(ctx, http.MethodGet, path, c.connHeader) != nil {
				t.Errorf("%q + %q: not plain, but built by newConnRequest", base, path)
			}
		}
		if c.newConnRequest(ctx, http.MethodPost, "/v1/x", c.connHeader) != nil {
			t.Errorf("%q: POST built by newConnRequest", base)
		}
	}
	for _, base := range []string{"https://dir.example/a%2Fb", "https://dir.example/a b", "https://u@dir.example"} {
		if parseConnBase(base) != nil {
			t.Errorf("base %q: parsed for newConnRequest", base)
		}
	}
}
