package share

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkChunkPath is the CPU a byte of a download costs both ends of
// the chunk path, against the flash crowd's crypto-and-TLS bound measured
// in the same run (tlsBound: a TLS stream and a SHA-256 of every byte).
// One holder serves an 8 MiB title (the small crowd cell's; 256 KiB
// chunks) to 16 devices at once, each a Fetcher over the pair's chunk-wire
// connection (opened before the clock starts) into its own library: the
// holder's reads from its file, the answers' TLS, the fetchers' chunk
// checks and writes to their files (with their fsyncs), and the requests,
// upload slots and scheduling around them, with as many requests waiting
// for answers as a crowd keeps (4 a source). No handshakes, no directory,
// no /have polls beyond each fetcher's first. Reported: fetch ns/B (the
// process's CPU ÷ bytes downloaded), x_bound (÷ the bound's ns/B) and
// heap_MiB (the heap's objects at their peak while the downloads ran:
// mostly chunk buffers) and faults/dev (the process's minor page faults
// while the downloads ran ÷ devices, see minorFaults); bound ns/B is the
// bound alone.
//
//	go test -tags libsqlite3 -run '^$' -bench ChunkPath -benchtime 5x ./share/
func BenchmarkChunkPath(b *testing.B) {
	const (
		size  = 8 << 20
		nodes = 16
	)
	ctx := context.Background()
	plain := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(plain)
	key, _ := sealed.NewContentKey()
	var file bytes.Buffer
	m, err := sealed.Seal(&file, bytes.NewReader(plain), key, sealed.Options{ChunkSize: sealed.DefaultChunkSize, MediaType: "audio/test"})
	if err != nil {
		b.Fatal(err)
	}
	holdLib, err := library.Open(b.TempDir(), library.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer holdLib.Close()
	if err := holdLib.Import(ctx, m, bytes.NewReader(file.Bytes())); err != nil {
		b.Fatal(err)
	}
	holderID, err := identity.Generate()
	if err != nil {
		b.Fatal(err)
	}
	// All 16 devices come from 127.0.0.1: lookups as for known devices.
	lookups := peer.LookupLimits{PerCaller: 100, PerCallerBurst: nodes, Total: 100, TotalBurst: nodes}
	srv, err := peer.NewServer(peer.ServerOptions{Identity: holderID, Library: holdLib, Accounts: benchAccounts{}, Lookups: lookups, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			b.Errorf("server: %v", err)
		}
	}()
	ids := make([]*identity.Identity, nodes)
	for k := range ids {
		if ids[k], err = identity.Generate(); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("bound", func(b *testing.B) {
		var perByte float64
		for range b.N {
			perByte += tlsBound(b, 1, size, sealed.DefaultChunkSize+sealed.Overhead).perByte
		}
		b.ReportMetric(perByte/float64(b.N), "ns/B")
	})
	b.Run("fetch", func(b *testing.B) {
		var cpu time.Duration
		var bound float64
		var peak uint64
		var faults int64
		for range b.N {
			b.StopTimer()
			bound += tlsBound(b, 1, size, sealed.DefaultChunkSize+sealed.Overhead).perByte
			// New clients each round: a client sends a peer's chunks past
			// its first 16 MiB over the bulk lane's HTTP/1.1 connections,
			// which a crowd's downloads, spread over many peers, do not.
			libs := make([]*library.Library, nodes)
			fetchers := make([]*peer.Fetcher, nodes)
			clients := make([]*peer.Client, nodes)
			for k := range libs {
				c, err := peer.NewClient(ids[k], holderID.ID(), []string{ln.Addr().String()}, peer.ClientOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Have(ctx, m.ContentID(), m.NumChunks()); err != nil { // the pair's connection
					b.Fatal(err)
				}
				clients[k] = c
				l, err := library.Open(b.TempDir(), library.Options{Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				if err := l.AddManifest(ctx, m); err != nil {
					b.Fatal(err)
				}
				f, err := peer.NewFetcher(peer.FetchOptions{Manifest: m, Sink: l, Sources: []peer.Source{clients[k].Source(m)}, Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				libs[k], fetchers[k] = l, f
			}
			b.StartTimer()
			done := make(chan struct{})
			sampled := make(chan uint64, 1)
			go func() { // the heap's peak while the downloads run
				var peak uint64
				sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}} // no stop-the-world, unlike ReadMemStats
				t := time.NewTicker(5 * time.Millisecond)
				defer t.Stop()
				for {
					metrics.Read(sample)
					peak = max(peak, sample[0].Value.Uint64())
					select {
					case <-done:
						sampled <- peak
						return
					case <-t.C:
					}
				}
			}()
			c0, flt0 := cpuTime(), minorFaults()
			var wg sync.WaitGroup
			errs := make(chan error, nodes)
			for _, f := range fetchers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- f.Run(ctx)
				}()
			}
			wg.Wait()
			cpu += cpuTime() - c0
			faults += minorFaults() - flt0
			b.StopTimer()
			close(done)
			peak = max(peak, <-sampled)
			close(errs)
			for err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			for k, l := range libs {
				l.Close()
				clients[k].Close()
			}
			b.StartTimer()
		}
		perByte := float64(cpu) / float64(b.N*nodes*int(m.FileSize()))
		b.ReportMetric(perByte, "ns/B")
		b.ReportMetric(perByte/(bound/float64(b.N)), "x_bound")
		b.ReportMetric(float64(peak)/(1<<20), "heap_MiB")
		b.ReportMetric(float64(faults)/float64(b.N*nodes), "faults/dev")
	})
}

// benchAccounts enrolls every device, each its own account.
type benchAccounts struct{}

func (benchAccounts) Account(_ context.Context, id identity.ID) (string, error) {
	return "acct-" + strings.ToLower(id.Short()), nil
}
