package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
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
