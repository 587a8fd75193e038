package peer

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

var (
	bigOnce sync.Once
	bigC    *content
	bigLib  *library.Library
	bigPath string
	bigDir  string // removed by TestMain
)

// bigHolder builds once a library holding a sealed file of BENCH_MB MiB
// (default 1024) with the default chunk size.
func bigHolder(b *testing.B) (*content, *library.Library, string) {
	bigOnce.Do(func() {
		mb := 1024
		if v := os.Getenv("BENCH_MB"); v != "" {
			if n, err := parseInt(v); err == nil {
				mb = n
			}
		}
		dir, err := os.MkdirTemp("", "kith-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bigDir = dir
		bigC = makeContent(b, mb<<20, sealed.DefaultChunkSize, 99)
		bigLib, err = library.Open(dir, library.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if err := bigLib.AddManifest(context.Background(), bigC.m); err != nil {
			b.Fatal(err)
		}
		cid := bigC.m.ContentID()
		for i := 0; i < bigC.m.NumChunks(); i++ {
			if err := bigLib.WriteChunk(cid, i, bigC.chunk(i)); err != nil {
				b.Fatal(err)
			}
		}
		bigC.plain = nil
		bigPath = filepath.Join(dir, "content", bigC.m.ContentID().String()+".sealed")
	})
	return bigC, bigLib, bigPath
}

// processCPU is the CPU time (user and system) the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readCalls is the read system calls this process has made (syscr in
// /proc/self/io); false where there is no such file.
func readCalls() (int, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr: "); ok {
			n, err := parseInt(v)
			return n, err == nil
		}
	}
	return 0, false
}

func parseInt(s string) (int, error) {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, os.ErrInvalid
		}
		n = n*10 + int(r-'0')
	}
	return n, nil
}

// BenchmarkThroughput moves one sealed file (1 GiB; BENCH_MB to change)
// between two devices on loopback: kith = peer server → Fetcher (mutual TLS
// 1.3; the pair's HTTP/2 connection, then the bulk lane's HTTP/1.1 ones;
// every chunk verified, written and fsynced into a library); https = plain
// Go HTTPS (TLS 1.3, HTTP/1.1, one connection) serving the same file with
// http.ServeFile to a client copying it into a file and fsyncing it. Both
// write the same bytes to the same disk and both connections are kept
// between runs (no handshake in either figure after the first run).
//
//	go test -tags libsqlite3 -run '^$' -bench Throughput -benchtime 3x ./share/peer/
func BenchmarkThroughput(b *testing.B) {
	c, lib, path := bigHolder(b)
	size := c.m.FileSize()
	a, me := newIdent(b), newIdent(b)
	_, addr := startServer(b, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{}})
	cl := client(b, me, a.ID(), addr)
	// Each transfer function excludes its setup and cleanup from the timer.
	kith := func(b *testing.B) time.Duration {
		b.StopTimer()
		dst, err := library.Open(b.TempDir(), library.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		dst.AddManifest(context.Background(), c.m)
		f, _ := NewFetcher(FetchOptions{Manifest: c.m, Sink: dst, Sources: []Source{cl.Source(c.m)}, Logger: quiet})
		b.StartTimer()
		t0 := time.Now()
		if err := f.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		b.StopTimer()
		dst.Close()
		b.StartTimer()
		return d
	}

	cert, _ := a.Certificate()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }),
		TLSConfig:    &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	go hs.ServeTLS(ln, "", "")
	defer hs.Close()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, ReadBufferSize: 64 << 10}}
	https := func(b *testing.B) time.Duration {
		b.StopTimer()
		out, err := os.Create(filepath.Join(b.TempDir(), "copy"))
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		b.StartTimer()
		t0 := time.Now()
		resp, err := hc.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(out, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("copied %d of %d: %v", n, size, err)
		}
		out.Sync()
		return time.Since(t0)
	}
	for _, v := range []struct {
		name string
		run  func(*testing.B) time.Duration
	}{{"kith", kith}, {"https", https}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				v.run(b)
			}
		})
	}
	// paired alternates the two, so a busy shared machine hurts both alike;
	// ratio = kith throughput / https throughput. cpu_s/GB is the CPU the
	// process (both ends) spent per GB moved, setup excluded: with both
	// ends on one machine it says what a byte costs, which the wall clock
	// of a shared machine does not.
	b.Run("paired", func(b *testing.B) {
		b.SetBytes(2 * size)
		var tk, th, ck, ch time.Duration
		for range b.N {
			c0 := processCPU(b)
			tk += kith(b)
			c1 := processCPU(b)
			th += https(b)
			ck += c1 - c0
			ch += processCPU(b) - c1
		}
		gb := float64(size) * float64(b.N) / 1e9
		b.ReportMetric(gb*1e3/tk.Seconds(), "kith_MB/s")
		b.ReportMetric(gb*1e3/th.Seconds(), "https_MB/s")
		b.ReportMetric(th.Seconds()/tk.Seconds(), "ratio")
		b.ReportMetric(ck.Seconds()/gb, "kith_cpu_s/GB")
		b.ReportMetric(ch.Seconds()/gb, "https_cpu_s/GB")
	})
}

// BenchmarkFirstChunk: time from nothing (no connection) to the first
// verified chunk from a neighbour: TLS handshake, manifest, chunk 0, hash.
//
//	go test -tags libsqlite3 -run '^$' -bench FirstChunk ./share/peer/
func BenchmarkFirstChunk(b *testing.B) {
	c := makeContent(b, 4<<20, sealed.DefaultChunkSize, 7)
	a, me := newIdent(b), newIdent(b)
	_, addr := startServer(b, ServerOptions{Identity: a, Library: holder(b, c), Accounts: everyoneEnrolled{}})
	ctx := context.Background()
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		t0 := time.Now()
		cl, _ := NewClient(me, a.ID(), []string{addr}, ClientOptions{})
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

// BenchmarkRequest is the CPU one request costs both ends of a pair's
// connection (client and server in this process): a /have poll, and a
// chunk request of a crowd-sized title (256 KiB chunks), over the pair's
// one connection, which is open before the timer starts: the chunk wire
// (have, chunk), HTTP/2 with a client that does not offer the wire
// (have-h2, chunk-h2: an older peer), and the same chunk requests over an
// HTTP/1.1 connection of the bulk lane (chunk-h1: no HTTP/2 framing, flow
// control or per-stream copies), and the chunk wire's chunk request with
// corkConn's read-ahead off (chunk-noahead: each TLS record's own socket
// reads, the baseline of the read-ahead). reads/req is the process's read
// system calls a request (/proc/self/io's syscr, both ends; a read that
// found nothing waiting counts too), on Linux. The
// chunk is neither hashed nor stored by the client here, so the figure
// compares with the crypto-and-TLS bound's CPU a chunk less the hash.
// cpu_us/req is the process's CPU per request (user and system), which
// a busy shared machine does not inflate as it does the wall clock.
//
//	go test -tags libsqlite3 -run '^$' -bench Request -benchtime 2000x ./share/peer/
func BenchmarkRequest(b *testing.B) {
	c := makeContent(b, 8<<20, sealed.DefaultChunkSize, 11)
	a, me := newIdent(b), newIdent(b)
	srvA, addr := startServer(b, ServerOptions{Identity: a, Library: holder(b, c), Accounts: everyoneEnrolled{}})
	cl := client(b, me, a.ID(), addr)
	ctx := context.Background()
	cid, n := c.m.ContentID(), c.m.NumChunks()
	if _, err := cl.Have(ctx, cid, n); err != nil { // the connection
		b.Fatal(err)
	}
	buf := make([]byte, sealed.DefaultChunkSize+sealed.Overhead+1)
	h2, err := NewClient(me, a.ID(), []string{addr}, ClientOptions{httpOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer h2.Close()
	if _, err := h2.Have(ctx, cid, n); err != nil {
		b.Fatal(err)
	}
	h1 := client(b, me, a.ID(), addr)
	h1.bulk.after = 0
	h1.bulk.until.Store(1 << 62) // every chunk request over the lane
	if _, err := h1.Have(ctx, cid, n); err != nil {
		b.Fatal(err)
	}
	if _, err := h1.Chunk(ctx, c.m, 0, buf); err != nil { // the lane's connection
		b.Fatal(err)
	}
	// The wire both ways (kith-wire/2): a client of a device running its
	// own server, forward (2) and back over the connection the other
	// device dialled (back: no handshake of its own).
	srvMe, addrMe := startServer(b, ServerOptions{Identity: me, Library: holder(b, c), Accounts: everyoneEnrolled{}})
	for srvA.serving() == nil || srvMe.serving() == nil {
		time.Sleep(time.Millisecond)
	}
	fwd, err := NewClient(me, a.ID(), []string{addr}, ClientOptions{Server: srvMe})
	if err != nil {
		b.Fatal(err)
	}
	defer fwd.Close()
	if _, err := fwd.Have(ctx, cid, n); err != nil {
		b.Fatal(err)
	}
	back, err := NewClient(a, me.ID(), []string{addrMe}, ClientOptions{Server: srvA})
	if err != nil {
		b.Fatal(err)
	}
	defer back.Close()
	for _, v := range []struct {
		name string
		do   func(i int) error
	}{
		{"have", func(int) error { _, err := cl.Have(ctx, cid, n); return err }},
		{"have-2", func(int) error { _, err := fwd.Have(ctx, cid, n); return err }},
		{"chunk-2", func(i int) error { _, err := fwd.Chunk(ctx, c.m, i%n, buf); return err }},
		{"have-back", func(int) error { _, err := back.Have(ctx, cid, n); return err }},
		{"chunk-back", func(i int) error { _, err := back.Chunk(ctx, c.m, i%n, buf); return err }},
		{"chunk", func(i int) error { _, err := cl.Chunk(ctx, c.m, i%n, buf); return err }},
		{"chunk-noahead", func(i int) error { _, err := cl.Chunk(ctx, c.m, i%n, buf); return err }},
		{"have-h2", func(int) error { _, err := h2.Have(ctx, cid, n); return err }},
		{"chunk-h2", func(i int) error { _, err := h2.Chunk(ctx, c.m, i%n, buf); return err }},
		{"chunk-h1", func(i int) error { _, err := h1.Chunk(ctx, c.m, i%n, buf); return err }},
	} {
		b.Run(v.name, func(b *testing.B) {
			if v.name == "chunk-noahead" {
				readAheadOff.Store(true)
				defer readAheadOff.Store(false)
			}
			r0, rok := readCalls()
			c0 := processCPU(b)
			for i := range b.N {
				if err := v.do(i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-c0).Microseconds())/float64(b.N), "cpu_us/req")
			if r1, ok := readCalls(); rok && ok {
				b.ReportMetric(float64(r1-r0)/float64(b.N), "reads/req")
			}
		})
	}
	if n := back.Handshakes(); n != 0 {
		b.Fatalf("the way back dialled %d connections", n)
	}
}
