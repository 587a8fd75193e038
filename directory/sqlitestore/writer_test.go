package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// TestBatchFailureLeavesOthers runs batches straight through commitBatch
// (the writer goroutine is idle meanwhile): requests that fail after
// writing, or on a constraint, leave nothing, and the others of their
// batch are committed once each.
func TestBatchFailureLeavesOthers(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE scratch (k TEXT PRIMARY KEY, runs INTEGER NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errRefused := errors.New("refused after writing")
	runs := map[string]int{}
	insert := func(k string, fail error) *writeReq {
		return &writeReq{ctx: ctx, fn: func(ctx context.Context, tx *sql.Tx) error {
			runs[k]++
			if _, err := tx.ExecContext(ctx, `INSERT INTO scratch (k, runs) VALUES (?, ?)`, k, runs[k]); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO scratch (k, runs) VALUES (?, 0)`, k+"-second"); err != nil {
				return err
			}
			return fail
		}}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	gone := insert("cancelled", nil)
	gone.ctx = cancelled

	// all succeed: one run each, everything committed
	errs := s.commitBatch([]*writeReq{insert("a", nil), insert("b", nil), insert("c", nil)}, nil)
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d of a good batch: %v", i, err)
		}
	}
	// a failure after writing, a constraint failure (a duplicate of a
	// committed key) and a cancelled request among good ones
	batch := []*writeReq{insert("d", nil), insert("bad", errRefused), insert("e", nil), insert("a", nil), gone, insert("f", nil)}
	errs = s.commitBatch(batch, nil)
	if len(errs) != len(batch) {
		t.Fatalf("%d outcomes for %d requests", len(errs), len(batch))
	}
	for i, want := range []string{"", "refused", "", "UNIQUE", "canceled", ""} {
		switch err := errs[i]; {
		case want == "" && err != nil:
			t.Errorf("request %d: %v; want success", i, err)
		case want != "" && (err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want))):
			t.Errorf("request %d: %v; want an error with %q", i, err, want)
		}
	}
	rows, err := s.w.QueryContext(ctx, `SELECT k, runs FROM scratch ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d", k, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// d ran twice (the first run, before "bad" failed, was rolled back):
	// its row holds the second run; e and f ran once, with savepoints
	want := []string{"a:1", "a-second:0", "b:1", "b-second:0", "c:1", "c-second:0", "d:2", "d-second:0", "e:1", "e-second:0", "f:1", "f-second:0"}
	if !slices.Equal(got, want) {
		t.Errorf("table after the batches:\n got %v\nwant %v", got, want)
	}
}

// TestSoftCommits: a commit of soft writes only (txSoft: announcements,
// withdrawals) runs with synchronous=NORMAL, one holding any durable write
// with FULL, and a durable write after soft ones is FULL again.
func TestSoftCommits(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	mode := func(got *int) func(ctx context.Context, tx *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(got)
		}
	}
	const normal, full = 1, 2
	var m int
	if err := s.tx(ctx, mode(&m)); err != nil || m != full {
		t.Fatalf("a durable write: synchronous %d, %v; want %d", m, err, full)
	}
	if err := s.txSoft(ctx, mode(&m)); err != nil || m != normal {
		t.Fatalf("a soft write: synchronous %d, %v; want %d", m, err, normal)
	}
	if err := s.txSoft(ctx, mode(&m)); err != nil || m != normal {
		t.Fatalf("a second soft write: synchronous %d, %v; want %d", m, err, normal)
	}
	// A batch mixing both, straight through the writer's steps (the writer
	// goroutine is idle meanwhile): both see FULL.
	var a, b int
	batch := []*writeReq{{ctx: ctx, fn: mode(&a), soft: true}, {ctx: ctx, fn: mode(&b)}}
	if err := s.syncFor(batch); err != nil {
		t.Fatal(err)
	}
	for i, err := range s.commitBatch(batch, nil) {
		if err != nil {
			t.Fatalf("request %d of a mixed batch: %v", i, err)
		}
	}
	if a != full || b != full {
		t.Fatalf("a mixed batch: synchronous %d and %d; want %d", a, b, full)
	}
	if err := s.txSoft(ctx, mode(&m)); err != nil || m != normal {
		t.Fatalf("a soft write after the mixed batch: synchronous %d, %v; want %d", m, err, normal)
	}
	if err := s.tx(ctx, mode(&m)); err != nil || m != full {
		t.Fatalf("a durable write after soft ones: synchronous %d, %v; want %d", m, err, full)
	}
	// What the directory writes soft: an announcement and a withdrawal
	// are there to read once acknowledged.
	if err := s.CreateAccount(ctx, "alice", "hash", time.Now()); err != nil {
		t.Fatal(err)
	}
	dev := newDevice(t, s, "alice").ID
	if err := s.Announce(ctx, &directory.AnnounceRecord{Device: dev, Expires: time.Now().Add(time.Minute),
		Announcement: directory.Announcement{Addrs: []string{"192.0.2.1:7000"}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Announcement(ctx, dev); err != nil || len(got.Addrs) != 1 {
		t.Fatalf("announcement after a soft commit: %+v, %v", got, err)
	}
	if err := s.Withdraw(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Announcement(ctx, dev); err == nil {
		t.Fatal("announcement still there after a withdrawal")
	}
}
