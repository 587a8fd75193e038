package share

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// Title is the one live handle of a content on this node (Node.Title): it
// owns the content's running download (its fetcher, progress and error),
// the readers that play it and who is told about changes. A reader's
// position is the download's priority: there is no other route.
type Title struct {
	n   *Node
	cid sealed.ContentID

	mu       sync.Mutex
	fetcher  *peer.Fetcher // while a download runs and has its manifest
	done     chan struct{} // non-nil while a download runs; closed when it ends
	prio     int           // chunk a reader asked for before the fetcher existed, -1 none
	progress peer.Progress // of the running download
	err      error         // how the last download failed; nil after a success
	subs     map[int]func()
	nsub     int
}

// Title returns the live handle of cid, the same one for every caller.
func (n *Node) Title(cid sealed.ContentID) *Title {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.titles[cid]
	if t == nil {
		t = &Title{n: n, cid: cid, prio: -1, subs: map[int]func(){}}
		n.titles[cid] = t
	}
	return t
}

// Lookup returns the live handle of cid if there is one, else nil (which
// reports no download).
func (n *Node) Lookup(cid sealed.ContentID) *Title {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.titles[cid]
}

// ContentID names the content.
func (t *Title) ContentID() sealed.ContentID { return t.cid }

// Downloading reports whether a download of the content runs now.
func (t *Title) Downloading() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done != nil
}

// originChunks are the chunks the running download is getting from the
// origin right now (nil when none runs), for the peer server's /have.
func (t *Title) originChunks() library.Bitmap {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	running, ft := t.done != nil, t.fetcher
	t.mu.Unlock()
	if !running || ft == nil {
		return nil
	}
	return ft.OriginChunks()
}

// Progress is the running download's last progress (zero when none runs).
func (t *Title) Progress() peer.Progress {
	if t == nil {
		return peer.Progress{}
	}
	t.mu.Lock()
	running, ft, last := t.done != nil, t.fetcher, t.progress
	t.mu.Unlock()
	switch {
	case !running:
		return peer.Progress{}
	case last.Total == 0 && ft != nil: // no events asked for: a snapshot
		return ft.Progress()
	}
	return last
}

// Err is why the last download failed (nil after a success, or before any).
func (t *Title) Err() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Subscribe registers fn to be called (on a fetcher's goroutine; it must
// not block) after the download starts, progresses or ends.
func (t *Title) Subscribe(fn func()) (stop func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nsub++
	k := t.nsub
	t.subs[k] = fn
	return func() {
		t.mu.Lock()
		delete(t.subs, k)
		t.mu.Unlock()
	}
}

func (t *Title) notify() {
	t.mu.Lock()
	fns := make([]func(), 0, len(t.subs))
	for _, fn := range t.subs {
		fns = append(fns, fn)
	}
	t.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// onEvent keeps the running download's progress (chunk events carry it
// only when they list the sources).
func (t *Title) onEvent(e peer.Event) {
	t.mu.Lock()
	if t.done != nil && (e.Kind == peer.EventProgress || (e.Kind == peer.EventChunk && len(e.Progress.Sources) > 0)) {
		t.progress = e.Progress
	}
	t.mu.Unlock()
	t.notify()
}

// prioritize asks the download for chunk i and those after it first; a
// download still getting its manifest keeps the wish for its fetcher.
func (t *Title) prioritize(i int) {
	t.mu.Lock()
	ft := t.fetcher
	if ft == nil && t.done != nil {
		t.prio = i
	}
	t.mu.Unlock()
	if ft != nil {
		ft.Prioritize(i)
	}
}

// setFetcher hands the running download its fetcher, with any wish a
// reader made before it existed.
func (t *Title) setFetcher(ft *peer.Fetcher) {
	t.mu.Lock()
	t.fetcher = ft
	prio := t.prio
	t.prio = -1
	t.mu.Unlock()
	if prio >= 0 {
		ft.Prioritize(prio)
	}
}

// Fetch downloads the content and returns when it is complete. With no
// peers it asks the directory for ranked suppliers (and the origin) and
// adds LAN neighbours; with peers (e.g. a neighbour) it uses those. It
// works without a license (superdistribution) and announces the holding
// when done. A Fetch while one runs waits for that one.
func (t *Title) Fetch(ctx context.Context, peers ...Neighbour) error {
	done, started := t.begin()
	if !started {
		select {
		case <-done:
			return t.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return t.run(ctx, done, peers)
}

// Start begins a download in the background, on the node's Serve context,
// unless one runs; Err tells how it ended and subscribers when.
func (t *Title) Start(peers ...Neighbour) error {
	ctx, err := t.n.serving()
	if err != nil {
		return err
	}
	done, started := t.begin()
	if !started {
		return nil
	}
	t.n.downloads.Add(1)
	go func() {
		defer t.n.downloads.Done()
		if err := t.run(ctx, done, peers); err != nil && ctx.Err() == nil {
			t.n.log.Warn("download failed", "content", t.cid, "err", err)
		}
	}()
	return nil
}

// begin marks a download running; started is false when one already was.
func (t *Title) begin() (done chan struct{}, started bool) {
	t.mu.Lock()
	if t.done != nil {
		done = t.done
		t.mu.Unlock()
		return done, false
	}
	t.done = make(chan struct{})
	t.err, t.progress, t.prio = nil, peer.Progress{}, -1
	done = t.done
	t.mu.Unlock()
	t.notify()
	return done, true
}

func (t *Title) run(ctx context.Context, done chan struct{}, peers []Neighbour) error {
	err := t.n.fetch(ctx, t, peers)
	t.mu.Lock()
	t.err, t.fetcher, t.done = err, nil, nil
	t.mu.Unlock()
	close(done)
	t.notify()
	return err
}

// Open returns a verified plaintext reader over the content that can start
// before the download completes: reads wait for missing chunks, and the
// chunk a reader is at becomes the download's priority. A title played the
// moment its download starts has no manifest here yet: Open gets it (from
// the directory) rather than fail.
func (t *Title) Open(ctx context.Context) (*sealed.Reader, error) {
	n, cid := t.n, t.cid
	key, err := n.ContentKey(ctx, cid)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	m, err := n.lib.Manifest(ctx, cid)
	if err != nil {
		if m, err = n.manifest(ctx, cid, nil); err != nil {
			return nil, fmt.Errorf("opening %s: %w", cid, err)
		}
		if err := n.lib.AddManifest(ctx, m); err != nil {
			return nil, fmt.Errorf("opening %s: %w", cid, err)
		}
	}
	return sealed.OpenSource(ctx, &steering{ChunkSource: n.lib.Source(cid), t: t, last: -1}, m, key)
}

// steering is the library's waiting chunk source for one reader; each new
// chunk the reader reaches is the download's priority from then on.
type steering struct {
	sealed.ChunkSource
	t    *Title
	mu   sync.Mutex
	last int
}

// HashesVerified passes on the library's promise (see library.Source).
func (s *steering) HashesVerified() bool {
	v, ok := s.ChunkSource.(interface{ HashesVerified() bool })
	return ok && v.HashesVerified()
}

func (s *steering) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.mu.Lock()
	moved := i != s.last
	s.last = i
	s.mu.Unlock()
	if moved {
		s.t.prioritize(i)
	}
	return s.ChunkSource.ReadChunk(ctx, i, dst)
}

// errNotServing: downloads in the background need a serving node.
var errNotServing = errors.New("the node is not serving yet")
