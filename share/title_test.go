package share

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// gatedSource serves a sealed file's chunks one request at a time, each
// held until the test releases it, and records the order asked.
type gatedSource struct {
	id    identity.ID
	m     *sealed.Manifest
	file  []byte
	gate  chan struct{}
	mu    sync.Mutex
	asked []int
}

func (s *gatedSource) ID() identity.ID { return s.id }

func (s *gatedSource) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.mu.Lock()
	s.asked = append(s.asked, i)
	s.mu.Unlock()
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	off, n := s.m.ChunkRange(i)
	return append(dst[:0], s.file[off:off+n]...), nil
}

func (s *gatedSource) order() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.asked...)
}

// readAsked is a chunk source that reports each chunk asked of it: when
// steering passes a read of chunk i on to it, the download was already
// told to put i first.
type readAsked struct {
	sealed.ChunkSource
	asked chan int
}

func (s readAsked) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	select {
	case s.asked <- i:
	default:
	}
	return s.ChunkSource.ReadChunk(ctx, i, dst)
}

// The handle is one per content; the chunk its reader moves to is the
// download's priority: a reader that seeks near the end of a title being
// fetched from the start gets that chunk next, not after the ones before.
func TestTitleReaderSteersItsDownload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plain := make([]byte, 32*4096)
	rand.NewChaCha8([32]byte{7}).Read(plain)
	key, err := sealed.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := sealed.Seal(&buf, bytes.NewReader(plain), key, sealed.Options{ChunkSize: 4096, MediaType: "audio/test"})
	if err != nil {
		t.Fatal(err)
	}
	lib, err := library.Open(t.TempDir(), library.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if err := lib.AddManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	n := &Node{lib: lib, log: quiet, titles: map[sealed.ContentID]*Title{}}
	title := n.Title(m.ContentID())
	if n.Title(m.ContentID()) != title || n.Lookup(m.ContentID()) != title {
		t.Fatal("two handles for one content")
	}
	src := &gatedSource{id: "GATED", m: m, file: buf.Bytes(), gate: make(chan struct{})}
	ft, err := peer.NewFetcher(peer.FetchOptions{Manifest: m, Sink: lib, Sources: []peer.Source{src}, PerSource: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 100)
	stop := title.Subscribe(func() { changed <- struct{}{} })
	defer stop()
	done, started := title.begin()
	if !started || !title.Downloading() {
		t.Fatal("begin did not mark the download running")
	}
	title.setFetcher(ft)
	ran := make(chan error, 1)
	go func() {
		err := ft.Run(ctx)
		title.mu.Lock()
		title.err, title.fetcher, title.done = err, nil, nil
		title.mu.Unlock()
		close(done)
		ran <- err
	}()
	// The fetcher asks for its first chunk from the start and waits.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (asked %v)", what, src.order())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("the first request", func() bool { return len(src.order()) == 1 })
	reads := readAsked{ChunkSource: lib.Source(m.ContentID()), asked: make(chan int, 8)}
	r, err := sealed.OpenSource(ctx, &steering{ChunkSource: reads, t: title, last: -1}, m, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const far = 28
	if _, err := r.Seek(far*4096, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 4096)
		_, err := io.ReadFull(r, b)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	// The reader has moved (and told the download) before any request is
	// released: released before, the fetcher could ask for chunks 1 and 2
	// while the reader's goroutine had yet to run, as on a loaded machine.
	select {
	case i := <-reads.asked:
		if i != far {
			t.Fatalf("the reader read chunk %d first, want %d", i, far)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reader never asked for its chunk")
	}
	// Release requests one by one until the far chunk is asked for: it
	// must come right after the request in flight when the reader moved.
	for i := 0; !slices.Contains(src.order(), far); i++ {
		if i >= 2 {
			t.Fatalf("the reader's chunk %d was not asked for next: asked %v", far, src.order())
		}
		src.gate <- struct{}{}
		waitFor("the next request", func() bool { return len(src.order()) >= i+2 })
	}
	src.gate <- struct{}{}
	if b := <-got; !bytes.Equal(b, plain[far*4096:(far+1)*4096]) {
		t.Fatal("the reader read the wrong plaintext")
	}
	close(src.gate) // the rest at once
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if title.Downloading() || title.Err() != nil {
		t.Fatalf("after the download: downloading %v, err %v", title.Downloading(), title.Err())
	}
	if len(changed) == 0 {
		t.Error("subscribers never told")
	}
}
