package directory

import (
	"bytes"
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

// transportServer is an HTTPS server on loopback counting the connections
// it accepted and has open.
type transportServer struct {
	*httptest.Server
	accepted, open atomic.Int64
}

func newTransportServer(t *testing.T, h http.HandlerFunc, configure ...func(*http.Server)) *transportServer {
	t.Helper()
	ts := &transportServer{}
	ts.Server = httptest.NewUnstartedServer(h)
	for _, f := range configure {
		f(ts.Config)
	}
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			ts.accepted.Add(1)
			ts.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			ts.open.Add(-1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

func testConnTransport(maxConns int, idle time.Duration) *connTransport {
	return newConnTransport(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, maxConns, idle, 10*time.Second, 0)
}

func getBody(t *testing.T, c *http.Client, method, url string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// A connection is kept for the next request once its answer was read
// whole; one whose answer was left unread, or that asked to close, is not.
func TestConnTransportKeepAlive(t *testing.T) {
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/empty" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+strings.Repeat("x", 5000))
	})
	tr := testConnTransport(4, time.Minute)
	c := &http.Client{Transport: tr}
	for i := 0; i < 5; i++ {
		if code, b := getBody(t, c, "GET", ts.URL+"/a", nil); code != 200 || !strings.HasPrefix(b, "GET /a ") || len(b) != 5007 {
			t.Fatalf("answer %d %q", code, b[:min(len(b), 20)])
		}
	}
	if code, b := getBody(t, c, "POST", ts.URL+"/p", strings.NewReader("body")); code != 200 || !strings.HasPrefix(b, "POST /p body") {
		t.Fatalf("answer %d %q", code, b[:20])
	}
	if code, _ := getBody(t, c, "GET", ts.URL+"/empty", nil); code != http.StatusNoContent {
		t.Fatalf("answer %d", code)
	}
	if n := ts.accepted.Load(); n != 1 {
		t.Fatalf("%d connections for 7 sequential requests, want 1", n)
	}
	// an answer closed before its end: that connection is not reused
	resp, err := c.Get(ts.URL + "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	getBody(t, c, "GET", ts.URL+"/a", nil)
	if n := ts.accepted.Load(); n != 2 {
		t.Fatalf("%d connections after an unfinished answer, want 2", n)
	}
	getBody(t, c, "GET", ts.URL+"/close", nil)
	getBody(t, c, "GET", ts.URL+"/a", nil)
	if n := ts.accepted.Load(); n != 3 {
		t.Fatalf("%d connections after Connection: close, want 3", n)
	}
	tr.CloseIdleConnections()
	waitFor(t, func() bool { return ts.open.Load() == 0 }, "the idle connection to close")
}

// A request whose context ends while the directory has not answered
// returns the context's error at once, and its connection is closed.
func TestConnTransportCancel(t *testing.T) {
	release := make(chan struct{})
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/partial" { // half an answer, then nothing
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, strings.Repeat("y", 50))
			w.(http.Flusher).Flush()
		}
		if r.URL.Path == "/slow" || r.URL.Path == "/partial" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	defer close(release)
	c := &http.Client{Transport: testConnTransport(4, time.Minute)}
	getBody(t, c, "GET", ts.URL+"/", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/slow", nil)
	start := time.Now()
	_, err := c.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled request returned after %s", d)
	}
	waitFor(t, func() bool { return ts.open.Load() == 0 }, "the cancelled request's connection to close")
	if code, b := getBody(t, c, "GET", ts.URL+"/", nil); code != 200 || b != "ok" {
		t.Fatalf("after a cancel: %d %q", code, b)
	}
	// closing a body while a read of it waits ends that read at once
	resp, err := c.Get(ts.URL + "/partial")
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); read <- err }()
	time.Sleep(50 * time.Millisecond)
	resp.Body.Close()
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("a read of a half answer ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a read in progress")
	}
	if code, b := getBody(t, c, "GET", ts.URL+"/", nil); code != 200 || b != "ok" {
		t.Fatalf("after a closed body: %d %q", code, b)
	}
}

// No more than maxConns connections are open at once: further requests
// wait for one, and all are answered.
func TestConnTransportMaxConns(t *testing.T) {
	var inside, most atomic.Int64
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inside.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inside.Add(-1)
		_, _ = io.WriteString(w, "ok")
	})
	c := &http.Client{Transport: testConnTransport(3, time.Minute)}
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			getBody(t, c, "GET", ts.URL+"/", nil)
		}()
	}
	wg.Wait()
	if n := ts.accepted.Load(); n > 3 {
		t.Fatalf("%d connections opened, cap 3", n)
	}
	if m := most.Load(); m > 3 || m < 1 {
		t.Fatalf("%d requests at once, cap 3", m)
	}
}

// An idle connection the directory closed is not used again: the next
// request, even one that cannot be replayed (a POST), goes on a new one.
// Idle connections are closed after the idle timeout.
func TestConnTransportServerClosedIdle(t *testing.T) {
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	tr := testConnTransport(4, 300*time.Millisecond)
	c := &http.Client{Transport: tr}
	getBody(t, c, "GET", ts.URL+"/", nil)
	ts.CloseClientConnections() // as at the directory's idle timeout or restart
	waitFor(t, func() bool { return ts.open.Load() == 0 }, "the server to close its connection")
	if code, b := getBody(t, c, "POST", ts.URL+"/", bytes.NewReader([]byte("once"))); code != 200 || b != "once" {
		t.Fatalf("POST after the server closed the idle connection: %d %q", code, b)
	}
	if n := ts.accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	waitFor(t, func() bool { return ts.open.Load() == 0 }, "the idle timeout to close the connection")
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// While a client's connections are busy, a request waits dialAfter for one
// before opening another: momentary overlaps share one connection, and a
// request stuck behind a long one gets its own after the wait; nobody waits
// for connections all held by origin reads.
func TestConnTransportDialAfter(t *testing.T) {
	releaseLong, releaseOrigin := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	freeLong := func() { once1.Do(func() { close(releaseLong) }) }
	freeOrigin := func() { once2.Do(func() { close(releaseOrigin) }) }
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/long":
			<-releaseLong
		case strings.HasPrefix(r.URL.Path, "/v1/content/"):
			<-releaseOrigin
		default:
			time.Sleep(time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})
	t.Cleanup(freeOrigin) // before the server's Close (cleanups run last first)
	t.Cleanup(freeLong)
	// dialAfter is 30 s where a request must not dial (a wait of any
	// length up to it passes) and 1 s where it must wait it first: with
	// 1 s throughout, 8 callers queued on one connection could wait their
	// turn over 1 s on a loaded machine and open a second one, and a dial
	// at once behind origin reads could take over 1 s.
	const long, short = 30 * time.Second, time.Second
	tr := newConnTransport(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, 8, time.Minute, 10*time.Second, long)
	c := &http.Client{Transport: tr}
	getBody(t, c, "GET", ts.URL+"/", nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				getBody(t, c, "GET", ts.URL+"/", nil)
			}
		}()
	}
	wg.Wait()
	if n := ts.accepted.Load(); n != 1 {
		t.Fatalf("%d connections for 8 callers of 1 ms requests (dialAfter %v), want 1", n, long)
	}
	tr.dialAfter = short // no request in flight: set before the next starts
	longDone := make(chan struct{})
	go func() { defer close(longDone); getBody(t, c, "GET", ts.URL+"/long", nil) }()
	waitFor(t, func() bool { return tr.busy() == 1 }, "the long request to take the connection")
	start := time.Now()
	getBody(t, c, "GET", ts.URL+"/", nil)
	if d := time.Since(start); d < short {
		t.Fatalf("a request behind a busy connection opened another after %s, want after dialAfter (%v)", d, short)
	}
	if n := ts.accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	freeLong()
	<-longDone
	tr.dialAfter = long
	// origin reads may hold their connections for long: nobody waits for them
	var origins sync.WaitGroup
	for i := 0; i < 2; i++ {
		origins.Add(1)
		go func() { defer origins.Done(); getBody(t, c, "GET", ts.URL+"/v1/content/c", nil) }()
	}
	waitFor(t, func() bool { return tr.busy() == 2 }, "two origin reads to take both connections")
	start = time.Now()
	getBody(t, c, "GET", ts.URL+"/", nil)
	if d := time.Since(start); d >= long {
		t.Fatalf("a request behind two origin reads waited %s (dialAfter), want a new connection at once", d)
	}
	if n := ts.accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
	freeOrigin()
	origins.Wait()
}

type connCountKey struct{}

// A request that its connection drops before any answer is sent again on
// a new connection when that is safe (GET), and not when it is not (POST:
// the directory may have acted on it).
func TestConnTransportRetriesOnlyReplayable(t *testing.T) {
	var posts atomic.Int64
	ts := newTransportServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := r.Context().Value(connCountKey{}).(*atomic.Int64).Add(1)
		if r.Method == "POST" {
			posts.Add(1)
		}
		if r.URL.Path == "/drop" && n == 2 { // the second request on a connection: closed unanswered
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}, func(s *http.Server) {
		s.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connCountKey{}, new(atomic.Int64))
		}
	})
	c := &http.Client{Transport: testConnTransport(4, time.Minute)}
	getBody(t, c, "GET", ts.URL+"/a", nil)
	if code, b := getBody(t, c, "GET", ts.URL+"/drop", nil); code != 200 || b != "ok" {
		t.Fatalf("GET dropped on a reused connection: %d %q, want it answered on a new one", code, b)
	}
	if n := ts.accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/drop", strings.NewReader("x"))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("POST dropped on a reused connection: %s, want an error", resp.Status)
	}
	if n := posts.Load(); n != 1 {
		t.Fatalf("the POST reached the server %d times, want once", n)
	}
}

// busy counts the connections open and not idle.
func (t *connTransport) busy() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.hosts {
		n += h.open - len(h.idle)
	}
	return n
}
