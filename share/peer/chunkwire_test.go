package peer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// TestWireFrames: a request frame decodes to what was encoded, and what
// exceeds a bound is refused when encoding and when decoding.
func TestWireFrames(t *testing.T) {
	h := http.Header{HaveWaitHeader: {"500"}, HaveWantHeader: {"AAE"}}
	f, err := encodeRequest(7, http.MethodPost, "/kith/v1/relay", h, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	q, err := readRequest(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if q.typ != wireRequest || q.tag != 7 || q.method != http.MethodPost || q.path != "/kith/v1/relay" ||
		!reflect.DeepEqual(q.header, h) || string(q.body) != `{"a":1}` {
		t.Fatalf("decoded %+v", q)
	}
	long := http.Header{}
	for i := range maxWireHeaders + 1 {
		long.Set("X-"+strconv.Itoa(i), "v")
	}
	for name, err := range map[string]error{
		"method": func() error { _, err := encodeRequest(1, http.MethodPut, "/", nil, nil); return err }(),
		"path": func() error {
			_, err := encodeRequest(1, http.MethodGet, "/"+string(make([]byte, maxWirePath)), nil, nil)
			return err
		}(),
		"headers": func() error { _, err := encodeRequest(1, http.MethodGet, "/", long, nil); return err }(),
		"body": func() error {
			_, err := encodeRequest(1, http.MethodPost, "/", nil, make([]byte, maxWireReqBody+1))
			return err
		}(),
	} {
		if err == nil {
			t.Errorf("%s over the bounds encoded", name)
		}
	}
	// Decoding: a length over the bound is refused before it is read.
	var big [wireHead]byte
	binary.BigEndian.PutUint32(big[:], 1<<31)
	big[4] = wireRequest
	if _, err := readRequest(bytes.NewReader(big[:])); !errors.Is(err, errWireFrame) {
		t.Errorf("a 2 GiB request: %v, want a frame error", err)
	}
	big[4] = wireAnswer
	if _, err := readAnswerHead(bytes.NewReader(big[:])); !errors.Is(err, errWireFrame) {
		t.Errorf("a 2 GiB answer: %v, want a frame error", err)
	}
	head, ok := answerHead(3, 206, http.Header{"Kith-Complete": {"true"}}, 5)
	if !ok {
		t.Fatal("answer head")
	}
	a, err := readAnswerHead(bytes.NewReader(append(head, "hello"...)))
	if err != nil || a.tag != 3 || a.status != 206 || a.bodyLen != 5 || a.header.Get("Kith-Complete") != "true" {
		t.Fatalf("answer %+v, %v", a, err)
	}
}

// FuzzWireFrames: whatever bytes arrive, the decoders stay within their
// bounds, and a request that decodes encodes back to the same request.
//
//	go test -run '^$' -fuzz '^FuzzWireFrames$' -fuzztime 2m ./share/peer/
func FuzzWireFrames(f *testing.F) {
	rq, _ := encodeRequest(1, http.MethodGet, "/kith/v1/have/x", http.Header{HaveWaitHeader: {"10"}}, nil)
	f.Add(rq)
	cancel := make([]byte, wireHead)
	binary.BigEndian.PutUint32(cancel, 5)
	cancel[4] = wireCancel
	f.Add(append(rq, cancel...))
	ah, _ := answerHead(9, 200, http.Header{"Content-Type": {"application/octet-stream"}}, 3)
	f.Add(append(ah, 1, 2, 3))
	// Both ways (WireProto2): requests, answers and cancels interleaved.
	mixed := append(append(append(append([]byte{}, rq...), ah...), 1, 2, 3), cancel...)
	f.Add(append(mixed, rq...))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			q, a, err := readBoth(br)
			if err != nil {
				break
			}
			if q != nil && (len(q.path) > maxWirePath || len(q.body) > maxWireReqBody || len(q.header) > maxWireHeaders) {
				t.Fatalf("request over the bounds both ways: %d path, %d body, %d headers", len(q.path), len(q.body), len(q.header))
			}
			if a != nil {
				if a.bodyLen < 0 || a.bodyLen > maxWireBody || a.status < 100 || a.status > 999 {
					t.Fatalf("answer over the bounds both ways: %+v", a)
				}
				if _, err := io.CopyN(io.Discard, br, a.bodyLen); err != nil {
					break
				}
			}
		}
		r := bytes.NewReader(b)
		for {
			q, err := readRequest(r)
			if err != nil {
				break
			}
			if q.typ == wireCancel {
				continue
			}
			if len(q.path) > maxWirePath || len(q.body) > maxWireReqBody || len(q.header) > maxWireHeaders {
				t.Fatalf("request over the bounds: %d path, %d body, %d headers", len(q.path), len(q.body), len(q.header))
			}
			again, err := encodeRequest(q.tag, q.method, q.path, q.header, q.body)
			if err != nil {
				t.Fatalf("a decoded request does not encode: %v", err)
			}
			q2, err := readRequest(bytes.NewReader(again))
			if err != nil || q2.method != q.method || q2.path != q.path || !bytes.Equal(q2.body, q.body) || !reflect.DeepEqual(q2.header, q.header) {
				t.Fatalf("round trip: %+v → %+v (%v)", q, q2, err)
			}
		}
		a, err := readAnswerHead(bytes.NewReader(b))
		if err == nil && (a.bodyLen < 0 || a.bodyLen > maxWireBody || a.status < 100 || a.status > 999) {
			t.Fatalf("answer over the bounds: %+v", a)
		}
	})
}

// wireServer is a hostile peer at an address that speaks the chunk wire:
// answer writes what it likes for each request frame.
func wireServer(t *testing.T, ident *identity.Identity, answer func(q *wireReq, w io.Writer)) string {
	t.Helper()
	cfg := ident.ServerTLS(nil)
	cfg.NextProtos = []string{WireProto}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					q, err := readRequest(br)
					if err != nil {
						return
					}
					if q.typ == wireRequest {
						answer(q, c)
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestWireHostileServer: a peer that breaks the wire's framing — an answer
// to a request never sent, a length over the bounds, a malformed header,
// a chunk of the wrong length — is ErrMisbehaving (the fetcher bans it),
// and one that stops mid-answer fails the request; none of them hangs.
func TestWireHostileServer(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 31)
	_, n := c.m.ChunkRange(0)
	good := func(q *wireReq, w io.Writer) {
		head, _ := answerHead(q.tag, 200, nil, int(n))
		w.Write(append(head, c.chunk(0)...))
	}
	for _, tt := range []struct {
		name        string
		answer      func(q *wireReq, w io.Writer)
		misbehaving bool
	}{
		{"good", good, false},
		{"other tag", func(q *wireReq, w io.Writer) { q.tag++; good(q, w) }, true},
		{"huge", func(q *wireReq, w io.Writer) {
			head, _ := answerHead(q.tag, 200, nil, 0)
			binary.BigEndian.PutUint32(head, 1<<31)
			w.Write(head)
		}, true},
		{"bad header", func(q *wireReq, w io.Writer) {
			head, _ := answerHead(q.tag, 200, http.Header{"Bad Name": {"x"}}, 0)
			w.Write(head)
		}, true},
		{"control in header", func(q *wireReq, w io.Writer) {
			head, _ := answerHead(q.tag, 200, http.Header{"X": {"a\r\nb"}}, 0)
			w.Write(head)
		}, true},
		{"a byte more", func(q *wireReq, w io.Writer) {
			head, _ := answerHead(q.tag, 200, nil, int(n)+1)
			w.Write(append(append(head, c.chunk(0)...), 0))
		}, true},
		{"cut short", func(q *wireReq, w io.Writer) {
			head, _ := answerHead(q.tag, 200, nil, int(n))
			w.Write(append(head, c.chunk(0)[:1000]...))
			w.(net.Conn).Close()
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, me := newIdent(t), newIdent(t)
			addr := wireServer(t, srv, tt.answer)
			cl := client(t, me, srv.ID(), addr)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, err := cl.Chunk(ctx, c.m, 0, nil)
			switch {
			case tt.name == "good":
				if err != nil || !bytes.Equal(b, c.chunk(0)) {
					t.Fatalf("chunk: %v", err)
				}
			case err == nil:
				t.Fatal("a hostile answer accepted")
			case ctx.Err() != nil:
				t.Fatalf("hung: %v", err)
			case tt.misbehaving != errors.Is(err, ErrMisbehaving):
				t.Fatalf("error %v: misbehaving %v, want %v", err, errors.Is(err, ErrMisbehaving), tt.misbehaving)
			}
		})
	}
}

// wireDial opens a raw chunk-wire connection to a peer server as ident.
func wireDial(t *testing.T, ident *identity.Identity, peer identity.ID, addr string) *tls.Conn {
	t.Helper()
	cfg := ident.ClientTLS(peer)
	cfg.NextProtos = []string{WireProto}
	tc, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	if p := tc.ConnectionState().NegotiatedProtocol; p != WireProto {
		t.Fatalf("negotiated %q, want %s", p, WireProto)
	}
	return tc
}

// TestWireHostileClient: the server answers a wire request under the same
// rules as over HTTP (a device its owner's policy denies gets 403), and
// closes the connection of a client that sends a frame over the bounds,
// reuses a tag in flight, or has more than maxStreams requests in flight.
func TestWireHostileClient(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 32)
	a, bob := newIdent(t), newIdent(t)
	lib := holder(t, c)
	if err := lib.SetPolicy(context.Background(), "", library.Policy{Mode: "anyone", Deny: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Owner: "alice",
		Accounts: fakeAccounts{bob.ID(): "bob", a.ID(): "alice"}, MaxUploadsPerPeer: 64})
	cid := c.m.ContentID().String()
	closed := func(t *testing.T, tc *tls.Conn) {
		t.Helper()
		tc.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			if _, err := readAnswerHead(tc); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("connection still open after 30 s")
				}
				return
			}
		}
	}
	t.Run("denied", func(t *testing.T) {
		tc := wireDial(t, bob, a.ID(), addr)
		f, _ := encodeRequest(1, http.MethodGet, "/kith/v1/chunks/"+cid+"/0", nil, nil)
		tc.Write(f)
		ans, err := readAnswerHead(tc)
		if err != nil || ans.status != http.StatusForbidden || ans.tag != 1 {
			t.Fatalf("denied device: %+v, %v; want 403", ans, err)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		tc := wireDial(t, newIdent(t), a.ID(), addr)
		var f [wireHead]byte
		binary.BigEndian.PutUint32(f[:], maxWireRequest+1)
		f[4] = wireRequest
		tc.Write(f[:])
		closed(t, tc)
	})
	// Requests whose caller's lookup never ends stay in flight.
	_, slow := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: blockedAccounts{}})
	hello, _ := encodeRequest(0, http.MethodGet, "/kith/v1/offer", nil, nil)
	tagged := func(tag uint32) []byte {
		binary.BigEndian.PutUint32(hello[5:], tag)
		return append([]byte(nil), hello...)
	}
	t.Run("tag in use", func(t *testing.T) {
		tc := wireDial(t, newIdent(t), a.ID(), slow)
		tc.Write(tagged(5))
		tc.Write(tagged(5))
		closed(t, tc)
	})
	t.Run("too many", func(t *testing.T) {
		tc := wireDial(t, newIdent(t), a.ID(), slow)
		var all []byte
		for i := range maxStreams + 1 {
			all = append(all, tagged(uint32(i+1))...)
		}
		tc.Write(all)
		closed(t, tc)
	})
}

// blockedAccounts is a directory whose lookups end only with their
// context.
type blockedAccounts struct{}

func (blockedAccounts) Account(ctx context.Context, _ identity.ID) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

// TestWireCancel: a caller that gives up on a held /have poll ends it at
// the holder (its wait slot is free at once, not after the wait), and the
// connection carries on.
func TestWireCancel(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 33)
	a, me := newIdent(t), newIdent(t)
	lib := newLib(t)
	if err := lib.AddManifest(context.Background(), c.m); err != nil {
		t.Fatal(err)
	}
	s, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{}})
	cl := client(t, me, a.ID(), addr)
	want := library.NewBitmap(c.m.NumChunks())
	want.Set(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := cl.HaveWait(ctx, c.m.ContentID(), c.m.NumChunks(), want, MaxHaveWait); done <- err }()
	heldNow := func() int { s.mu.Lock(); defer s.mu.Unlock(); return s.heldTotal }
	deadline := time.Now().Add(30 * time.Second)
	for heldNow() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the poll was never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled poll: %v", err)
	}
	for heldNow() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a cancelled poll still held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := cl.Have(context.Background(), c.m.ContentID(), c.m.NumChunks()); err != nil {
		t.Fatalf("after the cancel: %v", err)
	}
	if n := cl.Handshakes(); n != 1 {
		t.Errorf("%d handshakes, want 1", n)
	}
}

// TestWireWithHTTPPeers: a client that offers the wire talks HTTP/2 to a
// server that does not (an older peer); the answer bound: an answer longer
// than maxWireBody is a 500 on the wire, a short range is served.
func TestWireWithHTTPPeers(t *testing.T) {
	c := makeContent(t, 9<<20, 256<<10, 34)
	a, me := newIdent(t), newIdent(t)
	s, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
	ctx := context.Background()
	cl := client(t, me, a.ID(), addr)
	get := func(cl *Client, rng string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://kith-peer/kith/v1/content/"+c.m.ContentID().String(), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		return cl.do(req)
	}
	if _, err := get(cl, ""); err == nil || !errors.As(err, new(*StatusError)) || err.(*StatusError).Status != 500 {
		t.Fatalf("a 9 MiB answer on the wire: %v, want 500", err)
	}
	resp, err := get(cl, "bytes=0-99")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != WireProto || resp.StatusCode != 206 || !bytes.Equal(b, c.file[:100]) {
		t.Fatalf("range over the wire: %s %d, %d bytes", resp.Proto, resp.StatusCode, len(b))
	}
	// An older peer: its server offers HTTP only.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.Handler(), TLSConfig: s.TLSConfig(), Protocols: serverProtocols()}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	old := client(t, me, a.ID(), ln.Addr().String())
	resp, err = old.get(ctx, "/kith/v1/chunks/"+c.m.ContentID().String()+"/0", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("to an HTTP peer: %s, want HTTP/2.0", resp.Proto)
	}
}

// TestWireClosedAsRequestWentOut: a peer closing a live connection as a
// request goes out on it (its idle close racing the request: the end that
// dialled closes after 90 s, and on WireProto2 the other end sends its
// requests on that connection too) costs the request nothing: it goes to
// a new connection, as net/http sends an idempotent request again when
// the server closed the reused connection. A connection that never
// answered is not tried again.
func TestWireClosedAsRequestWentOut(t *testing.T) {
	c := makeContent(t, 1<<20, 256<<10, 35)
	_, n := c.m.ChunkRange(0)
	var mu sync.Mutex
	asked := map[io.Writer]int{} // requests read, by connection
	srv, me := newIdent(t), newIdent(t)
	addr := wireServer(t, srv, func(q *wireReq, w io.Writer) {
		mu.Lock()
		asked[w]++
		first, second := len(asked) == 1, asked[w] == 2
		mu.Unlock()
		if first && second { // the first connection's second request: closed unanswered
			w.(net.Conn).Close()
			return
		}
		head, _ := answerHead(q.tag, 200, nil, int(n))
		w.Write(append(head, c.chunk(0)...))
	})
	cl := client(t, me, srv.ID(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		if b, err := cl.Chunk(ctx, c.m, 0, nil); err != nil || !bytes.Equal(b, c.chunk(0)) {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	mu.Lock()
	conns := len(asked)
	mu.Unlock()
	if conns != 2 {
		t.Fatalf("%d connections, want the closed one and a new one", conns)
	}

	// A peer that closes every connection unanswered: the request fails
	// (no connection was live), once.
	shut := wireServer(t, srv, func(_ *wireReq, w io.Writer) { w.(net.Conn).Close() })
	if _, err := client(t, me, srv.ID(), shut).Chunk(ctx, c.m, 0, nil); err == nil || ctx.Err() != nil {
		t.Fatalf("a peer that never answers: %v", err)
	}
}
