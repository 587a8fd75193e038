package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestWireStalledBody: a peer that sends a chunk answer's head and part of
// its body, then nothing, does not hold the caller past the request's
// context (the fetcher's timeout, a steal's cancel): the caller gets its
// context's error at once, not when the connection's read deadline
// (30 s, 90 s) passes. The rest of the body, should it come, is skipped
// and the connection carries the next answer.
func TestWireStalledBody(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 35)
	_, n := c.m.ChunkRange(0)
	srv, me := newIdent(t), newIdent(t)
	first := true
	addr := wireServer(t, srv, func(q *wireReq, w io.Writer) {
		head, _ := answerHead(q.tag, 200, nil, int(n))
		if first {
			// Half the chunk, then silence until the next request.
			first = false
			w.Write(append(head, c.chunk(0)[:n/2]...))
			return
		}
		// The next request: the rest of the first answer, then this one.
		w.Write(c.chunk(0)[n/2:])
		w.Write(append(head, c.chunk(0)...))
	})
	cl := client(t, me, srv.ID(), addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cl.Chunk(ctx, c.m, 0, nil)
		done <- err
	}()
	// Cancel once the answer's head is in (the request is no longer in
	// the connection's streams: its body is being read).
	awaitWireBody(t, cl)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a stalled body given up: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a caller that gave up is still held by a stalled body after 20 s")
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	b, err := cl.Chunk(ctx2, c.m, 0, nil)
	if err != nil || !bytes.Equal(b, c.chunk(0)) {
		t.Fatalf("the next chunk on the connection: %v", err)
	}
	if h := cl.Handshakes(); h != 1 {
		t.Errorf("%d handshakes, want 1 (the connection carries on)", h)
	}
}

// TestWireLongAnswerNotCounted: an answer too long for the wire (a
// /content range over maxWireBody) is refused before its bytes are taken
// from the handler, so the upload ledger does not count bytes that never
// went out, and the server holds none of them.
func TestWireLongAnswerNotCounted(t *testing.T) {
	c := makeContent(t, 9<<20, 256<<10, 36)
	a, me := newIdent(t), newIdent(t)
	ups := make(chan Upload, 16)
	_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{},
		OnUpload: func(u Upload) { ups <- u }})
	cl := client(t, me, a.ID(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://kith-peer/kith/v1/content/"+c.m.ContentID().String(), nil)
	var se *StatusError
	if _, err := cl.do(req); !errors.As(err, &se) || se.Status != http.StatusInternalServerError {
		t.Fatalf("a 9 MiB answer on the wire: %v, want 500", err)
	}
	// The handler has returned (the answer is complete only then): any
	// upload it counted has been reported.
	select {
	case u := <-ups:
		t.Fatalf("an answer refused counted %d bytes uploaded", u.Bytes)
	default:
	}
}

// TestWireLargeChunk: a chunk of a content sealed with a chunk size over
// maxManifestBytes (sealed allows up to 16 MiB) comes over the wire like
// any other, not refused by the client as an answer over the bounds
// (ErrMisbehaving: an honest peer banned).
func TestWireLargeChunk(t *testing.T) {
	c := makeContent(t, 9<<20, 9<<20, 37)
	a, me := newIdent(t), newIdent(t)
	_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
	cl := client(t, me, a.ID(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := cl.Chunk(ctx, c.m, 0, nil)
	if err != nil || !bytes.Equal(b, c.chunk(0)) {
		t.Fatalf("a 9 MiB chunk over the wire: %v", err)
	}
}

// TestWireCloseWhileReading: Client.Close while an answer's body is on its
// way does not cut it (as over HTTP/2, where closing idle connections
// leaves one with a stream open): the caller gets its chunk, and the
// connection closes after it.
func TestWireCloseWhileReading(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 38)
	_, n := c.m.ChunkRange(0)
	rest := make(chan struct{})
	srv, me := newIdent(t), newIdent(t)
	addr := wireServer(t, srv, func(q *wireReq, w io.Writer) {
		head, _ := answerHead(q.tag, 200, nil, int(n))
		w.Write(append(head, c.chunk(0)[:n/2]...))
		<-rest
		w.Write(c.chunk(0)[n/2:])
	})
	cl := client(t, me, srv.ID(), addr)
	done := make(chan error, 1)
	go func() {
		b, err := cl.Chunk(context.Background(), c.m, 0, nil)
		if err == nil && !bytes.Equal(b, c.chunk(0)) {
			err = errors.New("wrong bytes")
		}
		done <- err
	}()
	wc := awaitWireBody(t, cl)
	cl.Close()
	close(rest)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the chunk being read when the client closed: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no chunk 30 s after its rest was sent")
	}
	select {
	case <-wc.dead:
	case <-time.After(30 * time.Second):
		t.Fatal("the connection is still open 30 s after the client closed and its last answer came")
	}
}

// awaitWireBody waits until cl's wire connection has handed its first
// answer to its caller (the request is no longer among its streams).
func awaitWireBody(t *testing.T, cl *Client) *wireConn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cl.mu.Lock()
		var wc *wireConn
		for w := range cl.wires {
			wc = w
		}
		cl.mu.Unlock()
		if wc != nil {
			wc.mu.Lock()
			reading := wc.next == 1 && len(wc.streams) == 0
			wc.mu.Unlock()
			if reading {
				return wc
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the answer's head never came")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWireShortAnswerFails: an answer whose handler wrote fewer bytes than
// the Content-Length it declared (a /content range over a chunk the
// holder lacks: the copy stops there) is a 500 on the wire, not a
// complete-looking answer of the bytes written — over HTTP the client
// sees the body end short of its length.
func TestWireShortAnswerFails(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 39)
	a, me := newIdent(t), newIdent(t)
	lib := newLib(t)
	if err := lib.AddManifest(context.Background(), c.m); err != nil {
		t.Fatal(err)
	}
	if err := lib.WriteChunk(c.m.ContentID(), 0, c.chunk(0)); err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{}})
	cl := client(t, me, a.ID(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	off, n := c.m.ChunkRange(1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://kith-peer/kith/v1/content/"+c.m.ContentID().String(), nil)
	req.Header.Set("Range", "bytes=0-"+strconv.FormatInt(off+n-1, 10)) // chunks 0 and 1
	resp, err := cl.do(req)
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil {
			t.Fatalf("a range over a missing chunk: %s, %d bytes read without an error (declared %d)", resp.Status, len(b), off+n)
		}
		return
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusInternalServerError {
		t.Fatalf("a range over a missing chunk: %v, want 500", err)
	}
}

// TestWireBodyAfterCancel: once its request's context has ended, a body
// gives its caller no more bytes, though the connection has them
// buffered already (the answer came in one write, so the read that found
// its head took part of its body too): the caller gets its context's
// error at once, and the connection skips the rest and carries on.
func TestWireBodyAfterCancel(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 39)
	_, n := c.m.ChunkRange(0)
	srv, me := newIdent(t), newIdent(t)
	addr := wireServer(t, srv, func(q *wireReq, w io.Writer) {
		head, _ := answerHead(q.tag, 200, nil, int(n))
		w.Write(append(head, c.chunk(0)...))
	})
	cl := client(t, me, srv.ID(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Chunk(ctx, c.m, 0, nil); err != nil { // opens the wire
		t.Fatal(err)
	}
	cl.mu.Lock()
	var wc *wireConn
	for w := range cl.wires {
		wc = w
	}
	cl.mu.Unlock()
	if wc == nil {
		t.Fatal("no wire connection")
	}
	gone, giveUp := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(gone, http.MethodGet, "https://kith-peer/kith/v1/chunks/"+c.m.ContentID().String()+"/0", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := wc.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if wc.br.Buffered() == 0 {
		t.Fatal("no body bytes buffered with the head: the test shows nothing")
	}
	giveUp()
	k, err := resp.Body.Read(make([]byte, 4096))
	if k != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("a body read after its cancel gave %d bytes, %v; want none and context.Canceled", k, err)
	}
	resp.Body.Close()
	b, err := cl.Chunk(ctx, c.m, 0, nil)
	if err != nil || !bytes.Equal(b, c.chunk(0)) {
		t.Fatalf("the next chunk on the connection: %v", err)
	}
	if h := cl.Handshakes(); h != 1 {
		t.Errorf("%d handshakes, want 1 (the connection carries on)", h)
	}
}
