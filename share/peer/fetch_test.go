package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// fetchInto downloads c into a fresh library from sources and returns the
// library, the fetcher and Run's error.
func fetchInto(t testing.TB, c *content, o FetchOptions) (*library.Library, *Fetcher, error) {
	t.Helper()
	lib := newLib(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	o.Manifest, o.Sink, o.Logger = c.m, lib, quiet
	f, err := NewFetcher(o)
	if err != nil {
		t.Fatal(err)
	}
	return lib, f, f.Run(ctx)
}

// checkComplete asserts the library holds exactly c.
func checkComplete(t testing.TB, lib *library.Library, c *content) {
	t.Helper()
	cid := c.m.ContentID()
	st, err := lib.Status(context.Background(), cid)
	if err != nil || !st.Complete {
		t.Fatalf("status = %+v, %v", st, err)
	}
	got, err := os.ReadFile(filepath.Join(lib.Dir(), "content", cid.String()+".sealed"))
	if err != nil || !bytes.Equal(got, c.file) {
		t.Fatalf("stored file differs from the original (%v)", err)
	}
}

func TestFetchFromSeveralPeers(t *testing.T) {
	c := makeContent(t, 2<<20, 16<<10, 10)
	b := newIdent(t)
	var srcs []Source
	for k := 0; k < 3; k++ {
		a := newIdent(t)
		_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
		srcs = append(srcs, client(t, b, a.ID(), addr).Source(c.m))
	}
	var mu sync.Mutex
	var chunks, done int
	lib, f, err := fetchInto(t, c, FetchOptions{Sources: srcs, OnEvent: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case EventChunk:
			chunks++
		case EventDone:
			done++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, lib, c)
	if chunks != c.m.NumChunks() || done != 1 {
		t.Fatalf("events: %d chunks, %d done", chunks, done)
	}
	used := 0
	for _, s := range f.Progress().Sources {
		if s.Bytes > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("only %d of 3 sources used", used)
	}
	if len(f.Faults()) != 0 {
		t.Errorf("faults with honest peers: %+v", f.Faults())
	}
	es, _ := lib.Ledger(context.Background(), "", 10)
	var sum int64
	for _, e := range es {
		sum += e.Bytes
	}
	if sum < c.m.FileSize()-int64(len(c.m.HeaderBytes())) {
		t.Errorf("ledger counts %d bytes downloaded", sum)
	}
}

func TestFetchWithHostilePeers(t *testing.T) {
	if testing.Short() {
		t.Skip("hostile peers take a few seconds")
	}
	// 1 KiB chunks so "1 in 1000" happens within one file.
	c := makeContent(t, 1200<<10, 1024, 11)
	tests := []struct {
		name   string
		b      behaviour
		wrong  bool // presents a certificate for another ID
		banned bool // proven bad (vs merely dropped or slow)
	}{
		{"corrupts every chunk", corruptAll, false, true},
		{"corrupts 1 chunk in 1000", corruptRare, false, true},
		{"declares a shorter length", short, false, true},
		{"declares a longer length", oversized, false, true},
		{"sends more than the chunk without a length", chunkedMore, false, true},
		// Dropped, not banned: the address is not the device's, which
		// proves nothing about the device (issue 11 item 10).
		{"certificate for another ID", honest, true, false},
		{"truncates and hangs up", truncate, false, false},
		{"stalls at 1 byte/s", stall, false, false},
	}
	// Peers speak HTTP/2; one that speaks only HTTP/1.1 is still used.
	for _, proto := range []string{"h2", "http1"} {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				b, bad := newIdent(t), newIdent(t)
				served := bad
				if tt.wrong {
					served = newIdent(t)
				}
				badAddr := hostileServerWith(t, served, c, tt.b, proto == "h2")
				// The honest source must never time out, however loaded
				// the machine: with 0.5-1 s timeouts it did under load, was
				// dropped, and the download failed with "no usable source
				// left". A bad source is told by what it sends, so the
				// timeouts are long; only the stalling one is told by a
				// timeout, and then the honest source is slowed so the
				// download (1200 chunks, 20 ms each, 4 at a time: ≥ 6 s)
				// outlasts the stalled request's 4 s.
				good, opts := slow, FetchOptions{MinTimeout: 10 * time.Second, Timeout: 20 * time.Second,
					StealAfter: 100 * time.Millisecond, MaxFailures: 3}
				if tt.b == stall {
					good, opts.MinTimeout, opts.Timeout = slower, 4*time.Second, 8*time.Second
				}
				goodID := newIdent(t)
				goodAddr := hostileServerWith(t, goodID, c, good, proto == "h2")
				opts.Sources = []Source{client(t, b, bad.ID(), badAddr).Source(c.m), client(t, b, goodID.ID(), goodAddr).Source(c.m)}
				lib, f, err := fetchInto(t, c, opts)
				if err != nil {
					t.Fatalf("download failed: %v (faults %+v)", err, f.Faults())
				}
				checkComplete(t, lib, c)
				faults := f.Faults()
				if len(faults) == 0 {
					t.Fatalf("bad source not identified")
				}
				for _, fl := range faults {
					if fl.Source != bad.ID() {
						t.Errorf("fault blames %s, want the bad source %s: %v", fl.Source.Short(), bad.ID().Short(), fl.Err)
					}
					if fl.Banned != tt.banned {
						t.Errorf("banned = %v, want %v (%v)", fl.Banned, tt.banned, fl.Err)
					}
				}
			})
		}
	}
}

// TestNoFalseBans runs a fast download from honest peers (one slow, one
// refusing with 503s) 50 times: nobody may ever be banned.
func TestNoFalseBans(t *testing.T) {
	runs := 50
	if testing.Short() {
		runs = 5
	}
	c := makeContent(t, 256<<10, 4096, 12)
	b := newIdent(t)
	type srv struct {
		id   identity.ID
		addr string
	}
	var srvs []srv
	for k := 0; k < 3; k++ {
		a := newIdent(t)
		o := ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}}
		if k == 2 {
			o.MaxUploadsPerPeer = 1 // answers 503 often
		}
		_, addr := startServer(t, o)
		srvs = append(srvs, srv{a.ID(), addr})
	}
	srvs = append(srvs, srv{identity.ID("slow"), ""})
	slowID := newIdent(t)
	srvs[3] = srv{slowID.ID(), hostileServer(t, slowID, c, slow)}
	var srcs []Source // clients (and their connections) are reused across runs
	for _, s := range srvs {
		srcs = append(srcs, client(t, b, s.id, s.addr).Source(c.m))
	}
	for run := 0; run < runs; run++ {
		lib, f, err := fetchInto(t, c, FetchOptions{Sources: srcs, StealAfter: 20 * time.Millisecond})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for _, fl := range f.Faults() {
			if fl.Banned {
				t.Fatalf("run %d: false ban of %s: %v", run, fl.Source.Short(), fl.Err)
			}
		}
		checkComplete(t, lib, c)
	}
}

// memSource is an in-process source with optional partial holdings.
type memSource struct {
	id    identity.ID
	c     *content
	have  library.Bitmap // nil = complete
	orig  bool
	mu    sync.Mutex
	asked []int
}

func (s *memSource) ID() identity.ID { return s.id }
func (s *memSource) Origin() bool    { return s.orig }
func (s *memSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.mu.Lock()
	s.asked = append(s.asked, i)
	s.mu.Unlock()
	if s.have != nil && !s.have.Has(i) {
		return nil, &StatusError{Status: 404}
	}
	return append(dst[:0], s.c.chunk(i)...), nil
}

type haverSource struct{ *memSource }

func (s haverSource) Have(ctx context.Context) (HaveInfo, error) {
	return HaveInfo{Have: s.have, Fetching: library.NewBitmap(s.c.m.NumChunks())}, nil
}

func TestOriginOnlyForWhatPeersLack(t *testing.T) {
	c := makeContent(t, 64<<10, 1024, 13)
	n := c.m.NumChunks()
	half := library.NewBitmap(n)
	for i := 0; i < n; i += 2 {
		half.Set(i)
	}
	p := &memSource{id: "PEER", c: c, have: half}
	o := &memSource{id: "ORIGIN", c: c, orig: true}
	lib, _, err := fetchInto(t, c, FetchOptions{Sources: []Source{haverSource{p}, o}})
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, lib, c)
	for _, i := range o.asked {
		if half.Has(i) {
			t.Errorf("origin asked for chunk %d that the peer holds", i)
		}
	}
	if len(o.asked) > n/2+2 {
		t.Errorf("origin asked %d times for %d missing chunks", len(o.asked), n/2)
	}
}

func TestPrioritizeStartsAtPlayer(t *testing.T) {
	c := makeContent(t, 256<<10, 1024, 14)
	src := &memSource{id: "PEER", c: c}
	lib := newLib(t)
	ctx := context.Background()
	lib.AddManifest(ctx, c.m)
	var first []int
	var mu sync.Mutex
	f, _ := NewFetcher(FetchOptions{Manifest: c.m, Sink: lib, Sources: []Source{src}, PerSource: 1, Logger: quiet,
		OnEvent: func(e Event) {
			mu.Lock()
			if e.Kind == EventChunk && len(first) < 5 {
				first = append(first, e.Chunk)
			}
			mu.Unlock()
		}})
	f.Prioritize(100)
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(first) != "[100 101 102 103 104]" {
		t.Fatalf("first chunks = %v, want 100..104", first)
	}
}

func TestNoSourcesLeft(t *testing.T) {
	c := makeContent(t, 16<<10, 1024, 15)
	bad := &memSource{id: "EMPTY", c: c, have: library.NewBitmap(c.m.NumChunks())}
	_, _, err := fetchInto(t, c, FetchOptions{Sources: []Source{badSource{bad}}, MaxFailures: 2})
	if !errors.Is(err, ErrNoSources) {
		t.Fatalf("err = %v, want ErrNoSources", err)
	}
}

// badSource fails every request with a transport error.
type badSource struct{ *memSource }

func (b badSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	return nil, errors.New("connection reset")
}

// gatedSource is an origin whose chunk requests wait for release.
type gatedSource struct {
	*memSource
	release chan struct{}
	asked   chan int
}

func (s gatedSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.asked <- i
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.memSource.Chunk(ctx, i, dst)
}

// The chunks a download is getting from the origin live in its fetcher
// (OriginChunks), and a peer server advertises them in /have through
// ServerOptions.Fetching: while a request to the origin is out its chunk
// is set, and the bitmap is empty once the download is done.
func TestOriginChunksAdvertised(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 40_000, 4096, 1)
	n := c.m.NumChunks()
	origin := gatedSource{memSource: &memSource{id: newIdent(t).ID(), c: c, orig: true}, release: make(chan struct{}), asked: make(chan int, n)}
	lib := newLib(t)
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	f, err := NewFetcher(FetchOptions{Manifest: c.m, Sink: lib, Sources: []Source{origin}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newIdent(t), newIdent(t)
	_, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{},
		Fetching: func(cid sealed.ContentID) library.Bitmap { return f.OriginChunks() }})
	cl := client(t, b, a.ID(), addr)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	first := <-origin.asked
	if got := f.OriginChunks(); !got.Has(first) {
		t.Errorf("chunk %d asked of the origin, not in OriginChunks %08b", first, got)
	}
	hi, err := cl.Have(ctx, c.m.ContentID(), n)
	if err != nil || !hi.Fetching.Has(first) {
		t.Errorf("/have while chunk %d comes from the origin: %+v, %v", first, hi, err)
	}
	close(origin.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.OriginChunks(); got.Count(n) != 0 {
		t.Errorf("after the download, OriginChunks = %08b, want none", got)
	}
	hi, err = cl.Have(ctx, c.m.ContentID(), n)
	if err != nil || hi.Fetching.Count(n) != 0 || hi.Have.Count(n) != n {
		t.Errorf("/have after the download: %+v, %v", hi, err)
	}
}
