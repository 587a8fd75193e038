package peer

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
)

// countedConn counts the reads of the socket under a corkConn.
type countedConn struct {
	net.Conn
	reads atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// tcpPair is a loopback TCP connection's two ends.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestReadAheadBytes: whatever the sizes of the writes and of the reads
// (TLS asks for the room left in its input buffer), the reader gets the
// stream's bytes in order and then io.EOF, and every read-ahead buffer is
// given back.
func TestReadAheadBytes(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		want := make([]byte, 3<<20+rng.IntN(1<<16))
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		w, r := tcpPair(t)
		before := aheadArena.inUse()
		wrng := rand.New(rand.NewPCG(seed, 2)) // the writer's own
		go func() {
			rest := want
			for len(rest) > 0 {
				n := min(len(rest), 1+wrng.IntN(2*readAhead))
				if _, err := w.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
			}
			w.(*net.TCPConn).CloseWrite()
		}()
		cc := &corkConn{Conn: r}
		var got []byte
		p := make([]byte, 40<<10)
		for {
			n, err := cc.Read(p[:1+rng.IntN(len(p))])
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: read %d bytes, not the %d written", seed, len(got), len(want))
		}
		if !eventually(func() bool { return aheadArena.inUse() == before }) {
			n := aheadArena.inUse()
			t.Fatalf("seed %d: %d read-ahead buffers in use after the stream, want %d", seed, n, before)
		}
	}
}

// TestReadAheadGathers: a stream already waiting in the socket is read in
// two reads of it (one of the reader's own size, then one read ahead), not
// one a record; a first read that comes up short, or an empty one, reads
// nothing ahead.
func TestReadAheadGathers(t *testing.T) {
	w, r := tcpPair(t)
	const record = 16 << 10
	want := bytes.Repeat([]byte("kith"), 64<<10/4) // four records, in the socket before the first read
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	w.(*net.TCPConn).CloseWrite()
	under := &countedConn{Conn: r}
	cc := &corkConn{Conn: under}
	got, err := io.ReadAll(readSized{cc, record})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	// One read of record bytes, one ahead for the other 48 KiB, one for EOF.
	if n := under.reads.Load(); n > 3 {
		t.Errorf("%d socket reads for %d bytes in records of %d, want at most 3", n, len(want), record)
	}

	// A short read: the next goes straight into the caller's buffer.
	w2, r2 := tcpPair(t)
	under2 := &countedConn{Conn: r2}
	cc2 := &corkConn{Conn: under2}
	w2.Write(make([]byte, 100))
	p := make([]byte, record)
	if n, err := cc2.Read(p); err != nil || n != 100 {
		t.Fatalf("read %d, %v; want 100 bytes", n, err)
	}
	if cc2.streaming || cc2.ahead != nil {
		t.Fatal("a short read started a read-ahead run")
	}
	// An empty read fills what it read into, trivially: it starts none either.
	if n, err := cc2.Read(p[:0]); n != 0 || err != nil || cc2.streaming {
		t.Fatalf("an empty read: %d, %v, streaming %v", n, err, cc2.streaming)
	}
}

// readSized reads its reader in calls of size bytes at most, as
// crypto/tls does.
type readSized struct {
	r    io.Reader
	size int
}

func (r readSized) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), r.size)]) }

// TestReadAheadClose: a buffer held between reads, and one a read is
// blocked on, goes back to the arena when the connection closes; the
// blocked read ends with the close's error.
func TestReadAheadClose(t *testing.T) {
	b := aheadArena.get()
	if b == nil {
		t.Skip("no arena on this system (hugeMap)")
	}
	aheadArena.put(b)
	before := aheadArena.inUse()
	inUse := func(want int) bool { return eventually(func() bool { return aheadArena.inUse() == want }) }

	w, r := tcpPair(t)
	cc := &corkConn{Conn: r}
	p := make([]byte, 16<<10)
	// Read until a read ahead holds bytes (the first full read starts the
	// run; a read that came up short ends it, and then read on).
	for i := 0; cc.ahead == nil; i++ {
		if i == 20 {
			t.Fatal("no read ahead in 20 reads of a stream 3 times their size")
		}
		w.Write(make([]byte, 3*len(p)))
		if _, err := io.ReadFull(cc, p); err != nil {
			t.Fatal(err)
		}
	}
	if !inUse(before + 1) {
		t.Fatalf("%d read-ahead buffers in use, want %d", aheadArena.inUse(), before+1)
	}
	cc.Close()
	if !inUse(before) {
		t.Fatalf("after Close, %d read-ahead buffers in use, want %d", aheadArena.inUse(), before)
	}

	// Blocked in a read ahead: nothing comes, the connection closes.
	w2, r2 := tcpPair(t)
	cc2 := &corkConn{Conn: r2}
	w2.Write(make([]byte, len(p)))
	if _, err := io.ReadFull(cc2, p); err != nil || !cc2.streaming {
		t.Fatalf("a full read: %v, streaming %v", err, cc2.streaming)
	}
	done := make(chan error, 1)
	go func() { _, err := cc2.Read(p); done <- err }()
	if !inUse(before + 1) {
		t.Fatal("the blocked read holds no read-ahead buffer")
	}
	cc2.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the blocked read ended with %v, want net.ErrClosed", err)
	}
	if !inUse(before) {
		t.Fatalf("after Close, %d read-ahead buffers in use, want %d", aheadArena.inUse(), before)
	}
}
