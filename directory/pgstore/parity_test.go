package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kith-media/kith/directory/sqlitestore"
)

// schema is a dialect-neutral description of a database's schema: per
// table, its columns ("name class null|notnull") and its keys and indexes
// ("pk(cols)", "unique(cols)", "index name(cols) [partial]", "fk col->table.col").
type schema map[string][]string

// class maps a column type to what the rules care about.
func class(typ string) string {
	switch strings.ToLower(typ) {
	case "integer", "bigint", "boolean":
		return "int" // SQLite's 0/1 flags are PostgreSQL booleans
	case "text", "jsonb":
		return "text" // JSON lists: checked TEXT in SQLite, JSONB here
	case "blob", "bytea":
		return "bytes"
	}
	return "?" + typ
}

func sqliteSchema(t *testing.T, path string) schema {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	strs := func(q string, args ...any) [][]string {
		t.Helper()
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			v := make([]sql.NullString, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			if err := rows.Scan(p...); err != nil {
				t.Fatal(err)
			}
			r := make([]string, len(cols))
			for i := range v {
				r[i] = v[i].String
			}
			out = append(out, r)
		}
		return out
	}
	s := schema{}
	for _, tr := range strs(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'`) {
		tb := tr[0]
		var pk []string
		for _, c := range strs(`SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY pk, cid`, tb) {
			null := "null"
			if c[2] == "1" || c[3] != "0" {
				null = "notnull"
			}
			s[tb] = append(s[tb], fmt.Sprintf("%s %s %s", c[0], class(c[1]), null))
			if c[3] != "0" {
				pk = append(pk, c[0])
			}
		}
		s[tb] = append(s[tb], "pk("+strings.Join(pk, ",")+")")
		for _, ix := range strs(`SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, tb) {
			var cols []string
			for _, c := range strs(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, ix[0]) {
				cols = append(cols, c[0])
			}
			s[tb] = append(s[tb], indexLine(ix[0], ix[1] == "1", ix[2] == "pk", ix[2] == "c", ix[3] == "1", cols))
		}
		for _, fk := range strs(`SELECT "from", "table", "to" FROM pragma_foreign_key_list(?)`, tb) {
			s[tb] = append(s[tb], fmt.Sprintf("fk %s->%s.%s", fk[0], fk[1], fk[2]))
		}
	}
	return s
}

// indexLine describes an index: named ones (CREATE INDEX) by name,
// constraint ones (UNIQUE, PRIMARY KEY) by columns only, as their names
// are the engine's.
func indexLine(name string, unique, primary, named, partial bool, cols []string) string {
	switch {
	case primary:
		return "" // described by pk(...)
	case !named:
		return "unique(" + strings.Join(cols, ",") + ")"
	}
	l := "index " + name + "(" + strings.Join(cols, ",") + ")"
	if unique {
		l = "unique " + l
	}
	if partial {
		l += " partial"
	}
	return l
}

func pgSchema(t *testing.T, s *Store) schema {
	ctx := context.Background()
	out := schema{}
	rows, err := s.pool.Query(ctx, `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, col, typ, nullable string
		if err := rows.Scan(&tb, &col, &typ, &nullable); err != nil {
			t.Fatal(err)
		}
		null := "null"
		if nullable == "NO" {
			null = "notnull"
		}
		out[tb] = append(out[tb], fmt.Sprintf("%s %s %s", col, class(typ), null))
	}
	rows.Close()
	// indexes: name, unique, primary, made by a constraint, partial, columns
	rows, err = s.pool.Query(ctx, `SELECT t.relname, i.relname, x.indisunique, x.indisprimary,
			EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid), x.indpred IS NOT NULL,
			array(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
				JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o)
		FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public' AND t.relname <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, name string
		var unique, primary, constraint, partial bool
		var cols []string
		if err := rows.Scan(&tb, &name, &unique, &primary, &constraint, &partial, &cols); err != nil {
			t.Fatal(err)
		}
		if primary {
			out[tb] = append(out[tb], "pk("+strings.Join(cols, ",")+")")
		}
		out[tb] = append(out[tb], indexLine(name, unique, primary, !constraint, partial, cols))
	}
	rows.Close()
	rows, err = s.pool.Query(ctx, `SELECT tc.table_name, kcu.column_name, ccu.table_name, ccu.column_name
		FROM information_schema.table_constraints tc
		JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name
		JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name
		WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, col, rt, rc string
		if err := rows.Scan(&tb, &col, &rt, &rc); err != nil {
			t.Fatal(err)
		}
		out[tb] = append(out[tb], fmt.Sprintf("fk %s->%s.%s", col, rt, rc))
	}
	rows.Close()
	return out
}

func (s schema) normalized() map[string]string {
	out := map[string]string{}
	for tb, lines := range s {
		lines = slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return l == "" })
		sort.Strings(lines)
		out[tb] = strings.Join(lines, "\n")
	}
	return out
}

// pgOnly are the tables only instances sharing a PostgreSQL database need
// (migration 6: the change feed and the replay rows).
var pgOnly = map[string]bool{"device_changes": true, "seen_requests": true}

// TestSchemaParity: the two dialects' migrations leave the same tables,
// columns (name, kind, NOT NULL), primary keys, unique constraints, named
// indexes (unique or not, partial or not) and foreign keys, and the same
// schema version. A migration added to one dialect only fails here.
func TestSchemaParity(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db")
	lite, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lv, _ := lite.SchemaVersion(ctx)
	lite.Close()
	pg := openTest(t, Options{})
	pv, _ := pg.SchemaVersion(ctx)
	if lv != pv || lv == 0 {
		t.Errorf("schema versions: SQLite %d, PostgreSQL %d", lv, pv)
	}
	want, got := sqliteSchema(t, path).normalized(), pgSchema(t, pg).normalized()
	for tb := range want {
		if got[tb] != want[tb] {
			t.Errorf("table %s:\nSQLite:\n%s\nPostgreSQL:\n%s", tb, want[tb], got[tb])
		}
	}
	for tb := range got {
		if pgOnly[tb] {
			continue
		}
		if _, ok := want[tb]; !ok {
			t.Errorf("table %s only in PostgreSQL", tb)
		}
	}
	if len(want) < 9 {
		t.Fatalf("only %d tables read from SQLite", len(want))
	}
	t.Logf("purchases:\n%s", got["purchases"])
}
