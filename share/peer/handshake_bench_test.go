package peer

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// BenchmarkHandshake measures what one connection between two devices
// costs in CPU (both ends, one process): the mutual TLS 1.3 handshake of a
// peer connection as the product makes it (the server's wireTLSConfig, a
// client offering the wire both ways), over loopback TCP, first contact
// (full: certificates and signatures both ways) and a reconnect from the
// client's session cache (resumed).
//
//	go test -tags libsqlite3 -run '^$' -bench Handshake -benchtime 200x ./share/peer/
func BenchmarkHandshake(b *testing.B) {
	for _, mode := range []string{"full", "resumed"} {
		b.Run(mode, func(b *testing.B) {
			srvID, err := identity.Generate()
			if err != nil {
				b.Fatal(err)
			}
			cliID, err := identity.Generate()
			if err != nil {
				b.Fatal(err)
			}
			s := &Server{o: ServerOptions{Identity: srvID}}
			scfg := s.wireTLSConfig()
			ccfg := cliID.ClientTLS(srvID.ID())
			ccfg.NextProtos = []string{WireProto2, WireProto, "h2", "http/1.1"}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			errc := make(chan error, 1)
			go func() {
				for {
					nc, err := ln.Accept()
					if err != nil {
						errc <- nil
						return
					}
					tc := tls.Server(nc, scfg)
					if err := tc.Handshake(); err != nil {
						errc <- err
						return
					}
					// The client reads the session ticket the server
					// sends after the handshake; then both close.
					tc.Write([]byte{1})
					tc.Read(make([]byte, 1))
					tc.Close()
				}
			}()
			dial := func(cache tls.ClientSessionCache) {
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				cfg := ccfg.Clone()
				cfg.ClientSessionCache = cache
				tc := tls.Client(nc, cfg)
				if err := tc.Handshake(); err != nil {
					b.Fatal(err)
				}
				if _, err := tc.Read(make([]byte, 1)); err != nil {
					b.Fatal(err)
				}
				tc.Close()
			}
			b.ReportAllocs()
			warm := tls.NewLRUClientSessionCache(8)
			dial(warm)
			b.ResetTimer()
			cpu0 := processCPU(b)
			for range b.N {
				if mode == "full" {
					dial(tls.NewLRUClientSessionCache(8))
				} else {
					dial(warm)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu_us/hs")
			b.StopTimer()
			ln.Close()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}
