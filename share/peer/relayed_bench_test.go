package peer

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkRelayFirstChunk is the time from a new client to the first
// verified 256 KiB chunk (manifest, then chunk 0, on a fresh connection
// each op): directly, and through a relay on loopback (a ticket, the
// relay's invitation to the supplier, its data connection, then the
// same TLS handshake).
func BenchmarkRelayFirstChunk(b *testing.B) {
	c := makeContent(b, 4<<20, sealed.DefaultChunkSize, 9)
	me := newIdent(b)
	r := newRelayRig(b, c, everyoneEnrolled{})
	// the same supplier, also listening directly
	_, addr := startServer(b, ServerOptions{Identity: r.sup, Library: r.lib, Accounts: everyoneEnrolled{}})
	first := func(b *testing.B, addrs []string, relay func(context.Context) (net.Conn, error)) {
		ctx := context.Background()
		var total time.Duration
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			cl, err := NewClient(me, r.sup.ID(), addrs, ClientOptions{Relay: relay, PreferRelay: relay != nil})
			if err != nil {
				b.Fatal(err)
			}
			m, err := cl.Manifest(ctx, c.m.ContentID())
			if err != nil {
				b.Fatal(err)
			}
			ch, err := cl.Chunk(ctx, m, 0, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.VerifyChunk(0, ch); err != nil {
				b.Fatal(err)
			}
			total += time.Since(t0)
			cl.Close()
		}
		b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/first-chunk")
	}
	b.Run("direct", func(b *testing.B) { first(b, []string{addr}, nil) })
	b.Run("relayed", func(b *testing.B) { first(b, nil, r.dialer(b, me)) })
}
