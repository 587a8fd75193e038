package share

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
)

// TestAnnouncementsInOrder: an announcement built before a policy change
// (the heartbeat's, slow on its way) and reaching the directory after the
// one SetPolicy sends does not leave the directory with the old policy
// until the next heartbeat (here an hour; 30 s by default): the node
// announces once more. Real directory on SQLite and TLS; the first
// announcement held on its way.
func TestAnnouncementsInOrder(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Ordered Song", 256<<10, 0)
	g := newAnnounceGate(t, true) // the first plain announcement sent while armed
	b, x := holderSeen(t, d, title, g)

	g.hold.Store(true)
	b.announceSoon() // the heartbeat's announcement, policy "anyone", held
	select {
	case <-g.held:
	case <-time.After(20 * time.Second):
		t.Fatal("no heartbeat announcement")
	}
	if err := b.SetPolicy(ctx, "", directory.Policy{Mode: "nobody"}); err != nil {
		t.Fatal(err)
	}
	g.Release() // the held one reaches the directory after SetPolicy's
	<-g.answered
	// The directory ends with the new policy: at once, or after one more
	// announcement.
	waitUnlisted(t, x, b, title, "the announcement built before SetPolicy arrived after SetPolicy's, and nothing announced again")
}

// TestAnnouncementsInOrderAnsweredFirst: as TestAnnouncementsInOrder, but
// the announcement built before the policy change reaches the directory
// after SetPolicy's and its answer is read first (the directory applies
// and answers two requests of one device in an order the device cannot
// see: on a loaded machine a handler, or the goroutine reading its
// answer, waits its turn after the other's). The node then took the
// newer answer for the last word and did not announce again: the
// directory kept the old policy until the next heartbeat. In the 64 MiB
// flash crowd (5 s heartbeats) that was a lone downloader that had
// stopped sharing still listed as a complete holder: the crowd was
// refused its parts by the origin ("handed to the devices downloading
// it") and by the device itself (403) for up to 5 s, about 1 run in 20.
// Real directory on SQLite and TLS; the requests and answers held on
// their way.
func TestAnnouncementsInOrderAnsweredFirst(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Reordered Song", 256<<10, 0)
	g := &orderGate{rt: newAnnounceGate(t, false).rt, held: make(chan struct{}), release: make(chan struct{}),
		answered: make(chan struct{}), answer: make(chan struct{})}
	t.Cleanup(g.releaseAll)
	b, x := holderSeen(t, d, title, g)

	g.armed.Store(true)
	b.announceSoon() // the heartbeat's announcement, policy "anyone", held before the directory
	select {
	case <-g.held:
	case <-time.After(20 * time.Second):
		t.Fatal("no heartbeat announcement")
	}
	set := make(chan error, 1)
	go func() { set <- b.SetPolicy(ctx, "", directory.Policy{Mode: "nobody"}) }()
	select {
	case <-g.answered: // SetPolicy's is recorded; its answer is held
	case <-time.After(20 * time.Second):
		t.Fatal("no announcement from SetPolicy")
	}
	landed := b.announceLanded.Load()
	close(g.release) // the heartbeat's reaches the directory after SetPolicy's, and is answered first
	for b.announceLanded.Load() == landed {
		time.Sleep(time.Millisecond)
	}
	close(g.answer)
	if err := <-set; err != nil {
		t.Fatal(err)
	}
	waitUnlisted(t, x, b, title, "the announcement built before SetPolicy was applied after SetPolicy's and answered first, and nothing announced again")
}

// orderGate, once armed, holds the first plain announcement before the
// directory until release, and the answer of the second until answer
// (answered says the second one was recorded). Later ones pass.
type orderGate struct {
	rt       http.RoundTripper
	armed    atomic.Bool
	n        atomic.Int32
	held     chan struct{}
	release  chan struct{}
	answered chan struct{}
	answer   chan struct{}
	done     sync.Once
}

func (g *orderGate) releaseAll() {
	g.done.Do(func() {
		for _, ch := range []chan struct{}{g.release, g.answer} {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	})
}

func (g *orderGate) RoundTrip(r *http.Request) (*http.Response, error) {
	plain := r.Method == http.MethodPost && r.URL.Path == "/v1/announce" && r.URL.RawQuery == ""
	if !plain || !g.armed.Load() {
		return g.rt.RoundTrip(r)
	}
	switch g.n.Add(1) {
	case 1:
		close(g.held)
		select {
		case <-g.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	case 2:
		resp, err := g.rt.RoundTrip(r)
		close(g.answered)
		select {
		case <-g.answer:
		case <-r.Context().Done():
		}
		return resp, err
	}
	return g.rt.RoundTrip(r)
}

// waitUnlisted waits up to 10 s for the directory to stop listing b to x
// (another account) as a supplier of title, and fails saying why not.
func waitUnlisted(t *testing.T, x, b *Node, title *directory.Title, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sups, err := x.dirClient().Suppliers(context.Background(), title.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		listed := false
		for _, s := range sups {
			listed = listed || s.Device == b.ID()
		}
		if !listed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the directory lists the device to another account 10 s after it stopped sharing: " + why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holderSeen starts bob's node, its directory requests through rt and its
// heartbeat an hour apart (the tests send its announcements), with title
// downloaded and shared, and carol's, once the directory lists bob to
// carol as a supplier of it.
func holderSeen(t *testing.T, d *testDirectory, title *directory.Title, rt http.RoundTripper) (b, x *Node) {
	t.Helper()
	ctx := context.Background()
	dev, c := d.enroll(t, "bob", rt)
	b = serveNode(t, c, dev, "bob", func(o *Options) { o.AnnounceInterval = time.Hour })
	if _, err := b.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	x = startNode(t, d, "carol", nil)
	waitSupplier(t, x, b, title)
	return b, x
}
