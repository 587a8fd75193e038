package peer

import (
	"crypto/tls"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestWireConnMemory: a chunk-wire connection end costs a few KiB of its
// own beyond crypto/tls's buffers (a read buffer for the frames' heads,
// its streams' table, channels): chunk bodies are read past the buffer,
// straight from TLS into the caller's buffer, so a bigger one only copies
// more of each body twice. Both ends of every both-ways connection have
// one. Measured on a real TLS connection over loopback.
func TestWireConnMemory(t *testing.T) {
	a, b := newIdent(t), newIdent(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done, end := make(chan error, 1), make(chan struct{})
	defer close(end)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		sc := tls.Server(c, a.ServerTLS(nil))
		done <- sc.Handshake()
		<-end
	}()
	cfg := b.ClientTLS(a.ID())
	tc, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	const n = 64
	keep := make([]*wireConn, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = newWireConn(tc, a.ID(), time.Minute)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 6<<10 {
		t.Errorf("a wire connection end allocates %d bytes of its own, want at most %d", per, 6<<10)
	} else {
		t.Logf("a wire connection end allocates %d bytes of its own", per)
	}
}
