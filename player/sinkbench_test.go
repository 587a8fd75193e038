package player

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/pulsetest"
)

// BenchmarkTimeToFirstSound measures play → first sound at the sink: a
// local sealed MP3 (a 0.4 s sweep made by sox and lame) played b.N times
// through the real device output into the PulseAudio null sink, one
// recording across the run, each title's first sound found in it. It sits
// beside BenchmarkTimeToFirstPCM, which stops where PCM is handed to the
// output.
func BenchmarkTimeToFirstSound(b *testing.B) {
	srv := needPulse(b)
	for _, tool := range []string{"sox", "lame"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipping: %s not installed", tool)
		}
	}
	dir := b.TempDir()
	mp3 := encode(b, dir, "s.mp3", "sox -n -r 44100 -c 2 -b 16 s.wav synth 0.4 sine 300-3000 vol 0.5\n"+
		"lame --quiet -b 192 --noreplaygain s.wav s.mp3")
	st := sealTitle(b, "s", mp3, "audio/mpeg", 0)
	rec := srv.Record(b, filepath.Join(dir, "rec.wav"))
	p, err := New(Options{Source: &sealedSource{titles: map[string]*sealedTitle{"s": st}},
		Output: NewDeviceOutput(DeviceOptions{SampleRate: rate}), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	var starts []int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		starts = append(starts, rec.FrameAt(time.Now()))
		p.Play("s")
		started := false
		for deadline := time.Now().Add(10 * time.Second); ; {
			st := p.Status().State
			started = started || st == StatePlaying
			if started && st == StateStopped {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("title did not end")
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	if err := rec.Stop(); err != nil {
		b.Fatal(err)
	}
	x, rrate, err := pulsetest.ReadWAV(rec.Path)
	if err != nil {
		b.Fatal(err)
	}
	var lat []float64
	for _, f0 := range starts {
		on := pulsetest.FirstSound(x[f0:], rrate, 0.01)
		if on < 0 {
			b.Fatalf("no sound after frame %d", f0)
		}
		lat = append(lat, float64(on)*1000/float64(rrate))
	}
	sort.Float64s(lat)
	b.ReportMetric(lat[len(lat)/2], "ms-median")
	b.ReportMetric(lat[len(lat)*95/100], "ms-p95")
}
