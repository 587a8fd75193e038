package library

import (
	"context"
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
		rows, err := l.w.QueryContext(ctx, `SELECT run FROM sqlite_stmt WHERE sql LIKE ? || '%'`, prefix)
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
	for _, q := range []string{"INSERT INTO ledger", "UPDATE content SET bitmap"} {
		n, run := runs(q)
		if n != 1 || run < 3 {
			t.Errorf("%q: %d statements prepared on the writer, run %d times in all; want 1 statement run at least 3 times (prepared once, reused)", q, n, run)
		}
	}
}
