package directory_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// TestClientNeverFollowsRedirects: a directory's client does not follow a
// 3xx answer — a request as the device is not sent on to another URL — and
// the 3xx comes back as the call's error (status 302, 307), for a lookup,
// a JSON call and a call with a body.
func TestClientNeverFollowsRedirects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var elsewhere atomic.Int32
	var redirect atomic.Bool
	c, _ := serveOverTLS(ctx, t, "redirected", func(srv *directory.Server, _ *tls.Config, hs *http.Server) {
		hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/elsewhere":
				elsewhere.Add(1)
				w.WriteHeader(http.StatusOK)
			case redirect.Load() && r.Method == http.MethodPost:
				http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect) // 307 resends the body
			case redirect.Load():
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			default:
				srv.ServeHTTP(w, r)
			}
		})
	})
	redirect.Store(true)
	var content [32]byte
	calls := []struct {
		name   string
		status int
		call   func() error
	}{
		{"devices", http.StatusFound, func() error { _, err := c.Devices(ctx); return err }},
		{"suppliers", http.StatusFound, func() error { _, err := c.Suppliers(ctx, content); return err }},
		{"announce", http.StatusTemporaryRedirect, func() error { return c.Announce(ctx, directory.Announcement{}) }},
	}
	for _, k := range calls {
		err := k.call()
		var de *directory.Error
		if !errors.As(err, &de) || de.Status != k.status {
			t.Errorf("%s answered %d: %v; want an error with that status", k.name, k.status, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("%d requests followed a redirect to /elsewhere; want none", n)
	}
}

// TestClientErrorsReadAsBefore: calling the transport directly keeps the
// errors http.Client.Do gave — a *url.Error naming the method ("Get",
// "Delete") and the URL around the transport's error — for a cancelled
// call, a deadline passed in the TLS handshake and a directory that
// refuses connections.
func TestClientErrorsReadAsBefore(t *testing.T) {
	dir, _ := identity.Generate()
	dev, _ := identity.Generate()
	// A listener that accepts and never answers: the handshake waits.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	refusing := "127.0.0.1:1" // no test listens on port 1 (a freed port could be taken again meanwhile)

	client := func(addr string) *directory.Client {
		c, err := directory.NewClient(directory.ClientOptions{URL: directory.FormatURL("https://"+addr, dir.ID()), Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	bg, cancel3 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel3()

	for _, k := range []struct {
		name, addr, op, path string
		call                 func(*directory.Client) error
		is                   error
	}{
		{"cancelled", silent.Addr().String(), "Get", "/v1/devices", func(c *directory.Client) error { _, err := c.Devices(cancelled); return err }, context.Canceled},
		{"deadline", silent.Addr().String(), "Get", "/v1/devices", func(c *directory.Client) error { _, err := c.Devices(short); return err }, context.DeadlineExceeded},
		{"refused", refusing, "Delete", "/v1/announce", func(c *directory.Client) error { return c.Withdraw(bg) }, syscall.ECONNREFUSED},
	} {
		err := k.call(client(k.addr))
		u := "https://" + k.addr + k.path
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Op != k.op || ue.URL != u || !errors.Is(err, k.is) {
			t.Errorf("%s: %v; want a *url.Error %s %q wrapping %v", k.name, err, k.op, u, k.is)
			continue
		}
		want := strings.ToUpper(k.op) + " " + k.path + ": " + k.op + ` "` + u + `": `
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %q; want it to start %q", k.name, err, want)
		}
	}
}

// TestClientCallersHTTPClientKeepsItsPolicy: with a caller's HTTPClient
// the client sends through that client's Do, so its redirect policy
// applies (here it sees the redirect and stops it).
func TestClientCallersHTTPClientKeepsItsPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer ts.Close()
	var seen atomic.Int32
	hc := ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error {
		seen.Add(1)
		return http.ErrUseLastResponse
	}
	dir, _ := identity.Generate()
	dev, _ := identity.Generate()
	c, err := directory.NewClient(directory.ClientOptions{URL: ts.URL, Fingerprint: dir.ID(), Device: dev, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Devices(ctx)
	var de *directory.Error
	if !errors.As(err, &de) || de.Status != http.StatusFound || seen.Load() != 1 {
		t.Fatalf("devices through the caller's client: %v, CheckRedirect called %d times; want 302 and 1", err, seen.Load())
	}
}

// TestClientResignsRequestLostWithConnection: a signed request that
// reached the directory but lost its connection before any answer (the
// directory received it, then the connection closed) is signed anew and
// sent again, so the directory does not refuse the second as a replay of
// the first (before, the transport sent the same signed bytes again: 401).
func TestClientResignsRequestLostWithConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var armed, dropped atomic.Bool
	var served atomic.Int32
	dev, dirURL := serveLosing(ctx, t, "resigned", func(r *http.Request, nth int) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/devices" {
			served.Add(1)
		}
		return armed.Load() && nth == 2 && dropped.CompareAndSwap(false, true)
	})
	c, err := directory.NewClient(directory.ClientOptions{URL: dirURL, Device: dev, SignRequests: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Devices(ctx); err != nil { // opens the connection the next call reuses
		t.Fatal(err)
	}
	armed.Store(true)
	ds, err := c.Devices(ctx)
	if err != nil || len(ds) != 1 || ds[0].ID != dev.ID() {
		t.Fatalf("a signed call whose connection closed after the directory received it: %+v, %v", ds, err)
	}
	if !dropped.Load() || served.Load() != 3 {
		t.Fatalf("dropped %v, the directory served GET /v1/devices %d times; want the lost one and its resend (3 in all)", dropped.Load(), served.Load())
	}
}

// TestClientResignsOriginAndArtwork: Origin and Artwork, which send their
// own requests (sendBuilt), sign anew and send again a request lost with
// its connection after the directory received it, as do's calls do: the
// resend is answered (404: no such content, no such title), not refused
// as a replay (401).
func TestClientResignsOriginAndArtwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var armed atomic.Bool
	var dropped atomic.Int32
	dev, dirURL := serveLosing(ctx, t, "resigned-own", func(_ *http.Request, nth int) bool {
		if nth > 1 && armed.CompareAndSwap(true, false) {
			dropped.Add(1)
			return true
		}
		return false
	})
	c, err := directory.NewClient(directory.ClientOptions{URL: dirURL, Device: dev, SignRequests: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Devices(ctx); err != nil { // opens the connection the next call reuses
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"Origin", func() error { _, err := c.Origin(ctx, sealed.ContentID{7}, 0, 0); return err }},
		{"Artwork", func() error { _, err := c.Artwork(ctx, "no-such-title"); return err }},
	} {
		before := dropped.Load()
		armed.Store(true)
		err := call.do()
		var de *directory.Error
		if dropped.Load() != before+1 || !errors.As(err, &de) || de.Status != http.StatusNotFound {
			t.Errorf("%s lost with its connection (dropped %d): %v, want the resend answered 404", call.name, dropped.Load()-before, err)
		}
	}
}

// serveLosing serves a directory (serveOverTLSAt) that loses the answer of
// each request lose says so of (nth: the request's number on its
// connection, from 1): the directory receives the request, then the
// connection closes without its answer.
func serveLosing(ctx context.Context, t *testing.T, account string, lose func(r *http.Request, nth int) bool) (*identity.Identity, string) {
	t.Helper()
	var mu sync.Mutex
	perConn := map[string]int{}
	_, dev, dirURL := serveOverTLSAt(ctx, t, account, func(srv *directory.Server, _ *tls.Config, hs *http.Server) {
		hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			perConn[r.RemoteAddr]++
			nth := perConn[r.RemoteAddr]
			mu.Unlock()
			if lose(r, nth) {
				srv.ServeHTTP(httptest.NewRecorder(), r) // the directory receives it…
				if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
					c.Close() // …and the answer is lost with the connection
				}
				return
			}
			srv.ServeHTTP(w, r)
		})
	})
	return dev, dirURL
}
