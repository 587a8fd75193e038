package directory_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// announceBodies is a client transport (real TLS) that keeps the body of
// every POST /v1/announce it sends; with old set it answers one naming
// holdings_same as a directory from before the field does (decodeStrict:
// 400, unknown field) without sending it.
type announceBodies struct {
	rt     http.RoundTripper
	old    bool
	mu     sync.Mutex
	bodies []string
}

func newAnnounceBodies(t *testing.T, old bool) *announceBodies {
	return &announceBodies{old: old, rt: tlsClient(t).Transport}
}

func (a *announceBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/announce" {
		return a.rt.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.bodies = append(a.bodies, string(b))
	a.mu.Unlock()
	if a.old && strings.Contains(string(b), `"holdings_same"`) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(http.StatusBadRequest)
		rec.WriteString(`{"code":"bad_request","message":"bad JSON: unknown field \"holdings_same\""}`)
		return rec.Result(), nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return a.rt.RoundTrip(r)
}

// kinds says of each body kept since the last call whether it named its
// holdings by digest ("same") or sent them ("full").
func (a *announceBodies) kinds(t *testing.T) []string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, b := range a.bodies {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatal(err)
		}
		_, same := m["holdings_same"]
		h, full := m["holdings"]
		full = full && string(h) != "null"
		switch {
		case same && !full:
			out = append(out, "same")
		case full && !same:
			out = append(out, "full")
		default:
			t.Fatalf("an announcement with both or neither: %s", b)
		}
	}
	a.bodies = nil
	return out
}

func bodyClient(t *testing.T, d *dirtest.Directory, dev *identity.Identity, rt http.RoundTripper) *directory.Client {
	t.Helper()
	c, err := directory.NewClient(directory.ClientOptions{URL: d.URL, Device: dev, HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// heldBy is what a lookup by c finds dev holding of each content: "complete",
// "partial" or "" (not listed).
func heldBy(t *testing.T, c *directory.Client, dev identity.ID, cids ...sealed.ContentID) []string {
	t.Helper()
	var out []string
	for _, cid := range cids {
		sups, err := c.SuppliersN(context.Background(), cid, directory.MaxSuppliers)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, s := range sups {
			if s.Device == dev {
				got = "partial"
				if s.Complete {
					got = "complete"
				}
			}
		}
		out = append(out, got)
	}
	return out
}

// TestAnnounceSameHoldings: a heartbeat whose holdings are those last
// announced names them by digest, and the directory (real, on SQLite, real
// TLS) lists them as a full announcement would; a change is sent in full;
// when the directory's last announcement of the device is another
// (another client of it announced since) it answers 409 and the client
// sends them in full; after a withdrawal they are sent in full.
func TestAnnounceSameHoldings(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{RateAuth: -1, RateIP: -1, RateDevice: -1})
	st := d.Store.(*sqlitestore.Store)
	var c1, c2 sealed.ContentID
	rand.Read(c1[:])
	rand.Read(c2[:])
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	dev := enrollIn(t, st, "alice")
	bodies := newAnnounceBodies(t, false)
	c := bodyClient(t, d, dev, bodies)
	other := d.Client(t, enrollIn(t, st, "bob"))
	ann := func(complete2 bool) directory.Announcement {
		return directory.Announcement{Addrs: []string{"198.51.100.2:7000"}, Holdings: []directory.Holding{
			{Content: c1, Complete: true, Policy: anyone}, {Content: c2, Complete: complete2, Policy: anyone}}}
	}
	step := func(what string, a directory.Announcement, kinds []string, held []string) {
		t.Helper()
		ans, err := c.AnnounceStatus(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ans.TTLSeconds <= 0 || !ans.Expires.After(time.Now()) {
			t.Errorf("%s: answer %+v", what, ans)
		}
		if got := bodies.kinds(t); !slices.Equal(got, kinds) {
			t.Errorf("%s: sent %v; want %v", what, got, kinds)
		}
		if got := heldBy(t, other, dev.ID(), c1, c2); !slices.Equal(got, held) {
			t.Errorf("%s: a lookup finds %v; want %v", what, got, held)
		}
	}
	step("first", ann(false), []string{"full"}, []string{"complete", "partial"})
	step("heartbeat", ann(false), []string{"same"}, []string{"complete", "partial"})
	step("heartbeat again", ann(false), []string{"same"}, []string{"complete", "partial"})
	step("second completed", ann(true), []string{"full"}, []string{"complete", "complete"})
	step("heartbeat after", ann(true), []string{"same"}, []string{"complete", "complete"})

	// Another client of the device announces other holdings: the
	// directory's last announcement is that one, and c's digest names
	// holdings it no longer has.
	if err := d.Client(t, dev).Announce(ctx, directory.Announcement{Addrs: []string{"198.51.100.2:7000"},
		Holdings: []directory.Holding{{Content: c1, Complete: true, Policy: anyone}}}); err != nil {
		t.Fatal(err)
	}
	if got := heldBy(t, other, dev.ID(), c1, c2); !slices.Equal(got, []string{"complete", ""}) {
		t.Fatalf("after the other client's announcement: %v", got)
	}
	step("named but not the last", ann(true), []string{"same", "full"}, []string{"complete", "complete"})

	if err := c.Withdraw(ctx); err != nil {
		t.Fatal(err)
	}
	step("after withdrawing", ann(true), []string{"full"}, []string{"complete", "complete"})

	var m bytes.Buffer
	rec := httptest.NewRecorder()
	d.Server.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m.Write(rec.Body.Bytes())
	for _, want := range []string{`route="announce_same",status="200"} 3`, `route="announce",status="409"} 1`} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestAnnounceSameHoldingsOlderDirectory: a directory from before
// holdings_same refuses the field (400, unknown field): the client sends
// the holdings in full at once, and in full from then on.
func TestAnnounceSameHoldingsOlderDirectory(t *testing.T) {
	ctx := context.Background()
	d, st, cid := unlimitedDir(t)
	dev := enrollIn(t, st, "alice")
	bodies := newAnnounceBodies(t, true)
	c := bodyClient(t, d, dev, bodies)
	a := directory.Announcement{Addrs: []string{"198.51.100.2:7000"},
		Holdings: []directory.Holding{{Content: cid, Complete: true, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}
	for range 4 {
		if _, err := c.AnnounceStatus(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := bodies.kinds(t), []string{"full", "same", "full", "full", "full"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v; want %v (one try, then in full)", got, want)
	}
	if got := heldBy(t, d.Client(t, enrollIn(t, st, "bob")), dev.ID(), cid); !slices.Equal(got, []string{"complete"}) {
		t.Fatalf("a lookup finds %v", got)
	}
}

// TestAnnounceSameHoldingsHostile: holdings_same is checked before
// anything is recorded: not a digest's length, or beside holdings, is 400;
// a digest that is not the device's last set (a guess, another device's
// set) is 409, and the device's listing stays as it was.
func TestAnnounceSameHoldingsHostile(t *testing.T) {
	ctx := context.Background()
	d, st, cid := unlimitedDir(t)
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	victim, attacker := enrollIn(t, st, "alice"), enrollIn(t, st, "mallory")
	hs := []directory.Holding{{Content: cid, Complete: true, Policy: anyone}}
	if err := d.Client(t, victim).Announce(ctx, directory.Announcement{Addrs: []string{"198.51.100.2:7000"}, Holdings: hs}); err != nil {
		t.Fatal(err)
	}
	if err := d.Client(t, attacker).Announce(ctx, directory.Announcement{Addrs: []string{"198.51.100.3:7000"}}); err != nil {
		t.Fatal(err)
	}
	hc := tlsClient(t)
	post := func(dev *identity.Identity, body string) int {
		resp, _ := signedDo(t, hc, d.Addr, dev, "POST", "/v1/announce", []byte(body))
		return resp.StatusCode
	}
	b64 := func(b []byte) string { s, _ := json.Marshal(b); return string(s) }
	victimSet := directory.HoldingsDigest(hs)
	guess := make([]byte, 32)
	rand.Read(guess)
	holdings, _ := json.Marshal(hs)
	cases := []struct {
		what string
		body string
		want int
	}{
		{"31 bytes", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings_same":` + b64(victimSet[:31]) + `}`, 400},
		{"33 bytes", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings_same":` + b64(append(victimSet, 0)) + `}`, 400},
		{"empty", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings_same":""}`, 400},
		{"not base64", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings_same":"!!"}`, 400},
		{"beside holdings", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings":` + string(holdings) + `,"holdings_same":` + b64(victimSet) + `}`, 400},
		{"a guess", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings_same":` + b64(guess) + `}`, 409},
		{"the victim's set", `{"addrs":["198.51.100.3:7000"],"load":0,"holdings_same":` + b64(victimSet) + `}`, 409},
	}
	lookup := d.Client(t, enrollIn(t, st, "bob"))
	for _, tc := range cases {
		if code := post(attacker, tc.body); code != tc.want {
			t.Errorf("%s: %d; want %d", tc.what, code, tc.want)
		}
		sups, err := lookup.SuppliersN(ctx, cid, directory.MaxSuppliers)
		if err != nil {
			t.Fatal(err)
		}
		if ids := supplierIDs(sups); !slices.Equal(ids, []identity.ID{victim.ID()}) {
			t.Fatalf("after %s: the content's suppliers are %v; want the victim alone", tc.what, ids)
		}
	}
	// The victim's own digest is its set.
	if code := post(victim, `{"addrs":["198.51.100.2:7000"],"load":0,"holdings_same":`+b64(victimSet)+`}`); code != 200 {
		t.Fatalf("the victim's heartbeat by digest: %d", code)
	}
	if got := heldBy(t, lookup, victim.ID(), cid); !slices.Equal(got, []string{"complete"}) {
		t.Fatalf("after the victim's heartbeat: %v", got)
	}
}
