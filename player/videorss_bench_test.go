package player

import (
	"bufio"
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// countSink is a 1080p video view that counts the frames it is given.
type countSink struct{ n atomic.Int64 }

func (s *countSink) VideoBox() (int, int)   { return 1920, 1080 }
func (s *countSink) VideoFrame(*image.RGBA) { s.n.Add(1) }

// BenchmarkPeakRSSVideo1GiB plays a 1 GiB 1080p30 H.264 + AAC video,
// sealed on disk (made at benchmark time: a 10 s clip at 40 Mbit/s from
// ffmpeg, looped by remuxing to 1 GiB), with the sound through the fake
// output in real time and the picture converted to 1920×1080 for a view:
// 2 s from the start, then 2 s after each of three seeks across the title.
// It reports the process's peak RSS (VmHWM) during playback (issue 17's
// target: ≤ 200 MB) and the frames presented and dropped while presenting
// 1080p30 (counted per part, as Status reports the part since a seek).
//
//	go test -tags libsqlite3 -run '^$' -bench PeakRSSVideo1GiB -benchtime 1x ./player/
func BenchmarkPeakRSSVideo1GiB(b *testing.B) {
	if testing.Short() {
		b.Skip("1 GiB benchmark")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skipf("ffmpeg not installed: %v", err)
	}
	dir := b.TempDir()
	clip, big := filepath.Join(dir, "clip.mp4"), filepath.Join(dir, "big.mp4")
	ff := func(args ...string) {
		b.Helper()
		cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	ff("-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=10", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=10",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "40M", "-maxrate", "40M", "-bufsize", "80M", "-g", "60",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", clip)
	fi, err := os.Stat(clip)
	if err != nil {
		b.Fatal(err)
	}
	loops := int((1<<30)/fi.Size()) + 1
	ff("-stream_loop", strconv.Itoa(loops-1), "-i", clip, "-c", "copy", "-movflags", "+faststart", big)
	plain, err := os.Open(big)
	if err != nil {
		b.Fatal(err)
	}
	pfi, _ := plain.Stat()
	_, dev := identities(b)
	key, err := sealed.NewContentKey()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "big.sealed")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	m, err := sealed.Seal(bw, bufio.NewReaderSize(plain, 1<<20), key, sealed.Options{MediaType: "video/mp4", Length: pfi.Size()})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	plain.Close()
	if err != nil {
		b.Fatal(err)
	}
	os.Remove(big)
	os.Remove(clip)
	st := licenseFor(b, "big", m, key, dev)
	src := &fileSealedSource{dir: dir, titles: map[string]*sealedTitle{"big": st}}
	if err := os.Rename(path, filepath.Join(dir, m.ContentID().String()+".sealed")); err != nil {
		b.Fatal(err)
	}
	p, err := New(Options{Source: src, Output: newFakeOutput(rate), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	sink := &countSink{}
	p.SetVideoSink(sink)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	// Reset the peak to now, so making and sealing the file do not count.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	b.ResetTimer()
	evs, unsub := p.Subscribe()
	defer unsub()
	p.Play("big")
	for e := range evs {
		if e.Kind == EventState && e.State == StatePlaying {
			break
		}
	}
	time.Sleep(2 * time.Second)
	var dur time.Duration
	presented, dropped := 0, 0
	count := func() { // the counts of the part played since the last seek
		if v := p.Status().Video; v != nil {
			presented += v.FramesPresented
			dropped += v.FramesDropped
		}
	}
	for i := 0; i < b.N; i++ {
		for k := 1; k <= 3; k++ {
			count()
			s := p.Status()
			dur = s.Duration
			p.Seek(time.Duration(k) * s.Duration / 4)
			time.Sleep(2 * time.Second)
		}
	}
	count()
	p.Stop()
	b.ReportMetric(float64(dropped), "frames-dropped")
	b.ReportMetric(float64(presented), "frames-presented")
	b.ReportMetric(vm(b, "VmHWM")/1024, "MB-peak-RSS")
	b.ReportMetric(float64(sink.n.Load()), "frames-shown")
	b.ReportMetric(float64(pfi.Size())/(1<<20), "MiB-title")
	b.Logf("title %d MiB, %v long; %d frames shown", pfi.Size()>>20, dur.Round(time.Second), sink.n.Load())
}
