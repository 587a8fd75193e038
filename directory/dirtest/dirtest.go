// Package dirtest serves a real directory (a SQLite store, TLS 1.3 on
// loopback) for the tests of the packages that talk to one, so each does
// not write the same store, identity, listener, Serve and clean-up again.
package dirtest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// Directory is a directory served until its test ends.
type Directory struct {
	Server   *directory.Server
	Store    directory.Store // the options' store, else its own SQLite store
	Identity *identity.Identity
	Origin   string // its origin folder (Options.OriginDir)
	Addr     string // host:port it listens on
	URL      string // https://Addr#FINGERPRINT, as directory.FormatURL writes it
}

// Serve serves a directory with o on a new loopback listener until the test
// ends; see New for what it fills in.
func Serve(t testing.TB, o directory.Options) *Directory {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ServeOn(t, o, ln)
}

// ServeOn serves a directory made by New on ln until the test ends (its
// own store, if New made one, closed once the server has stopped).
func ServeOn(t testing.TB, o directory.Options, ln net.Listener) *Directory {
	t.Helper()
	d, closeStore := newDirectory(t, o, ln.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Server.Serve(ctx, ln) }()
	t.Cleanup(func() { // before the caller's store closes (cleanups run last-first)
		cancel()
		if err := <-done; err != nil { // as the tests before it: not a failure (a slow shutdown under load)
			t.Logf("directory server: %v", err)
		}
		closeStore()
	})
	d.Addr = ln.Addr().String()
	d.URL = directory.FormatURL("https://"+d.Addr, d.Server.ID())
	return d
}

// New makes a directory server with o without serving it (Addr and URL
// empty), for a test that serves it its own way (its own http.Server, or
// ServeHTTP in-process). What o leaves unset it fills: a new identity, a
// SQLite store in a temporary folder (closed when the test ends), an
// origin folder there and a logger that discards. Rate limits and
// everything else are o's.
func New(t testing.TB, o directory.Options) *Directory {
	t.Helper()
	d, closeStore := newDirectory(t, o, func() error { return nil })
	t.Cleanup(closeStore)
	return d
}

// newDirectory is New, calling abandon (the listener's Close) before
// failing the test, and leaving its own store's closing to the caller.
func newDirectory(t testing.TB, o directory.Options, abandon func() error) (d *Directory, closeStore func()) {
	t.Helper()
	if o.Identity == nil {
		var err error
		if o.Identity, err = identity.Generate(); err != nil {
			abandon()
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	closeStore = func() {}
	if o.Store == nil {
		own, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "directory.db"), sqlitestore.Options{})
		if err != nil {
			abandon()
			t.Fatal(err)
		}
		o.Store, closeStore = own, func() { own.Close() }
	}
	if o.OriginDir == "" {
		o.OriginDir = filepath.Join(dir, "origin")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := directory.NewServer(o)
	if err != nil {
		abandon()
		closeStore()
		t.Fatal(err)
	}
	return &Directory{Server: srv, Store: o.Store, Identity: o.Identity, Origin: o.OriginDir}, closeStore
}

// Client is a client of d signing as dev (anonymous when nil).
func (d *Directory) Client(t testing.TB, dev *identity.Identity) *directory.Client {
	t.Helper()
	c, err := directory.NewClient(directory.ClientOptions{URL: d.URL, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Enrolled is a client of d whose new device, named name, is enrolled in
// account (its password account+"-password"), made if it is not there.
func (d *Directory) Enrolled(ctx context.Context, t testing.TB, account, name string) (*directory.Client, *identity.Identity) {
	t.Helper()
	dev, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c := d.Client(t, dev)
	if err := c.CreateAccount(ctx, account, account+"-password"); err != nil { // a taken name is answered alike
		t.Fatal(err)
	}
	if err := c.EnrollDevice(ctx, account, account+"-password", name); err != nil {
		t.Fatal(err)
	}
	return c, dev
}
