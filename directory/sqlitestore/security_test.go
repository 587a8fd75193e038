package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// v1Holding is one holdings row as schema version 1 stored it.
type v1Holding struct {
	content sealed.ContentID
	dev     int64
	rec     string
}

// makeV1 builds a database at schema version 1 (testdata/schema_v1.sql, a
// frozen copy of migration 0001) holding alice's honest device (seq 1) and
// mallory's (seq 2), both announced until exp, and the given holdings rows
// written as version 1 wrote them.
func makeV1(t *testing.T, path string, exp time.Time, alice, mallory identity.ID, holdings []v1Holding) {
	t.Helper()
	ctx := context.Background()
	schema, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driverName, "file:"+path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`,
		string(schema),
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		`INSERT INTO accounts VALUES ('alice', 'h', 0), ('mallory', 'h', 0)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("building v1 database: %v", err)
		}
	}
	for i, d := range []struct {
		id      identity.ID
		account string
		priv    string
	}{{alice, "alice", "10.0.0.1"}, {mallory, "mallory", "fe80::1%z\x1f\x1ebob"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO devices (seq, id, account, name, sign_key, box_key, created) VALUES (?, ?, ?, 'd', x'00', x'00', 0)`,
			i+1, string(d.id), d.account); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO announcements VALUES (?, '192.0.2.1', ?, ?, '{}', 2, ?)`,
			i+1, "192.0.2.1:7000\n[fd00::1]:7000", d.priv, exp.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range holdings {
		if _, err := db.ExecContext(ctx, `INSERT INTO holdings VALUES (?, ?, ?, ?)`, h.content[:], h.dev, exp.UnixMilli(), h.rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecurityBadHoldingRowsSkipped: a version-1 database holding what a
// hostile announcement left behind (a private address with a zone full of
// separators, which shifted the record's fields, and a record cut short)
// must neither stop the directory's start (OnlineHoldings failing made
// `serve` exit) nor list a forged supplier; the honest holding survives the
// migration to real columns unchanged, and the bad rows are logged.
func TestSecurityBadHoldingRowsSkipped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db")
	now := time.Now()
	exp := now.Add(time.Hour)
	alice, mallory := newID(t), newID(t)
	c1, c2, c3 := sealed.ContentID{1}, sealed.ContentID{2}, sealed.ContentID{3}
	const us, rs = "\x1f", "\x1e"
	honest := strings.Join([]string{"1", string(alice), "alice", "192.0.2.1", "2", "192.0.2.1:7000" + rs + "[fd00::1]:7000", "10.0.0.1", "list", "bob" + rs + "carol", "dave"}, us)
	// mallory's private address carried separators: its rec has 12 fields,
	// and a decoder that cuts 9 times reads a policy that is not mallory's
	forged := strings.Join([]string{"1", string(mallory), "mallory", "192.0.2.1", "2", "192.0.2.1:7000", "fe80::1%z", rs + "bob", "anyone", "", ""}, us)
	short := strings.Join([]string{"1", string(mallory), "mallory", "192.0.2.1", "2", "x", "y"}, us)
	makeV1(t, path, exp, alice, mallory, []v1Holding{{c1, 1, honest}, {c2, 2, forged}, {c3, 2, short}})

	var logs bytes.Buffer
	s, err := Open(ctx, path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("opening the version-1 database: %v", err)
	}
	defer s.Close()
	var got []string
	err = s.OnlineHoldings(ctx, now, func(c sealed.ContentID, h *directory.Candidate) error {
		got = append(got, h.Account)
		if c != c1 || h.Device != alice || h.Account != "alice" || !h.Complete || h.PublicIP != "192.0.2.1" || h.Load != 2 ||
			strings.Join(h.Addrs, " ") != "192.0.2.1:7000 [fd00::1]:7000" || strings.Join(h.PrivateAddrs, " ") != "10.0.0.1" ||
			h.Policy.Mode != "list" || strings.Join(h.Policy.Allow, " ") != "bob carol" || strings.Join(h.Policy.Deny, " ") != "dave" {
			t.Errorf("holding of %x: %+v", c[:1], h)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("loading who is online failed on a bad row (the directory would not start): %v", err)
	}
	if len(got) != 1 {
		t.Errorf("online holdings of %v, want alice's only", got)
	}
	if !strings.Contains(logs.String(), "dropped") {
		t.Errorf("the bad rows were not logged:\n%s", logs.String())
	}
	if h, err := s.Holding(ctx, alice, c1); err != nil || h.Policy.Mode != "list" || !h.Complete {
		t.Errorf("alice's holding after migration: %+v, %v", h, err)
	}
	if v, _ := s.SchemaVersion(ctx); v < 2 {
		t.Errorf("schema version %d after open", v)
	}
}

func newID(t *testing.T) identity.ID {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id.ID()
}
