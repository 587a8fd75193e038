package player

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/pulsetest"
)

// TestPulseFFmpegTitles plays an AAC (.m4a) and an Opus (.opus) title and
// the sound of an MP4 (H.264 + AAC) video, made by player/av's clips.sh,
// through the real output (one recording across the test): each is heard
// as ffmpeg's own decode of it (correlation ≥ 0.99 over its 4 s: silence,
// a beep at 2 s, silence), and the player ends it at its end. Up to three
// rounds, each logged (an underrun from a paused process breaks the
// correlation), as TestPulseFormats.
func TestPulseFFmpegTitles(t *testing.T) {
	srv := needPulse(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("skipping: ffmpeg not installed (scripts/deps.sh test installs it): %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", filepath.Join("av", "testdata", "clips.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("clips.sh: %v: %s", err, out)
	}
	titles := map[string]*sealedTitle{}
	files := map[string]string{"m4a": "beep.m4a", "opus": "beep.opus", "mp4": "h264-aac.mp4"}
	types := map[string]string{"m4a": "audio/mp4", "opus": "audio/opus", "mp4": "video/mp4"}
	data := map[string][]byte{}
	for id, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		data[id] = b
		titles[id] = sealTitle(t, id, b, types[id], 0)
	}
	p, ev := realPlayer(t, &sealedSource{titles: titles}, nil)
	for attempt := 1; ; attempt++ {
		problem := ffmpegOnce(t, srv, p, ev, data, filepath.Join(dir, fmt.Sprintf("rec%d.wav", attempt)))
		if problem == "" {
			return
		}
		if attempt == 3 {
			t.Fatal(problem)
		}
		t.Logf("attempt %d: %s; trying again", attempt, problem)
	}
}

// ffmpegOnce plays the three titles in turn, recorded into path, and says
// what is wrong with what was heard ("" if nothing).
func ffmpegOnce(t *testing.T, srv *pulsetest.Server, p *Player, ev *events, data map[string][]byte, path string) string {
	t.Helper()
	rec := srv.Record(t, path)
	starts := map[string]int64{}
	for _, id := range []string{"m4a", "opus", "mp4"} {
		starts[id] = rec.FrameAt(time.Now())
		n := len(ev.snapshot())
		p.Play(id)
		e := ev.waitFrom(t, n, 30*time.Second, id+" track", func(e Event) bool { return e.Kind == EventTrack })
		if (e.Duration - 4*time.Second).Abs() > 50*time.Millisecond {
			t.Errorf("%s: duration %v, want 4s", id, e.Duration)
		}
		ev.waitFrom(t, n, 30*time.Second, id+" stopped", isState(StateStopped))
	}
	x, rrate := stopRecording(t, rec)
	var problems []string
	for _, id := range []string{"m4a", "opus", "mp4"} {
		ref := reference(t, data[id], rrate)
		refOn := pulsetest.FirstSound(ref, rrate, 0.01)
		on := pulsetest.FirstSound(x[starts[id]:], rrate, 0.01)
		if on < 0 || refOn < 0 {
			problems = append(problems, id+": no beep heard")
			continue
		}
		at := int(starts[id]) + on - refOn
		w := rrate * 60 / 1000
		lag, r := pulsetest.Correlate(x, ref, at-w, at+w)
		start := time.Duration(lag-int(starts[id])) * time.Second / time.Duration(rrate)
		t.Logf("measured: %s heard from %s after play, correlation with ffmpeg's decode %.4f", id, ms(start), r)
		if r < 0.99 {
			problems = append(problems, fmt.Sprintf("%s: correlation %.4f, want ≥ 0.99", id, r))
		}
	}
	return strings.Join(problems, "; ")
}
