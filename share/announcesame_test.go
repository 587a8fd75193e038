package share

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// announcedSame is how many announcements the directory took with their
// holdings named by digest (its requests metric, route announce_same).
func announcedSame(t *testing.T, d *testDirectory) int {
	t.Helper()
	rec := httptest.NewRecorder()
	d.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := regexp.MustCompile(`route="announce_same",status="200"} (\d+)`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestHeartbeatNamesUnchangedHoldings: a node's heartbeats, once its
// holdings are announced, name them by digest (real directory on SQLite,
// real TLS, a heartbeat a second), and the directory goes on listing the
// node; a policy change is announced in full at once (the library's kept
// lists are dropped by it), so another account stops finding the node,
// and the heartbeats after it name the new holdings by digest.
func TestHeartbeatNamesUnchangedHoldings(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Steady Song", 256<<10, 0)
	a := startNode(t, d, "alice", nil)
	if _, err := a.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	x := startNode(t, d, "carol", nil)
	waitSupplier(t, x, a, title)
	listed := func() bool {
		sups, err := x.dirClient().Suppliers(ctx, title.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sups {
			if s.Device == a.ID() {
				return s.Complete
			}
		}
		return false
	}
	waitSame := func(from int) int {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if n := announcedSame(t, d); n >= from+2 {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d heartbeats named their holdings by digest in 20 s (a heartbeat a second); want 2 more than %d", announcedSame(t, d), from)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	n := waitSame(0)
	if !listed() {
		t.Fatal("after heartbeats by digest the directory does not list the node complete")
	}
	if err := a.SetPolicy(ctx, "", directory.Policy{Mode: "nobody"}); err != nil {
		t.Fatal(err)
	}
	if listed() {
		t.Fatal("the directory lists the node to another account after it stopped sharing")
	}
	waitSame(n)
	if listed() {
		t.Fatal("after heartbeats by digest, the directory lists the node to another account again")
	}
}
