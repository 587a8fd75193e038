package directory_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestSuppliersBinaryEndToEnd: a real directory answers a lookup in the
// binary form to whoever asks for it (the client does) and JSON to anyone
// else, and the client reads the same suppliers from it as the JSON says.
func TestSuppliersBinaryEndToEnd(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	st := d.Store.(*sqlitestore.Store)
	client := func(dev *identity.Identity) *directory.Client { return d.Client(t, dev) }
	var cid sealed.ContentID
	rand.Read(cid[:])
	asker := enrollIn(t, st, "alice")
	// three suppliers: one of the asker's own devices, two of another account
	rtts := map[string]int64{}
	for i, account := range []string{"alice", "bob", "bob"} {
		dev := enrollIn(t, st, account)
		addrs := []string{fmt.Sprintf("198.51.100.%d:7000", i+1)}
		if i == 1 {
			addrs = append(addrs, "[2001:db8::1]:7000", "peer.example:7001")
		}
		if err := client(dev).Announce(ctx, directory.Announcement{Addrs: addrs, Load: i,
			Holdings: []directory.Holding{{Content: cid, Complete: i != 2, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}); err != nil {
			t.Fatal(err)
		}
		rtts[string(dev.ID())] = int64(30 - 10*i) // known RTTs: a fixed order (the last first)
	}
	ac := client(asker)
	if err := ac.Announce(ctx, directory.Announcement{Addrs: []string{}, Holdings: []directory.Holding{}, RTTs: rtts}); err != nil {
		t.Fatal(err)
	}
	got, err := ac.Suppliers(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}

	// the same lookup signed by the asker, without and with Accept
	hc := tlsClient(t)
	lookup := func(accept string) (*http.Response, []byte) {
		var hdr []string
		if accept != "" {
			hdr = []string{"Accept", accept}
		}
		resp, b := signedDo(t, hc, d.Addr, asker, "GET", "/v1/suppliers/"+cid.String(), nil, hdr...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("lookup: %d %s", resp.StatusCode, b)
		}
		return resp, b
	}
	resp, js := lookup("")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("without Accept: Content-Type %q", ct)
	}
	var want struct{ Suppliers []directory.Supplier }
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Suppliers) != 3 || want.Suppliers[2].Account != "alice" || want.Suppliers[1].Account != "" || len(want.Suppliers[1].Addrs) != 3 {
		t.Fatalf("JSON answer %s", js)
	}
	if !reflect.DeepEqual(got, want.Suppliers) {
		t.Fatalf("client read\n%#v\nthe JSON says\n%#v", got, want.Suppliers)
	}
	resp, bin := lookup("application/json;q=0.5, " + directory.SuppliersMediaType)
	if ct, vary := resp.Header.Get("Content-Type"), resp.Header.Get("Vary"); ct != directory.SuppliersMediaType || vary != "Accept" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(bin)) {
		t.Fatalf("with Accept: Content-Type %q, Vary %q, Content-Length %q for %d bytes", ct, vary, resp.Header.Get("Content-Length"), len(bin))
	}
	if len(bin) >= len(js)/2 {
		t.Errorf("binary answer %d bytes, JSON %d", len(bin), len(js))
	}
}

// TestSecuritySuppliersBinaryClient: the client asks for the binary form,
// reads it only when the answer says it is that form, still reads JSON from
// a directory that ignores the ask (and v1 from an older directory, v2
// from a newer one), and refuses a binary answer claiming
// more suppliers than it asked for without sizing anything by the claim.
func TestSecuritySuppliersBinaryClient(t *testing.T) {
	ctx := context.Background()
	var accept atomic.Value
	var ctype string
	var body []byte
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept.Store(r.Header.Get("Accept"))
		w.Header().Set("Content-Type", ctype)
		w.Write(body)
	}))
	defer ts.Close()
	dev, _ := identity.Generate()
	c, err := directory.NewClient(directory.ClientOptions{URL: ts.URL, Fingerprint: dev.ID(), Device: dev, HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	var cid sealed.ContentID
	// one supplier "D", no account, no addresses, load 2, in each form
	bin := []byte{1, 1, 0, 1, 0, 1, 0, 0, 4, 'D'}
	js := []byte(`{"suppliers":[{"device":"D","account":"","addrs":[],"origin":false,"complete":false,"same_lan":false,"load":2,"score":1}]}`)
	one := []directory.Supplier{{Device: "D", Addrs: []string{}, Load: 2, Score: 1}}
	// v2: the asker first, "D" second in the order of arrival
	bin2 := []byte{2, 1, 0, 1, 1, 0, 1, 0, 0, 4, 2, 'D'}
	for _, tt := range []struct {
		name  string
		ctype string
		body  []byte
		ok    bool
	}{
		{"binary", directory.SuppliersMediaType, bin, true},
		{"v2", directory.SuppliersMediaTypeV2, bin2, true},
		{"v2 with a rank missing", directory.SuppliersMediaTypeV2, []byte{2, 1, 0, 1, 1, 0, 1, 0, 0, 4, 3, 'D'}, false},
		{"v2 with a parameter", directory.SuppliersMediaTypeV2 + "; q=1", bin2, false},
		{"JSON from a directory that ignores Accept", "application/json", js, true},
		{"binary labelled JSON", "application/json", bin, false},
		{"JSON labelled binary", directory.SuppliersMediaType, js, false},
		{"binary with a parameter", directory.SuppliersMediaType + "; v=2", bin, false},
		{"2^40 suppliers claimed", directory.SuppliersMediaType, []byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0}, false},
		{"52 suppliers", directory.SuppliersMediaType, append([]byte{1, 52, 0, 0}, make([]byte, 52*5)...), false},
	} {
		ctype, body = tt.ctype, tt.body
		got, err := c.Suppliers(ctx, cid)
		if a, _ := accept.Load().(string); a != directory.SuppliersMediaTypeV2+", "+directory.SuppliersMediaType {
			t.Fatalf("%s: the client sent Accept %q", tt.name, a)
		}
		if tt.ctype == directory.SuppliersMediaTypeV2 && err == nil {
			if got[0].Arrival != 2 {
				t.Errorf("%s: arrival %d, want 2", tt.name, got[0].Arrival)
			}
			got[0].Arrival = 0
		}
		switch {
		case tt.ok && (err != nil || !reflect.DeepEqual(got, one)):
			t.Errorf("%s: %#v, %v; want %#v", tt.name, got, err, one)
		case !tt.ok && err == nil:
			t.Errorf("%s: accepted %#v", tt.name, got)
		}
	}
}
