package share

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/tags"
)

// logBuffer keeps a node's log for a test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns what was logged since the last take.
func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// TestAddSameBytes: adding the same bytes from another path gives the title
// added before, found by fingerprint and confirmed by comparing bytes —
// with the sealed copy, with the file it was added from once the sealed
// copy is removed, and, in a library from before fingerprints (schema 4,
// migrated when the node starts again), with the SHA-256 recorded then once
// both are gone. A file with the same fingerprint (size and both ends) but
// other bytes in the middle is a title of its own.
func TestAddSameBytes(t *testing.T) {
	ctx := context.Background()
	d := startPublishingDirectory(t, nil)
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := d.client(t, dev)
	if err := c.CreateAccount(ctx, "home", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnrollDevice(ctx, "home", "correct horse battery", "laptop"); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	var log logBuffer
	tune := func(o *Options) {
		o.DataDir = data
		o.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	music := t.TempDir()
	song := encodeMP3(t, music, "song.mp3", "Long Song", "Dedupe", 1, "20")
	raw, err := os.ReadFile(song)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 3*library.FingerprintEdge {
		t.Fatalf("the song is %d bytes: too short to have a middle the fingerprint skips", len(raw))
	}
	put := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(music, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The same size and ends, one byte changed in the middle (in the audio).
	other := bytes.Clone(raw)
	other[len(other)/2] ^= 0x55
	fingerprint := func(p string) [32]byte {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		fp, err := library.Fingerprint(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	add := func(n *Node, p string) *Added {
		t.Helper()
		a, err := n.AddFile(ctx, p, AddOptions{})
		if err != nil {
			t.Fatalf("adding %s: %v", p, err)
		}
		return a
	}
	var first, variant *Added
	t.Run("fingerprinted", func(t *testing.T) {
		n := serveNode(t, c, dev, "home", tune)
		first = add(n, song)
		if first.Existing {
			t.Fatal("the first add was existing")
		}
		log.take()
		if a := add(n, put("copy1.mp3", raw)); !a.Existing || a.Title.ID != first.Title.ID {
			t.Errorf("a copy: %+v", a)
		}
		if l := log.take(); !strings.Contains(l, `by="sealed copy"`) {
			t.Errorf("the copy was not compared with the sealed copy:\n%s", l)
		}
		p := put("other.mp3", other)
		if fingerprint(p) != fingerprint(song) {
			t.Fatal("the variant's fingerprint differs: the test does not reach the comparison")
		}
		variant = add(n, p)
		if variant.Existing || variant.Title.ID == first.Title.ID || variant.Title.ContentID == first.Title.ContentID {
			t.Errorf("the same fingerprint with other bytes gave %+v", variant)
		}
		if l := log.take(); strings.Contains(l, "the same bytes as a file added before") {
			t.Errorf("the variant was taken for a file added before:\n%s", l)
		}
		if got := readAll(t, n, &variant.Title); !bytes.Equal(got, other) {
			t.Error("the variant's title holds other bytes")
		}
		// Without the sealed copy, the file it was added from (unchanged).
		if err := n.RemoveFromDevice(ctx, first.Title.ContentID); err != nil {
			t.Fatal(err)
		}
		if a := add(n, put("copy2.mp3", raw)); !a.Existing || a.Title.ID != first.Title.ID {
			t.Errorf("a copy after the sealed copy was removed: %+v", a)
		}
		if l := log.take(); !strings.Contains(l, `by="its file"`) {
			t.Errorf("the copy was not compared with the file added before:\n%s", l)
		}
	})

	// The library as schema 4 left it: every file added with the SHA-256
	// of its bytes and no fingerprint.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "index.db")+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT path, size, mtime_ns, title_id, added_at FROM sources ORDER BY added_at, path`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		path        string
		size, mtime int64
		title       string
		added       int64
		sum         [32]byte
	}
	var old []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.path, &r.size, &r.mtime, &r.title, &r.added); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(r.path)
		if err != nil {
			t.Fatal(err)
		}
		r.sum = sha256.Sum256(b)
		old = append(old, r)
	}
	rows.Close()
	if len(old) != 4 {
		t.Fatalf("%d sources recorded, want 4 (song, copy1, other, copy2)", len(old))
	}
	for _, q := range []string{`DROP TABLE sources`, `CREATE TABLE sources (path TEXT PRIMARY KEY, size INTEGER NOT NULL,
		mtime_ns INTEGER NOT NULL, sha256 BLOB NOT NULL, title_id TEXT NOT NULL, added_at INTEGER NOT NULL)`,
		`CREATE INDEX sources_sha256 ON sources(sha256)`,
		`ALTER TABLE titles DROP COLUMN width`, `ALTER TABLE titles DROP COLUMN height`, // added by 0006
		`DROP TABLE hand_neighbours`, // added by 0007
		`PRAGMA user_version = 4`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, r := range old {
		if _, err := db.Exec(`INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)`, r.path, r.size, r.mtime, r.sum[:], r.title, r.added); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	n := serveNode(t, c, dev, "home", tune) // migrates the index to fingerprints
	// The variant's sealed copy is here: a copy of it is compared with it.
	if a := add(n, put("other-copy.mp3", other)); !a.Existing || a.Title.ID != variant.Title.ID {
		t.Errorf("a copy of the variant in the migrated library: %+v", a)
	}
	if l := log.take(); !strings.Contains(l, `by="sealed copy"`) {
		t.Errorf("the variant's copy was not compared with its sealed copy:\n%s", l)
	}
	// The song's sealed copy was removed and its files moved away: only its
	// old SHA-256 is left to tell.
	moved := t.TempDir()
	for _, name := range []string{"song.mp3", "copy1.mp3", "copy2.mp3"} {
		if err := os.Rename(filepath.Join(music, name), filepath.Join(moved, name)); err != nil {
			t.Fatal(err)
		}
	}
	if a := add(n, filepath.Join(moved, "song.mp3")); !a.Existing || a.Title.ID != first.Title.ID {
		t.Errorf("the moved song in the migrated library: %+v", a)
	}
	if l := log.take(); !strings.Contains(l, `by=sha-256`) {
		t.Errorf("the moved song was not matched by its old SHA-256:\n%s", l)
	}
	// Adding it again from there is now a path hit.
	if a := add(n, filepath.Join(moved, "song.mp3")); !a.Existing || a.Title.ID != first.Title.ID {
		t.Errorf("the moved song again: %+v", a)
	}
}

// TestAddCountsFramesWhileSealing: an MP3 without a frame count (lame -t)
// gets the duration tags.Read's own frame count gives, counted from the
// bytes the sealer read (tags.Options.DeferScan), not from a read of its own.
func TestAddCountsFramesWhileSealing(t *testing.T) {
	ctx := context.Background()
	d := startPublishingDirectory(t, nil)
	n := startNode(t, d, "home", nil)
	dir := t.TempDir()
	wav, mp3 := filepath.Join(dir, "t.wav"), filepath.Join(dir, "no-xing.mp3")
	for _, c := range [][]string{
		{"sox", "-q", "-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", "7", "sine", "440"},
		{"lame", "--quiet", "-t", "-V", "2", wav, mp3},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	want, err := tags.Read(ctx, mp3, tags.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if deferred, _ := tags.Read(ctx, mp3, tags.Options{DeferScan: true}); deferred == nil || deferred.Scan == nil {
		t.Fatal("the MP3 has a frame count: the test does not reach the deferred scan")
	}
	a, err := n.AddFile(ctx, mp3, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Title.DurationMS != want.Duration.Milliseconds() || a.Title.DurationMS < 6900 || a.Title.DurationMS > 7100 {
		t.Errorf("added with %d ms; tags.Read counts %v", a.Title.DurationMS, want.Duration)
	}
}
