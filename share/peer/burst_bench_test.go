package peer

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// BenchmarkChunkBurst: bursts of 16 chunk requests at once over real TLS
// (the chunk wire, server and client in this process), each after an idle
// spell: two collections empty sync.Pool and the pages freed go back to
// the kernel (debug.FreeOSMemory; the runtime's scavenger does the same
// over minutes). A burst then reads and serves its chunks in buffers that
// are fresh memory unless they come from pages the process kept (the
// huge-page arenas, arena.go). Reported per burst: the page faults
// (faults/burst, getrusage minflt) and the process's CPU (cpu_ms/burst),
// both taken around the burst only.
//
//	go test -tags libsqlite3 -run '^$' -bench ChunkBurst -benchtime 50x ./share/peer/
func BenchmarkChunkBurst(b *testing.B) {
	const burst = 16
	c := makeContent(b, burst*sealed.DefaultChunkSize, sealed.DefaultChunkSize, 31)
	a, me := newIdent(b), newIdent(b)
	_, addr := startServer(b, ServerOptions{Identity: a, Library: holder(b, c), Accounts: everyoneEnrolled{}, MaxUploadsPerPeer: burst})
	cl := client(b, me, a.ID(), addr)
	ctx := context.Background()
	if _, err := cl.Have(ctx, c.m.ContentID(), c.m.NumChunks()); err != nil { // the connection
		b.Fatal(err)
	}
	usage := func() (time.Duration, int64) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
	}
	var cpu time.Duration
	var faults int64
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		cpu0, f0 := usage()
		var wg sync.WaitGroup
		errs := make(chan error, burst)
		for i := range burst {
			wg.Go(func() {
				buf, err := cl.Chunk(ctx, c.m, i, nil)
				if err == nil {
					err = c.m.VerifyChunk(i, buf)
					putChunkBuf(&buf)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		cpu1, f1 := usage()
		cpu += cpu1 - cpu0
		faults += f1 - f0
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(faults)/float64(b.N), "faults/burst")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu_ms/burst")
}
