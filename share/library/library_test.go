package library

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// sealedFile seals n random bytes with chunk size cs and returns the sealed
// bytes, the manifest, the key and the plaintext.
func sealedFile(t testing.TB, n, cs int) ([]byte, *sealed.Manifest, []byte, []byte) {
	t.Helper()
	plain := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), uint64(cs)))
	for i := range plain {
		plain[i] = byte(r.Uint32())
	}
	key, err := sealed.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := sealed.Seal(&buf, bytes.NewReader(plain), key, sealed.Options{ChunkSize: cs, MediaType: "audio/test"})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m, key, plain
}

func chunkOf(m *sealed.Manifest, file []byte, i int) []byte {
	off, n := m.ChunkRange(i)
	return append([]byte(nil), file[off:off+n]...)
}

// leavePartial opens a library in dir, writes m's first k chunks and
// closes it, as a download stopped there leaves it; it returns the
// download's .part file.
func leavePartial(t testing.TB, dir string, file []byte, m *sealed.Manifest, k int) string {
	t.Helper()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AddManifest(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for i := range k {
		if err := l.WriteChunk(m.ContentID(), i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "content", m.ContentID().String()+".part")
}

func openLib(t testing.TB, dir string) *Library {
	t.Helper()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestWriteChunksInAnyOrderSeals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	file, m, key, plain := sealedFile(t, 200_000, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	order := rand.Perm(m.NumChunks())
	for _, i := range order {
		if err := l.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	st, err := l.Status(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Complete || st.Have != m.NumChunks() {
		t.Fatalf("status = %+v, want complete", st)
	}
	got, err := os.ReadFile(filepath.Join(dir, "content", cid.String()+".sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, file) {
		t.Fatal("sealed file differs from the original")
	}
	if _, err := os.Stat(filepath.Join(dir, "content", cid.String()+".part")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf(".part still there: %v", err)
	}
	rd, err := sealed.OpenSource(ctx, l.Source(cid), m, key)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec, plain) {
		t.Fatal("decrypted plaintext differs")
	}
}

func TestWriteChunkRejects(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	file, m, _, _ := sealedFile(t, 50_000, 4096)
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	cid := m.ContentID()
	good := chunkOf(m, file, 1)
	flipped := append([]byte(nil), good...)
	flipped[10] ^= 1
	tests := []struct {
		name string
		i    int
		ct   []byte
	}{
		{"a flipped bit", 1, flipped},               // hash mismatch
		{"another chunk's bytes", 2, good},          // right length, wrong place
		{"truncated", 1, good[:len(good)-1]},        // short
		{"index out of range", m.NumChunks(), good}, // past the end
		{"negative index", -1, good},                // before the start
	}
	for _, tt := range tests {
		if err := l.WriteChunk(cid, tt.i, tt.ct); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if err := l.WriteChunk(cid, 1, flipped); !errors.Is(err, sealed.ErrChunkHash) {
		t.Errorf("flipped chunk: err = %v, want ErrChunkHash", err)
	}
	if st, _ := l.Status(ctx, cid); st.Have != 0 {
		t.Fatalf("have = %d after only bad writes", st.Have)
	}
	if _, err := l.ReadChunk(ctx, cid, 1, nil, false); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("ReadChunk of a rejected chunk: %v", err)
	}
}

func TestResumeAndRepairAfterReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file, m, _, _ := sealedFile(t, 100_000, 4096)
	cid := m.ContentID()
	part := leavePartial(t, dir, file, m, 10)
	// Damage chunk 3 on disk while we are not running.
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := m.ChunkRange(3)
	f.WriteAt([]byte{0xff, 0xee}, off+5)
	f.Close()

	l2 := openLib(t, dir)
	have, err := l2.Have(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if want := i != 3; have.Has(i) != want {
			t.Errorf("after reopen chunk %d present = %v, want %v", i, have.Has(i), want)
		}
	}
	for i := 3; i < m.NumChunks(); i++ {
		if err := l2.WriteChunk(cid, i, chunkOf(m, file, i)); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := l2.Status(ctx, cid); !st.Complete {
		t.Fatalf("not complete after repair: %+v", st)
	}
}

func TestVerifyDropsDamagedChunksOfSealedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	file, m, _, _ := sealedFile(t, 60_000, 4096)
	cid := m.ContentID()
	if err := l.Import(ctx, m, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "content", cid.String()+".sealed")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := m.ChunkRange(5)
	f.WriteAt([]byte{1, 2, 3}, off)
	f.Close()
	bad, err := l.Verify(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bad) != "[5]" {
		t.Fatalf("bad = %v, want [5]", bad)
	}
	if st, _ := l.Status(ctx, cid); st.Complete || st.Have != m.NumChunks()-1 {
		t.Fatalf("status after damage = %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "content", cid.String()+".part")); err != nil {
		t.Fatalf("damaged file not reopened as .part: %v", err)
	}
	if err := l.WriteChunk(cid, 5, chunkOf(m, file, 5)); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Status(ctx, cid); !st.Complete {
		t.Fatalf("not complete after repair: %+v", st)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, file) {
		t.Fatal("repaired file differs")
	}
}

func TestServingVerifiesOwnChunks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	file, m, _, _ := sealedFile(t, 30_000, 4096)
	cid := m.ContentID()
	if err := l.Import(ctx, m, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, "content", cid.String()+".sealed"), os.O_RDWR, 0)
	off, _ := m.ChunkRange(2)
	f.WriteAt([]byte{9}, off+1)
	f.Close()
	if _, err := l.ReadChunk(ctx, cid, 2, nil, true); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("verified read of a damaged chunk: %v, want ErrNotPresent", err)
	}
	if have, _ := l.Have(ctx, cid); have.Has(2) {
		t.Fatal("damaged chunk still marked present")
	}
}

func TestSourceWaitsForChunk(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	file, m, _, _ := sealedFile(t, 20_000, 4096)
	cid := m.ContentID()
	if err := l.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	src := l.Source(cid)
	got := make(chan error, 1)
	go func() {
		b, err := src.ReadChunk(ctx, 2, nil)
		if err == nil && !bytes.Equal(b, chunkOf(m, file, 2)) {
			err = errors.New("wrong bytes")
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("ReadChunk of a missing chunk returned at once: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := l.WriteChunk(cid, 2, chunkOf(m, file, 2)); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := src.ReadChunk(cctx, 3, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadChunk of a missing chunk: %v, want deadline", err)
	}
}

func TestPositionsPoliciesLicensesLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLib(t, dir)
	if got := l.Position("t1"); got != 0 {
		t.Fatalf("position of unknown title = %v", got)
	}
	l.SavePosition("t1", 90*time.Second+250*time.Millisecond)
	if got := l.Position("t1"); got != 90*time.Second+250*time.Millisecond {
		t.Fatalf("position = %v", got)
	}
	if p, _ := l.Policy(ctx, "t1"); p.Mode != "anyone" {
		t.Fatalf("default policy = %+v", p)
	}
	l.SetPolicy(ctx, "", Policy{Mode: "household"})
	l.SetPolicy(ctx, "t2", Policy{Mode: "list", Allow: []string{"bob"}})
	for _, tt := range []struct{ title, want string }{
		{"t1", "household"}, // falls back to the library default
		{"t2", "list"},      // its own
	} {
		if p, _ := l.Policy(ctx, tt.title); p.Mode != tt.want {
			t.Errorf("policy of %s = %+v, want %s", tt.title, p, tt.want)
		}
	}
	var cid sealed.ContentID
	cid[0] = 7
	if _, err := l.License(ctx, cid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing license: %v", err)
	}
	l.PutLicense(ctx, cid, []byte("lic"))
	if b, _ := l.License(ctx, cid); string(b) != "lic" {
		t.Fatalf("license = %q", b)
	}
	l.Record(ctx, "PEER", cid, Up, 100)
	l.Record(ctx, "PEER", cid, Up, 50)
	l.Record(ctx, "OTHER", cid, Down, 7)
	es, err := l.Ledger(ctx, "PEER", 10)
	if err != nil || len(es) != 1 || es[0].Bytes != 150 || es[0].Requests != 2 {
		t.Fatalf("ledger = %+v, %v", es, err)
	}
	l.Close()
	// Everything survives a reopen (migrations are not re-applied).
	l2 := openLib(t, dir)
	if got := l2.Position("t1"); got != 90*time.Second+250*time.Millisecond {
		t.Fatalf("position after reopen = %v", got)
	}
}

// fillTitles inserts n titles in one transaction (every tenth a video) plus
// "zz" through PutTitle, the library the query tests and benchmarks share.
func fillTitles(tb testing.TB, l *Library, n int) {
	tb.Helper()
	ctx := context.Background()
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		mt := "audio/mpeg"
		if i%10 == 0 {
			mt = "video/mp4"
		}
		_, err := tx.Exec(`INSERT INTO titles(id, name, artist, media_type, content_id, size, added_at) VALUES (?,?,?,?,?,?,?)`,
			fmt.Sprintf("t%05d", i), fmt.Sprintf("Song %05d", n-i), fmt.Sprintf("Artist %d", i%100), mt, "", int64(i), int64(i))
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	// PutTitle also works on top.
	if err := l.PutTitle(ctx, Title{ID: "zz", Name: "Zebra", Artist: "Artist 5", MediaType: "audio/ogg"}); err != nil {
		tb.Fatal(err)
	}
}

// TestTitlesQuery10k checks paging, sorting and search over 10,001 titles.
// How fast they run is BenchmarkTitlesQuery10k's business, not this test's:
// a wall-clock limit here fails on a busy machine and proves nothing.
func TestTitlesQuery10k(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	const n = 10000
	fillTitles(t, l, n)
	tests := []struct {
		name      string
		q         Query
		wantTotal int
		wantFirst string
	}{
		{"default: first page by name", Query{Limit: 20}, n + 1, "t09999"},
		{"by name descending", Query{Desc: true, Limit: 5}, n + 1, "zz"},
		{"second page by added", Query{Sort: SortAdded, Offset: 100, Limit: 10}, n + 1, "t00100"},
		{"search artist (5, 50..59)", Query{Search: "artist 5", Sort: SortSize}, 11*100 + 1, "zz"},
		{"media type prefix", Query{MediaType: "video/", Sort: SortSize, Desc: true}, n / 10, "t09990"},
		{"search with LIKE metacharacters", Query{Search: "%"}, 0, ""},
	}
	for _, tt := range tests {
		ts, total, err := l.Titles(ctx, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if total != tt.wantTotal {
			t.Errorf("%s: total = %d, want %d", tt.name, total, tt.wantTotal)
		}
		first := ""
		if len(ts) > 0 {
			first = ts[0].ID
		}
		if first != tt.wantFirst {
			t.Errorf("%s: first = %q, want %q", tt.name, first, tt.wantFirst)
		}
	}
	if _, _, err := l.Titles(ctx, Query{Sort: "bogus"}); err == nil {
		t.Error("unknown sort accepted")
	}
}

// TestSourceVouchesForHashes: the library checks every chunk on WriteChunk,
// so its ChunkSource tells sealed.Reader to skip the second hash.
func TestSourceVouchesForHashes(t *testing.T) {
	var src sealed.ChunkSource = (&Library{}).Source(sealed.ContentID{})
	hv, ok := src.(sealed.HashVerifier)
	if !ok || !hv.HashesVerified() {
		t.Fatal("library source does not vouch for its chunk hashes")
	}
}

// Resuming a title (its index update, its re-hash) does not hold the
// library's lock: while one resumed title waits for the index, another
// title already open is read and written as usual.
func TestResumeDoesNotStallOtherTitles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fileA, mA, _, _ := sealedFile(t, 100_000, 4096)
	fileB, mB, _, _ := sealedFile(t, 60_000, 4096)
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*sealed.Manifest{mA, mB} {
		if err := l.AddManifest(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WriteChunk(mA.ContentID(), 0, chunkOf(mA, fileA, 0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLib(t, dir)
	if err := l2.WriteChunk(mB.ContentID(), 0, chunkOf(mB, fileB, 0)); err != nil { // B open
		t.Fatal(err)
	}
	// Another process holds the index's write lock: resuming A waits for it.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "index.db")+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	resumed := make(chan error, 1)
	go func() { _, err := l2.Have(ctx, mA.ContentID()); resumed <- err }()
	waitFor(t, "A to start resuming", func() bool {
		l2.mu.Lock()
		defer l2.mu.Unlock()
		return l2.loading[mA.ContentID()] != nil
	})
	other := make(chan error, 1)
	go func() {
		_, err := l2.ReadChunk(ctx, mB.ContentID(), 0, nil, true)
		if err == nil {
			_, err = l2.Status(ctx, mB.ContentID())
		}
		other <- err
	}()
	select {
	case err := <-other:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("reading an open title waited for another title's resume")
	}
	select {
	case err := <-resumed:
		t.Fatalf("A resumed while the index was locked: %v", err)
	default:
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-resumed; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// RecordAll adds each delta to its ledger entry (bytes summed,
// one request each), in one transaction: on a failure nothing is recorded.
func TestRecordAll(t *testing.T) {
	ctx := context.Background()
	l := openLib(t, t.TempDir())
	var a, b sealed.ContentID
	a[0], b[0] = 1, 2
	if err := l.RecordAll(ctx, nil); err != nil {
		t.Fatalf("no deltas: %v", err)
	}
	l.Record(ctx, "PEER", a, Up, 10)
	if err := l.RecordAll(ctx, []LedgerDelta{
		{Peer: "PEER", ContentID: a, Direction: Up, Bytes: 100},
		{Peer: "PEER", ContentID: a, Direction: Down, Bytes: 5},
		{Peer: "PEER", ContentID: b, Direction: Up, Bytes: 7},
		{Peer: "OTHER", ContentID: a, Direction: Up, Bytes: 1},
		{Peer: "PEER", ContentID: a, Direction: Up, Bytes: 40},
	}); err != nil {
		t.Fatal(err)
	}
	es, err := l.Ledger(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]LedgerEntry{}
	for _, e := range es {
		got[string(e.Peer)+" "+e.ContentID.String()[:2]+" "+e.Direction] = e
	}
	for k, want := range map[string][2]int64{
		"PEER 01 up": {150, 3}, "PEER 01 down": {5, 1}, "PEER 02 up": {7, 1}, "OTHER 01 up": {1, 1},
	} {
		if e, ok := got[k]; !ok || e.Bytes != want[0] || e.Requests != want[1] {
			t.Errorf("%s = %+v, want %d bytes in %d requests", k, e, want[0], want[1])
		}
	}
	if len(got) != 4 {
		t.Errorf("ledger = %+v, want 4 entries", es)
	}
	// A failing batch (its context is cancelled) records none of its deltas.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.RecordAll(cctx, []LedgerDelta{{Peer: "PEER", ContentID: a, Direction: Up, Bytes: 1000}}); err == nil {
		t.Fatal("a cancelled batch succeeded")
	}
	if es, err = l.Ledger(ctx, "PEER", 10); err != nil || len(es) != 3 {
		t.Fatalf("after the failed batch: %+v, %v", es, err)
	}
	for _, e := range es {
		if e.Peer == "PEER" && e.ContentID == a && e.Direction == Up && (e.Bytes != 150 || e.Requests != 3) {
			t.Fatalf("the failed batch counted: %+v", e)
		}
	}
	// A batch that fails part-way (its second delta breaks the table's
	// CHECK) records none of it either: the first is rolled back.
	if err := l.RecordAll(ctx, []LedgerDelta{{Peer: "PEER", ContentID: a, Direction: Up, Bytes: 1000},
		{Peer: "PEER", ContentID: b, Direction: "sideways", Bytes: 1}}); err == nil {
		t.Fatal("a batch with a bad direction succeeded")
	}
	if es, err = l.Ledger(ctx, "PEER", 10); err != nil || len(es) != 3 {
		t.Fatalf("after the batch that failed part-way: %+v, %v", es, err)
	}
	for _, e := range es {
		if e.ContentID == a && e.Direction == Up && (e.Bytes != 150 || e.Requests != 3) {
			t.Fatalf("the first delta of a failed batch counted: %+v", e)
		}
	}
}

// TestStartWriteback: starting a range's writeback succeeds on an open
// file and reports an error (no panic, no other descriptor touched) on a
// closed one, which WriteChunk ignores.
func TestStartWriteback(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x.part"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	if err := startWriteback(f, 0, 1<<20); err != nil {
		t.Fatalf("writeback of an open file: %v", err)
	}
	f.Close()
	if err := startWriteback(f, 0, 1<<20); runtime.GOOS == "linux" && err == nil {
		t.Fatal("writeback of a closed file: no error")
	}
}
