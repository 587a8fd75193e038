package share

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// announceGate holds the device's plain announcements (POST /v1/announce
// without a lookup: heartbeats and a completion) on their way to the
// directory until Release: each one sent while hold is set, or with once
// only the first of them (it clears hold; later ones pass). held says each
// one it holds; answered is closed when the first held one was answered.
type announceGate struct {
	rt       http.RoundTripper
	once     bool
	hold     atomic.Bool
	held     chan struct{}
	release  chan struct{}
	answered chan struct{}
	released sync.Once
	answer   sync.Once
}

func newAnnounceGate(t *testing.T, once bool) *announceGate {
	g := &announceGate{rt: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}},
		once: once, held: make(chan struct{}, 1), release: make(chan struct{}), answered: make(chan struct{})}
	t.Cleanup(g.Release)
	return g
}

// Release lets the held announcements (and all later ones) through.
func (g *announceGate) Release() { g.released.Do(func() { close(g.release) }) }

func (g *announceGate) RoundTrip(r *http.Request) (*http.Response, error) {
	plain := r.Method == http.MethodPost && r.URL.Path == "/v1/announce" && r.URL.RawQuery == ""
	if !plain || !(g.once && g.hold.CompareAndSwap(true, false) || !g.once && g.hold.Load()) {
		return g.rt.RoundTrip(r)
	}
	defer g.answer.Do(func() { close(g.answered) })
	select {
	case g.held <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return g.rt.RoundTrip(r)
}

// TestCompletedDownloadDoesNotWaitForTheDirectory: a serving node's Fetch
// returns once the title is whole and stored, while the directory has not
// yet answered the announcement of its completion (real directory and
// TLS; the device's announcements held back on their way); the heartbeat
// sends it, and the directory then lists the node as a complete holder.
func TestCompletedDownloadDoesNotWaitForTheDirectory(t *testing.T) {
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Quick Song", 256<<10, 0)
	a := startNode(t, d, "alice", nil)
	if _, err := a.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Fetch(ctx, title.ContentID); err != nil {
		t.Fatal(err)
	}
	gate := newAnnounceGate(t, false)
	dev, c := d.enroll(t, "bob", gate)
	b := serveNode(t, c, dev, "bob", func(o *Options) { o.AnnounceInterval = time.Hour })
	if _, err := b.Register(ctx, title.ID); err != nil {
		t.Fatal(err)
	}
	waitSupplier(t, b, a, title)
	gate.hold.Store(true)
	fetched := make(chan error, 1)
	go func() { fetched <- b.Fetch(ctx, title.ContentID) }()
	select {
	case err := <-fetched:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Fetch did not return while the directory had not answered the completion's announcement")
	}
	select { // the completion's announcement was sent (and is held)
	case <-gate.held:
	case <-time.After(20 * time.Second):
		t.Fatal("no announcement after the download completed")
	}
	gate.Release()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sups, err := a.dirClient().Suppliers(ctx, title.ContentID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sups {
			if s.Device == b.ID() && s.Complete {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the directory never listed the node as a complete holder")
}
