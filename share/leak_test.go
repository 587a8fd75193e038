package share

import (
	"testing"

	"github.com/kith-media/kith/internal/leakcheck"
)

// TestMain fails the package when its tests leave goroutines running. The
// directory and peer clients of finished nodes keep idle keep-alive
// connections (net/http's persistConn loops, an HTTP/2 connection's read
// loop, a chunk-wire connection's read loop) until their transports
// are collected or the connections idle out: a pool, not a leak.
func TestMain(m *testing.M) {
	leakcheck.Main(m, "net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop", "net/http.(*http2ClientConn).readLoop", "peer.(*wireConn).readLoop")
}
