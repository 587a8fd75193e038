package share

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// A node announcing again soon (a download announces as it starts and as
// it ends) reads the machine's interfaces once; after ifaceAddrsFor it
// reads them again, so a changed network shows.
func TestAnnounceReadsInterfacesOnce(t *testing.T) {
	var reads atomic.Int32
	real := interfaceAddrs
	interfaceAddrs = func() ([]net.Addr, error) { reads.Add(1); return real() }
	t.Cleanup(func() { interfaceAddrs = real })
	expire := func() {
		ifaceAddrCache.Lock()
		ifaceAddrCache.at = time.Now().Add(-ifaceAddrsFor - time.Second)
		ifaceAddrCache.Unlock()
	}
	expire()

	ctx := context.Background()
	d := startDirectory(t)
	n := startNode(t, d, "alice", nil)
	start := reads.Load()
	for range 3 {
		if err := n.Announce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := reads.Load() - start; got > 1 {
		t.Fatalf("three announcements read the interfaces %d times; want at most 1", got)
	}
	expire()
	before := reads.Load()
	if err := n.Announce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := reads.Load() - before; got != 1 {
		t.Fatalf("an announcement after %v read the interfaces %d times; want 1", ifaceAddrsFor, got)
	}
}
