package install

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// demuxed is a Demux on a loopback port with an HTTPS server on its TLS
// side and an HTTP server on its plain side, each answering its own name.
type demuxed struct {
	d     *Demux
	addr  string
	https *httptest.Server
	plain *http.Server
	tlsc  *http.Client
}

func startDemux(t testing.TB, o DemuxOptions) *demuxed {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	d := NewDemux(ln, o)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()

	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.TLS.Version != tls.VersionTLS13 {
			http.Error(w, "want TLS 1.3", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "tls")
	}))
	ts.Listener.Close()
	ts.Listener = d.TLS()
	ts.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	ts.StartTLS()

	ps := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain")
	}), ReadHeaderTimeout: 5 * time.Second}
	plainDone := make(chan struct{})
	go func() { ps.Serve(d.Plain()); close(plainDone) }()

	m := &demuxed{d: d, addr: ln.Addr().String(), https: ts, plain: ps, tlsc: ts.Client()}
	t.Cleanup(func() {
		m.tlsc.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		cancel()
		ts.Close()
		ps.Close()
		<-plainDone
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return m
}

func get(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func TestDemuxRoutes(t *testing.T) {
	m := startDemux(t, DemuxOptions{})
	plain := &http.Client{Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
		want   string
	}{
		// A real TLS 1.3 client reaches the TLS side.
		{"tls", m.tlsc, "https://" + m.addr + "/", "tls"},
		// A plain HTTP client (a browser) reaches the plain side.
		{"plain", plain, "http://" + m.addr + "/", "plain"},
		// Alternating on kept-alive connections still routes each right.
		{"tls again", m.tlsc, "https://" + m.addr + "/x", "tls"},
		{"plain again", plain, "http://" + m.addr + "/y", "plain"},
	} {
		if got := get(t, tc.client, tc.url); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Many connections that never send a byte must not delay anyone else, and
// are closed after PeekTimeout. The peek timeout is long enough that a
// request queued behind them (served only once they are closed) is told
// from one served at once however loaded the machine is.
func TestDemuxSilentConnections(t *testing.T) {
	const peek = 10 * time.Second
	m := startDemux(t, DemuxOptions{PeekTimeout: peek})
	var silent []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", m.addr)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	plain := &http.Client{Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	start := time.Now()
	if got := get(t, m.tlsc, "https://"+m.addr+"/"); got != "tls" {
		t.Errorf("tls: got %q", got)
	}
	if got := get(t, plain, "http://"+m.addr+"/"); got != "plain" {
		t.Errorf("plain: got %q", got)
	}
	if took := time.Since(start); took >= peek {
		t.Errorf("requests behind 50 silent connections took %v, as if queued until the %v peek timeout closed them", took, peek)
	}
	// The silent ones are closed by the server once the peek times out.
	var wg sync.WaitGroup
	for _, c := range silent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(3 * peek))
			_, err := c.Read(make([]byte, 1))
			if err != io.EOF {
				t.Errorf("silent connection: read %v, want EOF (closed by the server)", err)
			}
		}()
	}
	wg.Wait()
	if took := time.Since(start); took < peek-100*time.Millisecond {
		t.Errorf("silent connections closed after %v, before the %v peek timeout", took, peek)
	}
}

// Beyond MaxPending silent connections, new ones are closed at once
// instead of queuing behind them.
func TestDemuxMaxPending(t *testing.T) {
	// A third connection waiting for the peek timeout would wait a minute;
	// closed at once, it reads EOF well within the 30 s read deadline.
	m := startDemux(t, DemuxOptions{PeekTimeout: time.Minute, MaxPending: 2})
	for range 2 {
		c, err := net.Dial("tcp", m.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	c, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("third silent connection: read %v after %v, want EOF at once (not after the 1 min peek timeout)", err, time.Since(start))
	}
}

// failingListener fails Accept with err after the first call.
type failingListener struct {
	net.Listener
	err error
}

func (l failingListener) Accept() (net.Conn, error) { return nil, l.err }

func TestDemuxListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	d := NewDemux(failingListener{ln, boom}, DemuxOptions{Logger: quietLogger()})
	if err := d.Serve(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Serve: got %v, want boom", err)
	}
	for _, side := range []net.Listener{d.TLS(), d.Plain()} {
		if _, err := side.Accept(); !errors.Is(err, boom) {
			t.Errorf("side Accept after failure: got %v, want boom", err)
		}
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still open after Serve failed")
	}
}

func TestDemuxShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := NewDemux(ln, DemuxOptions{Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	// A connection that has sent nothing yet when Serve stops is closed.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Stop once the demux peeks at it: stopped earlier, the connection
	// would still be in the listener's queue, and closing the listener
	// resets it (a read then says "connection reset", not EOF). A 50 ms
	// sleep stood for this wait and was too short on a loaded machine.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		d.mu.Lock()
		n := len(d.peeking)
		d.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demux did not take the connection in 30 s")
		}
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("pending connection after shutdown: read %v, want EOF", err)
	}
	// The sides block until closed (their servers close them), then say so.
	accepted := make(chan error, 1)
	go func() { _, err := d.Plain().Accept(); accepted <- err }()
	select {
	case err := <-accepted:
		t.Fatalf("Accept returned %v before the side was closed", err)
	case <-time.After(50 * time.Millisecond):
	}
	d.Plain().Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

func TestSniffedConnGivesBackTheFirstByte(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() { b.Write([]byte("ET / HTTP/1.1")); b.Close() }()
	c := &sniffedConn{Conn: a, first: 'G', pending: true}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "GET / HTTP/1.1" {
		t.Errorf("got %q", got)
	}
	if !strings.HasPrefix(string(got), "G") {
		t.Error("first byte lost")
	}
}
