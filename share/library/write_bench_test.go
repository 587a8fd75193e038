//go:build unix

package library

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWriteChunks is the CPU a byte of storing downloads costs the
// library: 16 downloads of an 8 MiB title at once (the chunk-path
// benchmark's), 256 KiB chunks, each download's chunks in order but for a
// shuffle within every 4 (a fetcher's requests in flight), the downloads
// interleaved chunk by chunk as their answers arrive; WriteChunk checks
// each chunk's SHA-256, writes it, starts its writeback, and fsyncs the
// batches and every download's end. Reported: ns/B of process CPU
// (getrusage) for the writes, and of that, outside the chunk check
// (write_ns/B: the page cache, writeback, fsync and index).
//
//	go test -tags libsqlite3 -run '^$' -bench WriteChunks -benchtime 5x ./share/library/
func BenchmarkWriteChunks(b *testing.B) {
	const (
		downloads = 16
		cs        = 256 << 10
		size      = 8 << 20
	)
	ctx := context.Background()
	file, m, _, _ := sealedFile(b, size, cs)
	n := m.NumChunks()
	chunks := make([][]byte, n)
	for i := range chunks {
		chunks[i] = chunkOf(m, file, i)
	}
	var check, cpu time.Duration
	rng := rand.New(rand.NewPCG(1, 2))
	for range b.N {
		b.StopTimer()
		libs := make([]*Library, downloads)
		orders := make([][]int, downloads)
		for d := range libs {
			libs[d] = openLib(b, b.TempDir())
			if err := libs[d].AddManifest(ctx, m); err != nil {
				b.Fatal(err)
			}
			o := make([]int, n)
			for i := range o {
				o[i] = i
			}
			for w := 0; w < n; w += 4 {
				win := o[w:min(w+4, n)]
				rng.Shuffle(len(win), func(a, c int) { win[a], win[c] = win[c], win[a] })
			}
			orders[d] = o
		}
		c1 := cpuNow() // the chunk checks alone, to tell them from the rest
		for i, c := range chunks {
			for range downloads {
				if err := m.VerifyChunk(i, c); err != nil {
					b.Fatal(err)
				}
			}
		}
		check += cpuNow() - c1
		b.StartTimer()
		c2 := cpuNow()
		for k := range n {
			for d, l := range libs {
				i := orders[d][k]
				if err := l.WriteChunk(m.ContentID(), i, chunks[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		cpu += cpuNow() - c2
		b.StopTimer()
		for _, l := range libs {
			l.Close()
		}
		b.StartTimer()
	}
	bytes := float64(b.N * downloads * int(m.FileSize()))
	b.ReportMetric(float64(cpu)/bytes, "ns/B")
	b.ReportMetric(float64(cpu-check)/bytes, "write_ns/B")
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
