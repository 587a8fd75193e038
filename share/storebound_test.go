package share

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kith-media/kith/share/library"
)

// storeBound is what storing a byte costs a device and reading it back once
// costs the device that serves it, in ns of CPU a byte, measured now (same
// run) as tlsBound is: the median of boundRuns measurements of storeOnce.
//
// It is not part of the crypto-and-TLS bound the issue names (tlsBound);
// the crowd reports it beside that bound (ns/B_store, and x_bound_store:
// s_all over a bound that also counts this per byte) so that whether a
// download's disk belongs in the bound can be decided on figures measured
// in the same run rather than on estimates (session 32's note).
func storeBound(b *testing.B, fileSize int64, chunkSize int) float64 {
	b.Helper()
	perByte := make([]float64, boundRuns)
	for i := range boundRuns {
		perByte[i] = storeOnce(b, fileSize, chunkSize)
	}
	slices.Sort(perByte)
	return perByte[boundRuns/2]
}

// storeOnce stores 64 MiB as downloads of fileSize bytes (one file each)
// the way share/library does a chunk at a time (WriteChunk: a pwrite at the
// chunk's offset, the writeback of each MiB started with
// sync_file_range, an fsync when the file is whole), then reads every
// chunk back once (an upload of it: ReadChunk's pread), on one locked
// thread, and returns its CPU a byte. Not counted: the library's index
// (SQLite), the rename of a whole file and the chunk's hash (tlsBound
// counts that), nor the kernel's flusher threads (cpu_s does not count
// them either).
func storeOnce(b *testing.B, fileSize int64, chunkSize int) float64 {
	b.Helper()
	const stream = 64 << 20
	fileSize = min(fileSize, stream)
	files := max(1, int(stream/fileSize))
	dir := b.TempDir()
	chunk := make([]byte, chunkSize)
	for i := range chunk {
		chunk[i] = byte(i * 13)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	for f := range files {
		fh, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.part", f)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		var lo, written int64
		for off := int64(0); off < fileSize; off += int64(chunkSize) {
			n := min(int64(chunkSize), fileSize-off)
			if _, err := fh.WriteAt(chunk[:n], off); err != nil {
				b.Fatal(err)
			}
			if written += n; written >= library.WritebackBatch && off+n < fileSize {
				if err := unix.SyncFileRange(int(fh.Fd()), lo, off+n-lo, unix.SYNC_FILE_RANGE_WRITE); err != nil {
					b.Fatal(err)
				}
				lo, written = off+n, 0
			}
		}
		if err := fh.Sync(); err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < fileSize; off += int64(chunkSize) {
			n := min(int64(chunkSize), fileSize-off)
			if _, err := fh.ReadAt(chunk[:n], off); err != nil {
				b.Fatal(err)
			}
		}
		if err := fh.Close(); err != nil {
			b.Fatal(err)
		}
	}
	cpu := threadCPU() - t0
	// Its 64 MiB go now, not with the benchmark's temporary folder: a
	// crowd's cell measures it five times, and the measurements after it
	// (and BenchmarkCrowdBound's rounds) should not share the page cache
	// and the disk with them.
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	return float64(cpu) / float64(int64(files)*fileSize)
}
