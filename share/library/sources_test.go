package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// indexAtVersion makes dir/index.db as a library of schema version v left
// it: the embedded migrations up to v applied, as a device that ran that
// release has it.
func indexAtVersion(t *testing.T, dir string, v int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "index.db")+"?_journal_mode=WAL&_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	for _, name := range names {
		n, _ := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if n > v {
			break
		}
		body, _ := migrations.ReadFile(name)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestSourcesMigrateToFingerprints: a library of version 4 (files added
// with the SHA-256 of all their bytes) opens at version 5 with its added
// files kept — their SHA-256 and no fingerprint — and they stay
// candidates by size; files added since are found by size and
// fingerprint, fingerprinted ones first.
func TestSourcesMigrateToFingerprints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := indexAtVersion(t, dir, 4)
	old := sha256.Sum256([]byte("the old song"))
	mod := time.Unix(1_700_000_000, 123_456_789)
	for i, p := range []string{"/music/old.mp3", "/music/other-size.mp3"} {
		if _, err := db.Exec(`INSERT INTO sources(path, size, mtime_ns, sha256, title_id, added_at) VALUES (?, ?, ?, ?, ?, ?)`,
			p, 1000+i, mod.UnixNano(), old[:], fmt.Sprintf("t-old-%d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	l := openLib(t, dir)
	var v int
	if err := l.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v < 5 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	s, err := l.SourceByPath(ctx, "/music/old.mp3", 1000, mod)
	if err != nil || s.TitleID != "t-old-0" || s.SHA256 != old || s.Fingerprint != ([32]byte{}) || !s.ModTime.Equal(mod) {
		t.Fatalf("old source after the migration: %+v, %v", s, err)
	}
	fpA, fpB := [32]byte{1}, [32]byte{2}
	for _, s := range []Source{
		{Path: "/music/a.mp3", Size: 1000, ModTime: mod, Fingerprint: fpA, TitleID: "t-a"},
		{Path: "/music/b.mp3", Size: 1000, ModTime: mod, Fingerprint: fpB, TitleID: "t-b"},
		{Path: "/music/a-copy.mp3", Size: 1000, ModTime: mod, Fingerprint: fpA, TitleID: "t-a"},
		{Path: "/music/a-longer.mp3", Size: 1001, ModTime: mod, Fingerprint: fpA, TitleID: "t-a2"},
	} {
		if err := l.PutSource(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	cands, err := l.SourceCandidates(ctx, 1000, fpA)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cands {
		got = append(got, c.Path+"="+c.TitleID)
	}
	if len(got) == 3 {
		sort.Strings(got[:2]) // added in the same instant or not
	}
	if want := "/music/a-copy.mp3=t-a /music/a.mp3=t-a /music/old.mp3=t-old-0"; strings.Join(got, " ") != want {
		t.Errorf("candidates %v, want %s (fingerprinted first)", got, want)
	}
	if cands[0].Fingerprint != fpA || cands[2].SHA256 != old {
		t.Errorf("candidates %+v", cands)
	}
	// Re-adding an old path records its fingerprint and forgets the old hash.
	if err := l.PutSource(ctx, Source{Path: "/music/old.mp3", Size: 1000, ModTime: mod, Fingerprint: fpB, SHA256: old, TitleID: "t-old-0"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := l.SourceByPath(ctx, "/music/old.mp3", 1000, mod); s == nil || s.Fingerprint != fpB || s.SHA256 != ([32]byte{}) {
		t.Errorf("re-added old source %+v", s)
	}
	if cands, _ := l.SourceCandidates(ctx, 1000, [32]byte{9}); len(cands) != 0 {
		t.Errorf("an unknown fingerprint has candidates %+v", cands)
	}
}

// TestFingerprint: the size and both ends count, the middle of a large
// file does not (that is what the byte comparison is for); a file shorter
// than it claims fails.
func TestFingerprint(t *testing.T) {
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		return b
	}
	fp := func(b []byte, size int64) [32]byte {
		t.Helper()
		s, err := Fingerprint(bytes.NewReader(b), size)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	big := mk(3 * FingerprintEdge)
	base := fp(big, int64(len(big)))
	for _, at := range []int{0, FingerprintEdge - 1, len(big) - FingerprintEdge, len(big) - 1} {
		c := bytes.Clone(big)
		c[at] ^= 1
		if fp(c, int64(len(c))) == base {
			t.Errorf("a change at %d kept the fingerprint", at)
		}
	}
	c := bytes.Clone(big)
	c[FingerprintEdge+10] ^= 1
	if fp(c, int64(len(c))) != base {
		t.Error("a change in the middle changed the fingerprint (it reads only the ends)")
	}
	small := mk(100_000) // under 2 × FingerprintEdge: all of it counts
	sb := fp(small, int64(len(small)))
	small[50_000] ^= 1
	if fp(small, int64(len(small))) == sb {
		t.Error("a small file's middle did not count")
	}
	if fp(nil, 0) == fp([]byte{0}, 1) || fp(big[:FingerprintEdge], FingerprintEdge) == base {
		t.Error("the size did not count")
	}
	if _, err := Fingerprint(bytes.NewReader(big[:1000]), 5000); err == nil {
		t.Error("a file shorter than its size fingerprinted")
	}
	if _, err := Fingerprint(bytes.NewReader(big[:FingerprintEdge*2+10]), int64(len(big))); err == nil {
		t.Error("a large file shorter than its size fingerprinted")
	}
}
