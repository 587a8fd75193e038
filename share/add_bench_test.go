package share

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/share/tags"
)

// benchFolder writes about totalMiB of MP3s (5 MiB each, like an album
// folder) made of real lame frames, each file with its own ID3v2 title so
// that none is the same bytes as another.
func benchFolder(b *testing.B, totalMiB int) (string, int64) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "Music")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	wav, one := filepath.Join(b.TempDir(), "t.wav"), filepath.Join(b.TempDir(), "t.mp3")
	for _, c := range [][]string{
		{"sox", "-q", "-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", "30", "sine", "440"},
		{"lame", "--quiet", "-t", "-b", "320", wav, one},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	frames, err := os.ReadFile(one)
	if err != nil {
		b.Fatal(err)
	}
	const fileSize = 5 << 20
	body := make([]byte, 0, fileSize+len(frames))
	for len(body) < fileSize {
		body = append(body, frames...)
	}
	body = body[:fileSize]
	var total int64
	for i := 0; i < max(1, totalMiB/5); i++ {
		title := fmt.Sprintf("Bench Track %04d", i)
		frame := append([]byte("TIT2\x00\x00\x00"+string(rune(len(title)+1))+"\x00\x00\x00"), title...)
		size := len(frame)
		tag := append([]byte{'I', 'D', '3', 3, 0, 0, 0, 0, byte(size >> 7 & 0x7f), byte(size & 0x7f)}, frame...)
		f := filepath.Join(dir, fmt.Sprintf("%04d.mp3", i))
		if err := os.WriteFile(f, append(tag, body...), 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(tag) + len(body))
	}
	return dir, total
}

// BenchmarkAddFolder adds a folder of MP3s to the household from a device
// (tags read, sealed into the library, published, registered) and, as its
// baseline, copies the same folder with `cp -r`. Target: add ≥ 0.5× cp.
// KITH_BENCH_ADD_MIB sets the folder size (default 1024: about 200 files
// of 5 MiB); a smaller one suits a busy machine. KITH_BENCH_ADD_WORKERS
// sets how many files are in flight at once (default DefaultAddWorkers),
// KITH_BENCH_ADD_SEALERS how many of them are sealed at once (default
// DefaultAddSealers).
//
//	KITH_BENCH_ADD_MIB=256 go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench AddFolder -benchtime 1x ./share
func BenchmarkAddFolder(b *testing.B) {
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("KITH_BENCH_ADD_MIB")); err == nil && v > 0 {
		mib = v
	}
	workers := 0 // DefaultAddWorkers
	if v, err := strconv.Atoi(os.Getenv("KITH_BENCH_ADD_WORKERS")); err == nil && v > 0 {
		workers = v
	}
	sealers := 0 // DefaultAddSealers
	if v, err := strconv.Atoi(os.Getenv("KITH_BENCH_ADD_SEALERS")); err == nil && v > 0 {
		sealers = v
	}
	src, total := benchFolder(b, mib)
	// Each side starts with nothing waiting to be written: the folder just
	// made (and the other side's output) would otherwise still be flushing
	// under whichever runs first.
	settle := func() {
		if out, err := exec.Command("sync").CombinedOutput(); err != nil {
			b.Fatalf("sync: %v\n%s", err, out)
		}
	}
	b.Logf("folder: %d MiB in %d files", total>>20, mib/5)
	b.Run("add", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			settle()
			d := startPublishingDirectory(b, nil)
			n := startNode(b, d, "bench", nil)
			ctx := context.Background()
			cpu0 := selfCPU()
			b.StartTimer()
			files, err := tags.MediaFiles(ctx, []string{src})
			if err != nil {
				b.Fatal(err)
			}
			paths := make([]string, len(files))
			for i, f := range files {
				paths[i] = f.Path
			}
			// As the app adds a folder (app/wire media.Add): AddFiles.
			err = n.AddFiles(ctx, paths, AddFilesOptions{Workers: workers, Sealers: sealers, Done: func(p string, a *Added, err error) error {
				if err == nil && a.Existing {
					err = fmt.Errorf("%s was there already", p)
				}
				return err
			}})
			if err != nil {
				b.Fatalf("adding: %v", err)
			}
			b.StopTimer()
			// CPU per GiB: on a shared machine the wall clock mostly counts
			// waiting for a core; this does not.
			b.ReportMetric((selfCPU()-cpu0).Seconds()/(float64(total)/(1<<30)), "cpu-s/GiB")
			if err := n.lib.Close(); err != nil {
				b.Log(err)
			}
			b.StartTimer()
		}
	})
	b.Run("cp", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dst := filepath.Join(b.TempDir(), "copy")
			settle()
			b.StartTimer()
			cp := exec.Command("cp", "-r", src, dst)
			if out, err := cp.CombinedOutput(); err != nil {
				b.Fatalf("cp -r: %v\n%s", err, out)
			}
			// cp's data reaches the disk as the library's does (it syncs).
			sy := exec.Command("sync", "-f", dst)
			if out, err := sy.CombinedOutput(); err != nil {
				b.Fatalf("sync: %v\n%s", err, out)
			}
			b.StopTimer()
			cpu := cp.ProcessState.UserTime() + cp.ProcessState.SystemTime() + sy.ProcessState.UserTime() + sy.ProcessState.SystemTime()
			b.ReportMetric(cpu.Seconds()/(float64(total)/(1<<30)), "cpu-s/GiB")
			b.StartTimer()
		}
	})
}

// selfCPU is this process's user + system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
