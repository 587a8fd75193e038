package player

import (
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/pulsetest"
	"github.com/kith-media/kith/player/av"
)

// syncFlashes are the times of the white flashes (each with a 100 ms beep)
// in player/av's clips.sh sync-10s.mp4 (H.264 + AAC, 250 frames at 25 fps).
var syncFlashes = []time.Duration{2 * time.Second, 5 * time.Second, 8 * time.Second}

// TestPulseAVSync plays the 10 s sync clip through the real output,
// recorded across the test: each of its three beeps is recorded and its
// white frame shown within 40 ms of it (issue 17), ≥ 95 % of the 250
// frames are presented, and the A/V offset p95 on the audio clock is
// ≤ 40 ms. (The beep → flash figures of 56–236 ms seen before at load
// 20–50 were the recorder's: its clock paired a file size with the
// ticker's time, read up to 226 ms before the size; the player's clock
// and presenter were within 10 ms all along.) Real time on the shared
// 2-core machine gets up to three plays (every attempt's figures are
// logged).
func TestPulseAVSync(t *testing.T) {
	srv := needPulse(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("skipping: ffmpeg not installed: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", filepath.Join("av", "testdata", "clips.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("clips.sh: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "sync-10s.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		gaps, st := syncOnce(t, srv, data)
		worst := time.Duration(0)
		for _, g := range gaps {
			worst = max(worst, g.Abs())
		}
		problem := ""
		switch {
		case len(gaps) != len(syncFlashes):
			problem = fmt.Sprintf("%d flash/beep pairs, want %d", len(gaps), len(syncFlashes))
		case st.FramesPresented < 238 || st.FramesPresented+st.FramesDropped != 250:
			problem = fmt.Sprintf("%d of 250 frames presented (%d dropped), want ≥ 238", st.FramesPresented, st.FramesDropped)
		case st.OffsetP95ms > 40:
			problem = fmt.Sprintf("A/V offset p95 %.1f ms, want ≤ 40", st.OffsetP95ms)
		case worst > 40*time.Millisecond:
			problem = fmt.Sprintf("a flash shown %s from its recorded beep, want ≤ 40 ms", ms(worst))
		}
		if problem == "" {
			t.Logf("flash − beep worst %s (≤ 40 ms), A/V offset p95 %.1f ms", ms(worst), st.OffsetP95ms)
			return
		}
		if attempt == 3 {
			t.Fatalf("%s (video stats %+v, flash − beep %v)", problem, st, gaps)
		}
		t.Logf("attempt %d: %s; trying again", attempt, problem)
	}
}

// syncOnce plays the clip once and returns, for each flash, the time from
// its beep reaching the sink to the white frame being shown (negative:
// shown first), and the video counts.
func syncOnce(t *testing.T, srv *pulsetest.Server, data []byte) ([]time.Duration, av.Stats) {
	t.Helper()
	rec := srv.Record(t, filepath.Join(t.TempDir(), "rec.wav"))
	p, _ := realPlayer(t, &sealedSource{titles: map[string]*sealedTitle{"v": sealTitle(t, "v", data, "video/mp4", 0)}},
		func(o *Options) { o.VideoWidth, o.VideoHeight = 160, 120 })
	// The sink sees each frame as it is shown (the event channel may lag).
	sink := &flashSink{}
	p.SetVideoSink(sink)
	start := rec.FrameAt(time.Now())
	p.Play("v")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s := p.Status(); s.State == StateStopped && s.Video != nil {
			break
		}
	}
	x, rate := stopRecording(t, rec)
	var beeps []time.Time
	for _, sg := range pulsetest.Segments(x[start:], rate, 0.05, 20*time.Millisecond) {
		if sg.Sound {
			beeps = append(beeps, rec.TimeAt(start+int64(sg.Start)))
		}
	}
	flashes := sink.flashes()
	var gaps []time.Duration
	for i := range min(len(beeps), len(flashes)) {
		gaps = append(gaps, flashes[i].Sub(beeps[i]))
	}
	st := *p.Status().Video
	var s []string
	for _, g := range gaps {
		s = append(s, ms(g))
	}
	t.Logf("measured: %d beeps recorded, %d flashes shown; flash − beep: %s; video stats %+v",
		len(beeps), len(flashes), strings.Join(s, ", "), st)
	return gaps, st
}

// flashSink notes when each white frame is shown (the first of a run).
type flashSink struct {
	mu    sync.Mutex
	at    []time.Time
	white bool
}

func (s *flashSink) VideoBox() (int, int) { return 160, 120 }

func (s *flashSink) VideoFrame(img *image.RGBA) {
	now := time.Now()
	c := img.RGBAAt(img.Rect.Dx()/2, img.Rect.Dy()/2)
	s.mu.Lock()
	defer s.mu.Unlock()
	white := c.R >= 250
	if white && !s.white {
		s.at = append(s.at, now)
	}
	s.white = white
}

func (s *flashSink) flashes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...)
}
