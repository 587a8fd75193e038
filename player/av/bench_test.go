package av

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// clip1080 makes a 1080p30 H.264 + AAC clip of d seconds with ffmpeg.
func clip1080(b *testing.B, d int) []byte {
	b.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skipf("skipping: ffmpeg not installed: %v", err)
	}
	path := filepath.Join(b.TempDir(), "1080p30.mp4")
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d="+itoa(d),
		"-f", "lavfi", "-i", "sine=d="+itoa(d), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-g", "60",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecode1080p30 decodes a 1080p30 H.264 + AAC clip (6 s, made by
// ffmpeg) and converts every frame to RGBA at 1920×1080 and the sound to
// 44.1 kHz float32, reporting the CPU time spent per second of video as a
// percentage of one core (FFmpeg runs one decoding thread here), and the
// frames decoded.
func BenchmarkDecode1080p30(b *testing.B) {
	data := clip1080(b, 6)
	var frames int
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		m, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), Options{SampleRate: 44100})
		if err != nil {
			b.Fatal(err)
		}
		frames = 0
		for {
			f, err := m.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if f.Kind == Video {
				frames++
			}
		}
		m.Close()
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(frames), "frames")
	b.ReportMetric(100*cpu.Seconds()/float64(b.N)/6, "%core")
}

// BenchmarkFirstFrame is open → first RGBA frame of a local 1080p30 title
// (from memory, as a sealed title's plaintext reader serves it).
func BenchmarkFirstFrame(b *testing.B) {
	data := clip1080(b, 2)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), Options{SampleRate: 44100})
		if err != nil {
			b.Fatal(err)
		}
		for {
			f, err := m.Next()
			if err != nil {
				b.Fatal(err)
			}
			if f.Kind == Video {
				break
			}
		}
		lat = append(lat, time.Since(t0))
		m.Close()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
}
