package relay

import (
	"net"
	"testing"
)

// pipeStep bounds one splice step (a session pipe's size).
const pipeStep = pipeSize

// TestSplicerIsKernel: between two TCP connections the relay uses
// splice(2), with a pipe of at least the kernel's default size.
func TestSplicerIsKernel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
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
