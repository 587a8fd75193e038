package relay

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestSplicerIsKernel: between two TCP connections the relay uses
// splice(2), with a pipe of at least the kernel's default size.
func TestSplicerIsKernel(t *testing.T) {
	a, b := tcpPair(t)
	sp := newSplicer(a, b)
	k, ok := sp.(*kernelSplicer)
	if !ok {
		t.Fatalf("splicer %T, want the kernel's", sp)
	}
	defer k.close()
	if k.max < 64<<10 {
		t.Fatalf("pipe of %d bytes", k.max)
	}
	if sp := newSplicer(a, &bufConn{Conn: b}); sp != nil {
		t.Fatal("a wrapped connection must be copied, not spliced")
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestSplicerGrowsForBulk: a direction whose steps fill the 64 KiB pipe
// gets a 1 MiB one (fewer steps per byte), every byte arrives in order,
// no step takes more than its limit, and closing gives the grown pipe
// back to the relay's count.
func TestSplicerGrowsForBulk(t *testing.T) {
	in, src := tcpPair(t)  // the sender writes to in; the relay reads src
	dst, out := tcpPair(t) // the relay writes dst; the receiver reads out
	k, ok := newSplicer(dst, src).(*kernelSplicer)
	if !ok {
		t.Fatal("not the kernel's splicer")
	}
	if k.max != pipeSize {
		t.Fatalf("a new pipe holds %d bytes, want %d", k.max, pipeSize)
	}
	// Sessions of earlier tests may still be closing: wait for their
	// grown pipes to be given back, so the count below is this test's.
	for deadline := time.Now().Add(30 * time.Second); bulkPipes.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d grown pipes left by earlier sessions after 30 s", bulkPipes.Load())
		}
	}
	before := bulkPipes.Load()
	want := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	go func() { in.Write(want); in.(*net.TCPConn).CloseWrite() }()
	gotc := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(out); gotc <- b }()
	biggest, limit := 0, 300<<10
	for {
		n, err := k.fill(limit)
		if n > limit {
			t.Fatalf("a step of %d bytes under a limit of %d", n, limit)
		}
		biggest = max(biggest, n)
		if n > 0 {
			if err := k.drain(n); err != nil {
				t.Fatal(err)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		limit = 2 << 20 // past the first steps, only the pipe bounds a step
	}
	dst.(*net.TCPConn).CloseWrite()
	if got := <-gotc; !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes, not the %d sent", len(got), len(want))
	}
	if k.max != bulkPipeSize || bulkPipes.Load() != before+1 {
		t.Fatalf("pipe of %d bytes after a bulk stream (%d grown), want %d", k.max, bulkPipes.Load()-before, bulkPipeSize)
	}
	t.Logf("largest step %d bytes", biggest)
	k.close()
	if bulkPipes.Load() != before {
		t.Fatalf("%d grown pipes after close, want %d", bulkPipes.Load(), before)
	}
}
