package peer

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWireStreamsFull: a client with maxStreams requests in flight sends
// the next one only once the server has ended one of them, so a peer that
// fills its streams keeps its connection. The server ends a request when
// its handler returns; the client used to free the request's stream when
// the answer's head arrived, and a chunk's head goes out before its
// handler returns (the handler counts the upload after the write): a
// request sent in between was one beyond the streams allowed, which the
// server answers by closing the connection, failing every request on it.
// An accepted connection's answer of up to corkSize goes out whole when
// its handler returns; a bigger chunk (a title sealed with 512 KiB chunks
// or more), or any answer from the dialling end of a WireProto2
// connection (not corked), goes out before. Here the first handler to
// write its 512 KiB chunk is held after the write (holdUpload) while
// maxStreams requests are in flight and one more is asked for.
func TestWireStreamsFull(t *testing.T) {
	c := makeContent(t, (maxStreams+1)*(512<<10), 512<<10, 36)
	srv, me := newIdent(t), newIdent(t)
	gate := make(chan struct{})
	var armed, held atomic.Int32
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	ln := countingLoopback(t)
	startServerOn(t, ServerOptions{Identity: srv, Library: holder(t, c), Accounts: everyoneEnrolled{},
		MaxUploads: 2 * maxStreams, MaxUploadsPerPeer: 2 * maxStreams,
		holdUpload: func() {
			if armed.Load() != 0 {
				held.Add(1)
				<-gate
			}
		}}, ln)
	cl := client(t, me, srv.ID(), ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if n := c.m.NumChunks(); n < maxStreams+1 {
		t.Fatalf("%d chunks, want %d", n, maxStreams+1)
	}
	errs := make(chan error, maxStreams+1)
	get := func(i int) {
		b, err := cl.Chunk(ctx, c.m, i, nil)
		if err == nil && !bytes.Equal(b, c.chunk(i)) {
			t.Errorf("chunk %d: wrong bytes", i)
		}
		errs <- err
	}
	// Once the connection is up, the requests go out together.
	get(0)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	armed.Store(1)
	for i := range maxStreams {
		go get(1 + i%(c.m.NumChunks()-1))
	}
	for held.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no handler reached holdUpload")
		}
		time.Sleep(time.Millisecond)
	}
	// The first answer's head has gone out and its handler has not
	// returned. One request more: it must wait for a stream, not go out
	// now. The pause gives a client that sends it early the time to.
	go get(0)
	time.Sleep(200 * time.Millisecond)
	release()
	for range maxStreams + 1 {
		if err := <-errs; err != nil {
			t.Errorf("a request with the streams full: %v", err)
		}
	}
	if n := ln.n.Load(); n != 1 {
		t.Errorf("%d connections, want 1 (the connection carries every request)", n)
	}
}
