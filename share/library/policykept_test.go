package library

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// A download's first requests from its peers ask ContentPolicy for a
// content just added, after the announcement read HeldContent's and
// Policies' lists: the answer comes from those lists, without the index
// (every read connection is held here, so a read would wait), and it is
// the answer the index gives: the first title's policy, else the library
// default, else DefaultPolicy; a change of policy or title is seen.
func TestContentPolicyFromKeptLists(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	_, m1, _, _ := sealedFile(t, 20_000, 4096)
	_, m2, _, _ := sealedFile(t, 30_000, 4096)
	_, m3, _, _ := sealedFile(t, 40_000, 4096)
	c1, c2, c3 := m1.ContentID(), m2.ContentID(), m3.ContentID()
	for _, m := range []*sealed.Manifest{m1, m2} {
		if err := l.AddManifest(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// c1 has two titles (the first by ID governs), c2 none, c3 a title
	// but no content row (not held: not in HeldContent's list).
	for _, ti := range []Title{{ID: "t2", Name: "Two", ContentID: c1}, {ID: "t1", Name: "One", ContentID: c1}, {ID: "t3", Name: "Three", ContentID: c3}} {
		if err := l.PutTitle(ctx, ti); err != nil {
			t.Fatal(err)
		}
	}
	for id, mode := range map[string]string{"t1": "household", "t2": "nobody", "t3": "list"} {
		if err := l.SetPolicy(ctx, id, Policy{Mode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SetPolicy(ctx, "", Policy{Mode: "list", Allow: []string{"x"}}); err != nil {
		t.Fatal(err)
	}

	// announce reads both lists, then asks with every read connection busy.
	ask := func(want map[sealed.ContentID]string) {
		t.Helper()
		if _, err := l.HeldContent(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Policies(ctx); err != nil {
			t.Fatal(err)
		}
		var held []*sql.Conn
		for range readers {
			c, err := l.r.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		base := l.r.Stats().WaitCount
		for cid, mode := range want {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			p, err := l.ContentPolicy(qctx, cid)
			cancel()
			if err != nil || p.Mode != mode {
				t.Fatalf("ContentPolicy(%s) with the lists kept = %+v, %v; want %s without reading the index", cid.String()[:8], p, err, mode)
			}
		}
		if n := l.r.Stats().WaitCount - base; n != 0 {
			t.Fatalf("%d reads of the index; want none", n)
		}
		for _, c := range held {
			c.Close()
		}
	}
	ask(map[sealed.ContentID]string{c1: "household", c2: "list"})
	if p, err := l.ContentPolicy(ctx, c3); err != nil || p.Mode != "list" {
		t.Fatalf("ContentPolicy of a title not held = %+v, %v; want its own, list", p, err)
	}
	if err := l.SetPolicy(ctx, "t1", Policy{Mode: "anyone"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetSharing(ctx, false); err != nil {
		t.Fatal(err)
	}
	ask(map[sealed.ContentID]string{c1: "anyone", c2: "nobody"})
	// A title removed: the next title by ID governs.
	if err := l.DeleteTitle(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	ask(map[sealed.ContentID]string{c1: "nobody"})
	if err := l.SetPolicy(ctx, "t2", Policy{Mode: "household"}); err != nil {
		t.Fatal(err)
	}
	ask(map[sealed.ContentID]string{c1: "household"})
}

// TestSharingOffHoldsForAnyTitleID: while sharing is off no content is
// shared, whatever ID its title has. The policies table keeps the default
// saved for when sharing comes back under the key "!sharing-on"; a title
// of that ID (a catalog's answer, hostile) read that row as its own
// policy, so its content, and any content whose first title by ID it
// became ('!' sorts first), was copied by anyone while sharing was off.
func TestSharingOffHoldsForAnyTitleID(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	_, m, _, _ := sealedFile(t, 4*4096, 4096)
	cid := m.ContentID()
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTitle(ctx, Title{ID: "t1", Name: "mine", ContentID: cid}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetSharing(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTitle(ctx, Title{ID: resumeKey, Name: "hostile", ContentID: cid}); err == nil {
		t.Errorf("a title of ID %q was stored", resumeKey)
	}
	if p, err := l.ContentPolicy(ctx, cid); err != nil || p.Mode != "nobody" {
		t.Fatalf("sharing off: ContentPolicy = %+v, %v; want nobody", p, err)
	}
}

// The policies kept in memory are handed out as copies, lists included: a
// caller that edits the Allow or Deny list it was given (an offer, a
// settings screen) cannot change whom the library lets copy.
func TestKeptPoliciesAreCopies(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	_, m, _, _ := sealedFile(t, 20_000, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	if err := l.PutTitle(ctx, Title{ID: "t1", Name: "One", ContentID: cid}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetPolicy(ctx, "t1", Policy{Mode: "list", Allow: []string{"friend"}, Deny: []string{"foe"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.HeldContent(ctx); err != nil { // so ContentPolicy may answer from the kept lists
		t.Fatal(err)
	}
	for round := range 3 { // the index's answer, then the kept lists', then the cache's
		pols, err := l.Policies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pols["t1"].Allow[0], pols["t1"].Deny[0] = "stranger", "friend"
		p, err := l.ContentPolicy(ctx, cid)
		if err != nil {
			t.Fatal(err)
		}
		if p.Allow[0] != "friend" || p.Deny[0] != "foe" {
			t.Fatalf("round %d: after a caller edited Policies' copy, ContentPolicy = %+v", round, p)
		}
		p.Allow[0], p.Deny[0] = "stranger", "friend"
		if again, _ := l.ContentPolicy(ctx, cid); again.Allow[0] != "friend" || again.Deny[0] != "foe" {
			t.Fatalf("round %d: after a caller edited ContentPolicy's copy: %+v", round, again)
		}
		if pols, _ := l.Policies(ctx); pols["t1"].Allow[0] != "friend" || pols["t1"].Deny[0] != "foe" {
			t.Fatalf("round %d: Policies after the edits: %+v", round, pols["t1"])
		}
	}
}
