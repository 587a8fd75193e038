package directory_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// TestClientSignsForDirectoryWithoutCertificates: a directory that never
// asks for a client certificate (one older than authentication by
// connection) refuses the client's first unsigned request; the client then
// signs it and every later one, and the calls succeed.
func TestClientSignsForDirectoryWithoutCertificates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: filepath.Join(dir, "origin")})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := srv.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientAuth = tls.NoClientCert // as the directory was before
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	defer hs.Close()

	dev, _ := identity.Generate()
	c, err := directory.NewClient(directory.ClientOptions{URL: directory.FormatURL("https://"+ln.Addr().String(), srv.ID()), Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateAccount(ctx, "old", "old-directory-password"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnrollDevice(ctx, "old", "old-directory-password", "box"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		ds, err := c.Devices(ctx)
		if err != nil {
			t.Fatalf("call %d on a directory that asks for no certificate: %v", i, err)
		}
		if len(ds) != 1 || ds[0].ID != dev.ID() {
			t.Fatalf("devices = %+v", ds)
		}
	}
}

// TestClientResumesAuthenticatedConnection: a device's client resumes its
// TLS session on a new connection, and the directory still authenticates
// its unsigned requests by the certificate of the session it resumes.
func TestClientResumesAuthenticatedConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: filepath.Join(dir, "origin")})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := srv.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var resumed, unsigned atomic.Int32
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && r.TLS.DidResume && len(r.TLS.PeerCertificates) == 1 {
			resumed.Add(1)
			if r.Header.Get(directory.HeaderSignature) == "" {
				unsigned.Add(1)
			}
		}
		srv.ServeHTTP(w, r)
	})}
	hs.SetKeepAlivesEnabled(false) // every request on a new connection
	go func() { _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	defer hs.Close()

	dev, _ := identity.Generate()
	c, err := directory.NewClient(directory.ClientOptions{URL: directory.FormatURL("https://"+ln.Addr().String(), srv.ID()), Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateAccount(ctx, "resumer", "resumer-password"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnrollDevice(ctx, "resumer", "resumer-password", "box"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		ds, err := c.Devices(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(ds) != 1 || ds[0].ID != dev.ID() {
			t.Fatalf("devices = %+v", ds)
		}
	}
	if resumed.Load() == 0 || unsigned.Load() == 0 {
		t.Fatalf("%d requests on resumed sessions, %d of them unsigned; want the device's later connections resumed and authenticated by their certificate", resumed.Load(), unsigned.Load())
	}
}
