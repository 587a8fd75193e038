package directory_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/share/identity"
)

// serveOverTLS serves a directory over a real SQLite store on loopback TLS
// until the test ends, through an http.Server that adjust may change (its
// handler, keep-alives) along with the directory's TLS configuration, and
// returns a client whose new device is enrolled in a new account.
func serveOverTLS(ctx context.Context, t *testing.T, account string, adjust func(srv *directory.Server, cfg *tls.Config, hs *http.Server)) (*directory.Client, *identity.Identity) {
	t.Helper()
	c, dev, _ := serveOverTLSAt(ctx, t, account, adjust)
	return c, dev
}

// serveOverTLSAt is serveOverTLS also returning the directory's
// URL#FINGERPRINT, for a test that makes another client of it.
func serveOverTLSAt(ctx context.Context, t *testing.T, account string, adjust func(srv *directory.Server, cfg *tls.Config, hs *http.Server)) (*directory.Client, *identity.Identity, string) {
	t.Helper()
	d := dirtest.New(t, directory.Options{})
	cfg, err := d.Server.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: d.Server, ReadHeaderTimeout: 5 * time.Second}
	adjust(d.Server, cfg, hs)
	go func() { _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { hs.Close() }) // before the store closes (cleanups run last-first)
	d.Addr = ln.Addr().String()
	d.URL = directory.FormatURL("https://"+d.Addr, d.Server.ID())
	c, dev := d.Enrolled(ctx, t, account, "box")
	return c, dev, d.URL
}

// TestClientSignsForDirectoryWithoutCertificates: a directory that never
// asks for a client certificate (one older than authentication by
// connection) refuses the client's first unsigned request; the client then
// signs it and every later one, and the calls succeed.
func TestClientSignsForDirectoryWithoutCertificates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, dev := serveOverTLS(ctx, t, "old", func(_ *directory.Server, cfg *tls.Config, _ *http.Server) {
		cfg.ClientAuth = tls.NoClientCert // as the directory was before
	})
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
	var resumed, unsigned atomic.Int32
	c, dev := serveOverTLS(ctx, t, "resumer", func(srv *directory.Server, _ *tls.Config, hs *http.Server) {
		hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil && r.TLS.DidResume && len(r.TLS.PeerCertificates) == 1 {
				resumed.Add(1)
				if r.Header.Get(directory.HeaderSignature) == "" {
					unsigned.Add(1)
				}
			}
			srv.ServeHTTP(w, r)
		})
		hs.SetKeepAlivesEnabled(false) // every request on a new connection
	})
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
