package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
)

// TestTitleByContentStaysPrepared: the title by content, which every
// download's manifest request reads (handleManifest), runs a statement
// prepared once on a reader connection, not one compiled and thrown away
// at each call. It reads SQLite's own list of the connection's prepared
// statements (sqlite_stmt, SQLITE_ENABLE_STMTVTAB: Debian's libsqlite3 has
// it; the test skips where the linked SQLite does not).
func TestTitleByContentStaysPrepared(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "d.db"), Options{Readers: 1}) // one reader: the queries below run where TitleByContent ran
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.r.ExecContext(ctx, `SELECT count(*) FROM sqlite_stmt`); err != nil {
		t.Skipf("no sqlite_stmt in this SQLite: %v", err)
	}
	_, tr := seed(t, s)
	const calls = 3
	for range calls {
		got, err := s.TitleByContent(ctx, tr.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tr.ID {
			t.Fatalf("TitleByContent: title %q, want %q", got.ID, tr.ID)
		}
	}
	var n, run int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(run), 0) FROM sqlite_stmt WHERE sql = ?`, titleSelect+`content = ?`).Scan(&n, &run); err != nil {
		t.Fatal(err)
	}
	if n != 1 || run < calls {
		t.Errorf("title by content: %d statements prepared on the reader, run %d times in all; want 1 run at least %d times (prepared once, reused)", n, run, calls)
	}
}
