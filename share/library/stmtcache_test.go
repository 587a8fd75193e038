package library

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// TestStatementsStayPrepared: the index's connections keep the statements
// a running device repeats prepared (stmtCache): the ledger's upsert of
// RecordAll (every second while uploading) and the chunk bits' UPDATE of a
// flush are each prepared once and run again, not compiled at every call.
// It reads SQLite's own list of a connection's prepared statements
// (sqlite_stmt, SQLITE_ENABLE_STMTVTAB: Debian's libsqlite3 has it; the
// test skips where the linked SQLite does not).
func TestStatementsStayPrepared(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	if _, err := l.w.ExecContext(ctx, `SELECT count(*) FROM sqlite_stmt`); err != nil {
		t.Skipf("no sqlite_stmt in this SQLite: %v", err)
	}
	file, m, _, _ := sealedFile(t, 4*4096, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	peer := identity.ID(strings.Repeat("p", 52))
	for i := range 3 {
		if err := l.RecordAll(ctx, []LedgerDelta{{Peer: peer, ContentID: cid, Direction: Up, Bytes: 100}}); err != nil {
			t.Fatal(err)
		}
		if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(cid); err != nil {
			t.Fatal(err)
		}
	}
	// The writer pool has one connection: this query runs on the
	// connection that ran the statements above.
	runs := func(prefix string) (n, run int) {
		t.Helper()
		rows, err := l.w.QueryContext(ctx, `SELECT run FROM sqlite_stmt WHERE sql LIKE ? || '%'`, strings.ReplaceAll(prefix, "%", `\%`))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var r int
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			n, run = n+1, run+r
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return n, run
	}
	for _, q := range []string{recordLedger, "UPDATE content SET bitmap"} {
		n, run := runs(q)
		if n != 1 || run < 3 {
			t.Errorf("%.40q: %d statements prepared on the writer, run %d times in all; want 1 statement run at least 3 times (prepared once, reused)", q, n, run)
		}
	}
	// A flush of several peers' uploads is one run of the same statement:
	// no transaction begun and committed around an upsert per peer, and no
	// other statement text to prepare for another count of peers.
	ds := make([]LedgerDelta, 4)
	for i := range ds {
		ds[i] = LedgerDelta{Peer: identity.ID(strings.Repeat(string(rune('a'+i)), 52)), ContentID: cid, Direction: Up, Bytes: 10}
	}
	if err := l.RecordAll(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if n, run := runs(recordLedger); n != 1 || run != 4 {
		t.Errorf("after RecordAll of 4 deltas: the ledger's upsert prepared %d times, run %d times in all; want one statement run 4 times (3 single deltas before, then the 4 in one run)", n, run)
	}
}

// TestRecordAllBeyondOneStatement: more deltas than one statement takes
// (recordRows) are recorded together in one transaction, all or none.
func TestRecordAllBeyondOneStatement(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	_, m, _, _ := sealedFile(t, 4*4096, 4096)
	cid := m.ContentID()
	deltas := func(n int) []LedgerDelta {
		ds := make([]LedgerDelta, n)
		for i := range ds {
			ds[i] = LedgerDelta{Peer: identity.ID(fmt.Sprintf("%052d", i)), ContentID: cid, Direction: Up, Bytes: int64(i + 1)}
		}
		return ds
	}
	count := func() (n int, bytes int64) {
		t.Helper()
		if err := l.w.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(bytes), 0) FROM ledger`).Scan(&n, &bytes); err != nil {
			t.Fatal(err)
		}
		return n, bytes
	}
	// 2×recordRows+3 deltas, the last statement's second one bad: none recorded.
	bad := deltas(2*recordRows + 3)
	bad[2*recordRows+1].Direction = "sideways"
	if err := l.RecordAll(ctx, bad); err == nil {
		t.Fatal("a batch with a bad direction succeeded")
	}
	if n, b := count(); n != 0 {
		t.Fatalf("after a failed batch of %d: %d entries (%d bytes) recorded, want none", len(bad), n, b)
	}
	good := deltas(2*recordRows + 3)
	if err := l.RecordAll(ctx, good); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordAll(ctx, good); err != nil {
		t.Fatal(err)
	}
	k := int64(len(good))
	if n, b := count(); n != len(good) || b != k*(k+1) {
		t.Fatalf("after two batches of %d: %d entries, %d bytes; want %d entries, %d bytes", k, n, b, k, k*(k+1))
	}
}
