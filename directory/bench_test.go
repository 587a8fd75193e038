package directory_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkSuppliersHandler measures the server's CPU cost of one signed
// supplier lookup (no network), over 20,000 devices and 200,000 holdings.
func BenchmarkSuppliersHandler(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "d.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const nDev, per, nContent = 20_000, 10, 4_000
	contents := make([]sealed.ContentID, nContent)
	for i := range contents {
		_, _ = rand.Read(contents[i][:])
	}
	var accounts []string
	devs := make([]directory.Device, nDev)
	anns := make([]directory.AnnounceRecord, nDev)
	for i := range devs {
		if i%10 == 0 {
			accounts = append(accounts, fmt.Sprintf("acct%05d", i/10))
		}
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		box := make([]byte, 32)
		keys := identity.PublicKeys{Sign: pub, Box: box}
		devs[i] = directory.Device{ID: keys.ID(), Name: "d", Account: accounts[len(accounts)-1], Keys: keys}
		hs := []directory.Holding{}
		seen := map[int]bool{}
		for len(hs) < per {
			c := mrand.IntN(nContent)
			if !seen[c] {
				seen[c] = true
				hs = append(hs, directory.Holding{Content: contents[c], Complete: true, Policy: directory.Policy{Mode: "anyone"}})
			}
		}
		anns[i] = directory.AnnounceRecord{Device: keys.ID(), PublicIP: "198.51.100.1", Expires: time.Now().Add(time.Hour),
			Announcement: directory.Announcement{Addrs: []string{"198.51.100.1:7000"}, PrivateAddrs: []string{"192.168.1.2"}, Holdings: hs}}
	}
	asker, _ := identity.Generate()
	accounts = append(accounts, "asker")
	devs = append(devs, directory.Device{ID: asker.ID(), Name: "a", Account: "asker", Keys: asker.Public()})
	if err := st.BulkLoad(ctx, "x", accounts, devs, anns); err != nil {
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := st.SupplierCandidates(ctx, contents[i%nContent], time.Now(), "198.51.100.1", 256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load", func(b *testing.B) { // the whole online index, per holding
		n := 0
		for i := 0; i < b.N; i++ {
			if err := st.OnlineHoldings(ctx, time.Now(), func(sealed.ContentID, *directory.Candidate) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/holding")
	})
	b.Run("announcement", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = st.Announcement(ctx, asker.ID())
		}
	})
	dirID, _ := identity.Generate()
	srv, err := directory.NewServer(directory.Options{Identity: dirID, Store: st, OriginDir: dir, RateIP: -1, RateDevice: -1})
	if err != nil {
		b.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	b.Run("handler", func(b *testing.B) {
		// the first lookup loads the online index (measured by "load")
		lookup := func(i int) {
			path := "/v1/suppliers/" + contents[i%nContent].String()
			req := httptest.NewRequest("GET", path, nil)
			req.RemoteAddr = "198.51.100.1:5555"
			d, tm, s := directory.SignRequest(asker, "GET", path, clock.Add(1), nil)
			req.Header.Set(directory.HeaderDevice, d)
			req.Header.Set(directory.HeaderTime, tm)
			req.Header.Set(directory.HeaderSignature, s)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		lookup(0)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := mrand.IntN(nContent)
			for pb.Next() {
				i++
				lookup(i)
			}
		})
	})
	// handler-conn: the same lookups authenticated by the connection (the
	// asker's certificate, as the TLS handshake leaves it), unsigned.
	cert, err := asker.Certificate()
	if err != nil {
		b.Fatal(err)
	}
	cs := &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert.Leaf}}
	b.Run("handler-conn", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := mrand.IntN(nContent)
			for pb.Next() {
				i++
				req := httptest.NewRequest("GET", "/v1/suppliers/"+contents[i%nContent].String(), nil)
				req.RemoteAddr = "198.51.100.1:5555"
				req.TLS = cs
				req.Header.Set(directory.HeaderDevice, string(asker.ID()))
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	})
}
