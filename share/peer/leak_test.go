package peer

import (
	"os"
	"testing"

	"github.com/kith-media/kith/internal/leakcheck"
)

// TestMain fails the package when its tests leave goroutines running
// (TestKillResume's child process too). Clients of finished tests keep
// idle keep-alive connections (net/http's persistConn loops, an HTTP/2
// connection's or a chunk-wire connection's read loop) until their
// transports are collected or the connections idle out: a pool,
// not a leak.
//
// The benchmarks' shared 1 GiB holder (bigHolder) is closed and removed
// after the run, before the check: left behind it kept its database's
// goroutines and 1.1 GB in the temp folder per run.
func TestMain(m *testing.M) {
	before := leakcheck.Snapshot()
	code := m.Run()
	if bigLib != nil {
		bigLib.Close()
		os.RemoveAll(bigDir)
	}
	os.Exit(leakcheck.After(before, code, "net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop", "net/http.(*http2ClientConn).readLoop", "peer.(*wireConn).readLoop"))
}
