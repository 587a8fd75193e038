package peer

import (
	"errors"
	"sync"
	"testing"
)

// TestRevokeDropsRunningSource: a source revoked while the download runs
// (its owner learnt the directory no longer vouches for it) is asked for
// nothing more: at most the requests already in flight deliver, the
// download completes from the other peer, and the revoked one is dropped
// as a source that refused us.
func TestRevokeDropsRunningSource(t *testing.T) {
	c := makeContent(t, 2<<20, 16<<10, 11)
	b := newIdent(t)
	var clients []*Client
	var srcs []Source
	for range 2 {
		a := newIdent(t)
		_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
		cl := client(t, b, a.ID(), addr)
		clients = append(clients, cl)
		srcs = append(srcs, cl.Source(c.m))
	}
	lost := clients[0]
	const perSource = 4
	var mu sync.Mutex
	revoked, after := false, 0
	lib, f, err := fetchInto(t, c, FetchOptions{Sources: srcs, PerSource: perSource, OnEvent: func(e Event) {
		if e.Kind != EventChunk || e.Source != lost.ID() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if revoked {
			after++
			return
		}
		lost.Revoke() // at its first chunk: the rest of the download runs after
		revoked = true
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, lib, c)
	mu.Lock()
	defer mu.Unlock()
	if !revoked {
		t.Fatal("the download got no chunk from the peer to revoke")
	}
	if after > perSource {
		t.Errorf("%d chunks from the revoked peer after Revoke, want at most the %d in flight", after, perSource)
	}
	var dropped bool
	for _, fl := range f.Faults() {
		if fl.Source == lost.ID() && !fl.Banned && errors.Is(fl.Err, ErrRevoked) {
			dropped = true
		}
	}
	if !dropped {
		t.Errorf("the revoked peer is not dropped for its revocation: faults %+v", f.Faults())
	}
}
