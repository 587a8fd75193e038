package install

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
)

// BenchmarkDemuxConnect is one new connection routed by its first byte:
// dial, send a byte, and accept it from the side it was routed to.
func BenchmarkDemuxConnect(b *testing.B) {
	for _, tc := range []struct {
		name  string
		first byte
		side  func(*Demux) net.Listener
	}{
		{"plain", 'G', (*Demux).Plain},
		{"tls", tlsHandshake, (*Demux).TLS},
		// Baseline: the same without a Demux (Serve is not run; the raw
		// listener accepts).
		{"direct", 'G', func(d *Demux) net.Listener { return d.ln }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			d := NewDemux(ln, DemuxOptions{Logger: quietLogger()})
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			if tc.name == "direct" {
				served <- nil
			} else {
				go func() { served <- d.Serve(ctx) }()
			}
			defer func() { cancel(); ln.Close(); <-served }()
			side := tc.side(d)
			defer side.Close()
			for b.Loop() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				c.Write([]byte{tc.first})
				sc, err := side.Accept()
				if err != nil {
					b.Fatal(err)
				}
				sc.Close()
				c.Close()
			}
		})
	}
}

// BenchmarkPackageDownload is a neighbour downloading a 16 MB package
// from the plain side over loopback.
func BenchmarkPackageDownload(b *testing.B) {
	dir := b.TempDir()
	const size = 16 << 20
	writePackage(b, dir, "Kith.tar.xz", size, 11)
	addr := serveSite(b, NewSite(Options{Dir: dir, Logger: quietLogger()}))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	defer c.CloseIdleConnections()
	b.SetBytes(size)
	for b.Loop() {
		resp, err := c.Get("http://" + addr + "/" + PackageName)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("%d bytes, %v", n, err)
		}
	}
}
