package library

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"testing"
	"time"
)

// totalChanges is how many rows the index's write connection changed so
// far (SQLite's total_changes: the pool holds that one connection).
func totalChanges(t *testing.T, l *Library) int64 {
	t.Helper()
	var n int64
	if err := l.w.QueryRowContext(context.Background(), `SELECT total_changes()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A download adds the (signed) manifest it fetched, then again the one it
// reads back: the second time writes nothing. A signed copy of a manifest
// held unsigned still replaces it, and is what the library serves.
func TestAddManifestAgainWritesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	_, m, _, _ := sealedFile(t, 50_000, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signed := *m
	signed.Sign(priv)
	before := totalChanges(t, l)
	if err := l.AddManifest(ctx, &signed); err != nil {
		t.Fatal(err)
	}
	if got := totalChanges(t, l); got != before+1 {
		t.Fatalf("a signed copy changed %d rows, want 1", got-before)
	}
	if err := l.AddManifest(ctx, &signed); err != nil {
		t.Fatal(err)
	}
	if got := totalChanges(t, l); got != before+1 {
		t.Fatalf("adding the same signed manifest again changed %d rows", got-before-1)
	}
	want, _ := signed.MarshalBinary()
	for _, lib := range []func() *Library{func() *Library { return l }, func() *Library { return reopen(t, l, dir) }} {
		b, err := lib().ManifestBytes(ctx, m.ContentID())
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("the library serves %d bytes (%v), not the signed manifest", len(b), err)
		}
	}
}

// reopen closes l and opens its folder again.
func reopen(t *testing.T, l *Library, dir string) *Library {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return openLib(t, dir)
}

// The index's read connections stay open between bursts of reads: a
// device serving a crowd reads from every reader at once, again and again.
func TestReadersStayOpen(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	for range 3 {
		var conns []*sql.Conn
		for range readers {
			c, err := l.r.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := c.QueryRowContext(ctx, `SELECT count(*) FROM content`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	if st := l.r.Stats(); st.MaxIdleClosed != 0 || st.OpenConnections != readers {
		t.Fatalf("read pool: %d connections closed for want of idle room, %d open; want 0 and %d", st.MaxIdleClosed, st.OpenConnections, readers)
	}
}

// Peers' first polls of a content arrive together: they wait for one read
// of its policy, not one read (and read connection) each; a policy set
// afterwards is what the next caller gets.
func TestContentPolicyReadOnce(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	_, m, _, _ := sealedFile(t, 20_000, 4096)
	cid := m.ContentID()
	if err := l.PutTitle(ctx, Title{ID: "t1", Name: "One", ContentID: cid}); err != nil {
		t.Fatal(err)
	}
	want := Policy{Mode: "household"}
	if err := l.SetPolicy(ctx, "t1", want); err != nil {
		t.Fatal(err)
	}
	// Every read connection busy, so the reads queue where they can be counted.
	var held []*sql.Conn
	for range readers {
		c, err := l.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	base := l.r.Stats().WaitCount
	const callers = 8
	started := make(chan struct{}, callers)
	type answer struct {
		p   Policy
		err error
	}
	answers := make(chan answer, callers)
	for range callers {
		go func() {
			started <- struct{}{}
			p, err := l.ContentPolicy(ctx, cid)
			answers <- answer{p, err}
		}()
	}
	for range callers {
		<-started
	}
	// The first read queues for a connection; the others must not.
	// (Nothing signals a read that did not happen: watch for a while.)
	deadline := time.Now().Add(10 * time.Second)
	for l.r.Stats().WaitCount == base && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if n := l.r.Stats().WaitCount - base; n > 1 {
			t.Fatalf("%d reads of the policy waited for a connection; want 1", n)
		}
	}
	for _, c := range held {
		c.Close()
	}
	for range callers {
		a := <-answers
		if a.err != nil || a.p.Mode != want.Mode {
			t.Fatalf("ContentPolicy = %+v, %v; want %+v", a.p, a.err, want)
		}
	}
	if err := l.SetPolicy(ctx, "t1", Policy{Mode: "nobody"}); err != nil {
		t.Fatal(err)
	}
	if p, err := l.ContentPolicy(ctx, cid); err != nil || p.Mode != "nobody" {
		t.Fatalf("after a change, ContentPolicy = %+v, %v; want nobody", p, err)
	}
}
