package share

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// routeRequests reads, from the directory's metrics, how many requests of
// route it answered 200 (lookups answered with an announcement count as
// route "announce_suppliers"), once the count has settled: the directory
// counts a request after its handler returns, which is after the client
// has its answer, so a request just answered (waitSupplier's last lookup)
// could be counted after a reading taken at once, as if a later request
// had made it (TestDownloadStartAsksOnce failed 1–2 runs in 15 so).
func routeRequests(t *testing.T, d *testDirectory, route string) int {
	t.Helper()
	n := routeCount(t, d, route)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
		m := routeCount(t, d, route)
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// routeCount is the directory's count of 200 answers on route now.
func routeCount(t *testing.T, d *testDirectory, route string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	d.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	prefix := `kith_directory_requests_total{route="` + route + `",status="200"} `
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("metrics line %q: %v", l, err)
			}
			return n
		}
	}
	return 0
}

// TestDownloadStartAsksOnce: a download's start announces and learns its
// suppliers in one request to the directory (real directory, real TLS):
// no GET /v1/suppliers after the announcement, and the answer names the
// holder and the origin as the lookup did.
func TestDownloadStartAsksOnce(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Short Song", 256<<10, 0)
	a := startNode(t, d, "alice", nil)
	b := startNode(t, d, "bob", nil)
	for _, n := range []*Node{a, b} {
		if _, err := n.Register(ctx, title.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	waitSupplier(t, b, a, title)
	gets, both := routeRequests(t, d, "suppliers"), routeRequests(t, d, "announce_suppliers")
	peers, origin, _, err := b.announceSuppliers(ctx, title.ContentID)
	if err != nil {
		t.Fatal(err)
	}
	if got := routeRequests(t, d, "suppliers") - gets; got != 0 {
		t.Errorf("the start sent %d GET /v1/suppliers after its announcement; want 0 (one request for both)", got)
	}
	if got := routeRequests(t, d, "announce_suppliers") - both; got != 1 {
		t.Errorf("%d lookups answered with an announcement; want 1", got)
	}
	if len(peers) != 1 || peers[0].ID != a.ID() || !origin {
		t.Errorf("the start found peers %v and origin %v; want %s and the origin", peers, origin, a.ID().Short())
	}
}

// TestDownloadStartInFormingCrowd: when the answer to the announcement
// names others downloading the title now (a crowd forming) with their
// order of arrival (directory v2), the start asks no more: who came after
// it picks it (arrivalPairs). Without the order (an older directory, or
// here a node ignoring it) it asks once more, so members arriving
// together see those announced just after them.
func TestDownloadStartInFormingCrowd(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) { testDownloadStartInFormingCrowd(t, ordered) })
	}
}

func testDownloadStartInFormingCrowd(t *testing.T, ordered bool) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Crowded Song", 256<<10, 0)
	b := startNode(t, d, "bob", func(o *Options) { o.noArrivals = !ordered })
	if _, err := b.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	dev, other := d.enroll(t, "carol", nil)
	// The index of who is online loaded (an announcement before it is
	// read from the store, with no place in the order of arrival).
	if _, err := other.SuppliersN(ctx, title.ContentID, 1); err != nil {
		t.Fatal(err)
	}
	if err := other.Announce(ctx, directory.Announcement{Addrs: []string{"127.0.0.1:9"},
		Holdings: []directory.Holding{{Content: title.ContentID, Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}); err != nil {
		t.Fatal(err)
	}
	// As a download's start: the title in the library (announced as a
	// download), then the announcement.
	m, err := b.manifest(ctx, title.ContentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.lib.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	b.Title(title.ContentID).begin()
	gets, both := routeRequests(t, d, "suppliers"), routeRequests(t, d, "announce_suppliers")
	peers, _, crowd, err := b.announceSuppliers(ctx, title.ContentID)
	if err != nil {
		t.Fatal(err)
	}
	if got := routeRequests(t, d, "announce_suppliers") - both; got != 1 {
		t.Errorf("%d lookups answered with an announcement; want 1", got)
	}
	want := 1
	if ordered {
		want = 0
		if a := crowd.Arrival[dev.ID()]; a != -1 || !crowd.Ordered() {
			t.Errorf("the other download's arrival %d (ordered %v); want -1, before us", a, crowd.Ordered())
		}
	}
	if got := routeRequests(t, d, "suppliers") - gets; got != want {
		t.Errorf("with another device downloading, the start asked GET /v1/suppliers %d times; want %d", got, want)
	}
	if len(peers) != 1 || peers[0].ID != dev.ID() || len(crowd.Downloading) != 1 {
		t.Errorf("the start found peers %v, downloading %v; want %s", peers, crowd.Downloading, dev.ID().Short())
	}
}
