package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
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
	n, run := preparedRuns(t, s.r, titleSelect+`content = ?`)
	if n != 1 || run < calls {
		t.Errorf("title by content: %d statements prepared on the reader, run %d times in all; want 1 run at least %d times (prepared once, reused)", n, run, calls)
	}
}

// TestChangedHoldingsStayPrepared: an announcement whose holdings changed
// (a download's start, its completion) rewrites the device's holdings
// through statements prepared once on the writer, not compiled at each
// such announcement; the holdings written are the last announcement's.
func TestChangedHoldingsStayPrepared(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "d.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.ExecContext(ctx, `SELECT count(*) FROM sqlite_stmt`); err != nil {
		t.Skipf("no sqlite_stmt in this SQLite: %v", err)
	}
	d, tr := seed(t, s)
	const changes = 3
	for i := range changes {
		a := &directory.AnnounceRecord{Device: d.ID, PublicIP: "198.51.100.7", Expires: time.Now().Add(time.Minute),
			Announcement: directory.Announcement{Addrs: []string{"10.0.0.1:7000"},
				Holdings: []directory.Holding{{Content: tr.ContentID, Complete: i == changes-1,
					Policy: directory.Policy{Mode: directory.PolicyAnyone}}}}}
		if i == 1 {
			a.Holdings[0].Policy.Mode = directory.PolicyHousehold
		}
		if err := s.Announce(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{holdDelete, holdInsert} {
		n, run := preparedRuns(t, s.w, q)
		if n != 1 || run < changes {
			t.Errorf("%q: %d statements prepared on the writer, run %d times in all; want 1 run at least %d times", q, n, run, changes)
		}
	}
	cs, err := s.SupplierCandidates(ctx, tr.ContentID, time.Now(), "", 10)
	if err != nil || len(cs) != 1 || !cs[0].Complete || cs[0].Policy.Mode != directory.PolicyAnyone {
		t.Fatalf("holdings after %d changes: %+v, %v; want the last one's (complete, anyone)", changes, cs, err)
	}
}

// preparedRuns reads, from SQLite's own list of a connection's prepared
// statements (sqlite_stmt), how many statements of q db holds and how many
// times they ran in all (db: one connection, the store's writer or a
// one-reader store's reader).
func preparedRuns(t *testing.T, db *sql.DB, q string) (n, run int) {
	t.Helper()
	if err := db.QueryRowContext(context.Background(), `SELECT count(*), coalesce(sum(run), 0) FROM sqlite_stmt WHERE sql = ?`, q).Scan(&n, &run); err != nil {
		t.Fatal(err)
	}
	return n, run
}

// BenchmarkAnnounceChanged: an announcement whose holdings changed (a
// download's start or completion), 8 holdings, on a real SQLite file.
func BenchmarkAnnounceChanged(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "d.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d, tr := seed(b, s)
	hs := make([]directory.Holding, 8)
	for i := range hs {
		hs[i] = directory.Holding{Content: tr.ContentID, Policy: directory.Policy{Mode: directory.PolicyAnyone}}
		hs[i].Content[0] = byte(i)
	}
	a := &directory.AnnounceRecord{Device: d.ID, PublicIP: "198.51.100.7", Expires: time.Now().Add(time.Hour),
		Announcement: directory.Announcement{Addrs: []string{"10.0.0.1:7000"}, Holdings: hs}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		hs[0].Complete = i%2 == 0 // a change every time
		if err := s.Announce(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
