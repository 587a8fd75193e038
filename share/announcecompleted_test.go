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
// without a lookup: heartbeats and a completion) while hold is set, until
// release is closed; held says each one it holds.
type announceGate struct {
	rt      http.RoundTripper
	hold    atomic.Bool
	held    chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *announceGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.hold.Load() && r.Method == http.MethodPost && r.URL.Path == "/v1/announce" && r.URL.RawQuery == "" {
		select {
		case g.held <- struct{}{}:
		default:
		}
		select {
		case <-g.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
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
	gate := &announceGate{rt: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}},
		held: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(func() { gate.once.Do(func() { close(gate.release) }) })
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
	gate.once.Do(func() { close(gate.release) })
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
