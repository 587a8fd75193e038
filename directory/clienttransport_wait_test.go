package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hookCtx runs hook the first time Done is asked for: in a request that
// finds every connection busy, that is the moment it waits for one.
type hookCtx struct {
	context.Context
	once sync.Once
	hook func()
}

func (c *hookCtx) Done() <-chan struct{} {
	c.once.Do(c.hook)
	return c.Context.Done()
}

// A request that gives up waiting for a busy connection (its context
// ended) at the moment that connection closed passes the turn on: the
// request waiting behind it opens the connection instead of waiting until
// its own context ends. The first waiter's select sees both its context
// and the turn ready and takes either, so the test repeats.
func TestConnTransportWaiterCancelPassesTurn(t *testing.T) {
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" { // half an answer, then nothing until the client goes
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	for round := 0; round < 16; round++ {
		tr := testConnTransport(1, time.Minute)
		held, err := http.NewRequest("GET", ts.URL+"/hold", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(held)
		if err != nil {
			t.Fatal(err)
		}
		// The first waiter: when it starts waiting, a second queues behind
		// it, then the first's context ends and the busy connection closes
		// (its turn goes to the first waiter).
		second := make(chan error, 1)
		ctx1, cancel1 := context.WithCancel(context.Background())
		hc := &hookCtx{Context: ctx1}
		hc.hook = func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // an incidental bound: a dial and a request
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/", nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && string(b) != "ok" {
						err = errors.New("answer " + string(b))
					}
				}
				second <- err
			}()
			waitFor(t, func() bool { return tr.waiting() == 2 }, "the second request to wait")
			cancel1()
			resp.Body.Close() // closes the busy connection
		}
		req1, _ := http.NewRequestWithContext(hc, "GET", ts.URL+"/", nil)
		if resp, err := tr.RoundTrip(req1); err == nil {
			resp.Body.Close()
		}
		if err := <-second; err != nil {
			t.Fatalf("round %d: the request waiting behind a cancelled one: %v (want it answered)", round, err)
		}
		tr.CloseIdleConnections()
	}
}

// waiting counts the requests waiting for a connection (for tests).
func (t *connTransport) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.hosts {
		n += len(h.waiters)
	}
	return n
}

// Informational answers (1xx) before the answer are read past, as RFC
// 9110 asks of every client ("103 Early Hints", an unasked "100
// Continue").
func TestConnTransportSkipsInformational(t *testing.T) {
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</x>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusContinue)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "ok")
	})
	c := &http.Client{Transport: testConnTransport(4, time.Minute)}
	for i := 0; i < 2; i++ { // the connection stays usable
		if code, b := getBody(t, c, "GET", ts.URL+"/", nil); code != 200 || b != "ok" {
			t.Fatalf("answer after 1xx: %d %q", code, b)
		}
	}
	if n := ts.accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// A request whose connection closed after part of the answer's head came
// is not sent again, even a GET: the directory answered it.
func TestConnTransportNoRetryAfterPartialHead(t *testing.T) {
	var n atomic.Int64
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/cut" {
			c, bw, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Le")
				_ = bw.Flush()
				c.Close()
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := &http.Client{Transport: testConnTransport(4, time.Minute)}
	getBody(t, c, "GET", ts.URL+"/", nil)
	resp, err := c.Get(ts.URL + "/cut")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a cut answer: %s, want an error", resp.Status)
	}
	if !strings.Contains(err.Error(), "EOF") {
		t.Logf("error: %v", err)
	}
	if got := n.Load(); got != 2 {
		t.Fatalf("the server saw %d requests, want 2 (no retry of a request partly answered)", got)
	}
}

// A burst of short requests on a client with no connection yet opens one:
// the others wait for it (dialAfter) as for a busy one, rather than each
// opening its own while the first is still in its handshake.
func TestConnTransportBurstWaitsForDial(t *testing.T) {
	var accepted atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	ts.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		time.Sleep(200 * time.Millisecond) // a handshake long enough for every caller to arrive
		return nil, nil
	}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	tr := newConnTransport(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, 8, time.Minute, 10*time.Second, 30*time.Second)
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			getBody(t, c, "GET", ts.URL+"/", nil)
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections for a burst of 6 short requests on a new client (dialAfter 30 s), want 1", n)
	}
}

// Whatever way a request ends (answered, no body, Connection: close, a
// head cut short, a connection dropped unanswered, too many 1xx, a
// context ended while waiting, a body closed early), the transport's
// counts come back: once idle connections are closed nothing is open,
// busy with a short request or waiting.
func TestConnTransportCountsComeBack(t *testing.T) {
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/close":
			w.Header().Set("Connection", "close")
		case "/cut", "/drop":
			if c, bw, err := w.(http.Hijacker).Hijack(); err == nil {
				if r.URL.Path == "/cut" {
					_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Le")
					_ = bw.Flush()
				}
				c.Close()
			}
			return
		case "/1xx":
			for i := 0; i < 7; i++ {
				w.WriteHeader(http.StatusEarlyHints)
			}
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("z", 64<<10))
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	tr := testConnTransport(3, time.Minute)
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		for _, p := range []string{"/", "/empty", "/close", "/cut", "/drop", "/1xx", "/slow", "/big"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+p, nil)
				resp, err := c.Do(req)
				if err != nil {
					return
				}
				if p == "/big" { // closed before its end
					_, _ = io.ReadFull(resp.Body, make([]byte, 10))
				} else {
					_, _ = io.ReadAll(resp.Body)
				}
				resp.Body.Close()
			}()
		}
	}
	wg.Wait()
	tr.CloseIdleConnections()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for key, h := range tr.hosts {
		if h.open != 0 || h.short != 0 || len(h.waiters) != 0 || len(h.idle) != 0 {
			t.Fatalf("%s: %d open, %d short, %d waiting, %d idle after every request ended", key, h.open, h.short, len(h.waiters), len(h.idle))
		}
	}
}
