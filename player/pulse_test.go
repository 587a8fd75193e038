package player

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/pulsetest"
)

// soundSegments returns the sound parts of a recording.
func soundSegments(x []float64, rate int) []pulsetest.Segment {
	var out []pulsetest.Segment
	for _, s := range pulsetest.Segments(x, rate, 0.05, 30*time.Millisecond) {
		if s.Sound {
			out = append(out, s)
		}
	}
	return out
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("decode", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realPlayer builds a player on the real device output (the pulse null sink).
func realPlayer(t *testing.T, src Source, mod func(*Options)) (*Player, *events) {
	t.Helper()
	// The default device buffer (200 ms), as the app uses it.
	o := Options{Source: src, Output: NewDeviceOutput(DeviceOptions{SampleRate: rate})}
	if mod != nil {
		mod(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ev := collect(t, p)
	run(t, p)
	return p, ev
}

// TestPulseFormats plays sealed, licensed MP3, Ogg Vorbis, FLAC and WAV
// titles (1 s of 440 Hz then 1 s of 1 kHz) into the PulseAudio null sink,
// records its monitor and checks duration and frequencies of what was heard.
// Real time on a shared machine gets up to three plays of each title (an
// underrun from a paused process splits the sound in two; every attempt is
// logged), as TestPulseAVSync does.
func TestPulseFormats(t *testing.T) {
	srv := needPulse(t)
	titles := map[string]*sealedTitle{
		"wav":  sealTitle(t, "wav", toneWAV(rate, time.Second, 440, 1000), "audio/wav", 0),
		"mp3":  sealTitle(t, "mp3", readFixture(t, "tone.mp3"), "audio/mpeg", 0),
		"ogg":  sealTitle(t, "ogg", readFixture(t, "tone.ogg"), "audio/ogg", 0),
		"flac": sealTitle(t, "flac", readFixture(t, "tone48m.flac"), "audio/flac", 0),
	}
	p, ev := realPlayer(t, &sealedSource{titles: titles}, nil)
	for _, name := range []string{"wav", "mp3", "ogg", "flac"} {
		t.Run(name, func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				problem := playFormat(t, srv, p, ev, name)
				if problem == "" {
					return
				}
				if attempt == 3 {
					t.Fatal(problem)
				}
				t.Logf("attempt %d: %s; trying again", attempt, problem)
			}
		})
	}
}

// playFormat plays title name once, recorded, and says what is wrong with
// what was heard ("" if nothing).
func playFormat(t *testing.T, srv *pulsetest.Server, p *Player, ev *events, name string) string {
	t.Helper()
	rec := srv.Record(t, filepath.Join(t.TempDir(), name+".wav"))
	n := len(ev.snapshot())
	p.Play(name)
	ev.waitFrom(t, n, 30*time.Second, "stopped", isState(StateStopped))
	x, rrate := stopRecording(t, rec)
	segs := soundSegments(x, rrate)
	if len(segs) != 1 {
		return fmt.Sprintf("want one sound segment, got %d: %+v", len(segs), segs)
	}
	s := segs[0]
	d := s.Duration(rrate)
	t.Logf("%s: heard %v", name, d)
	if d < 1950*time.Millisecond || d > 2120*time.Millisecond {
		return fmt.Sprintf("heard %v, want 2s (mp3 may add 50 ms of padding)", d)
	}
	a := x[s.Start+rrate/4 : s.Start+rrate*3/4]
	b := x[s.Start+rrate*5/4 : s.Start+rrate*7/4]
	var problems []string
	if f := pulsetest.Dominant(a, rrate, 220, 440, 1000, 2000); f != 440 {
		problems = append(problems, fmt.Sprintf("first second dominant %v Hz, want 440", f))
	}
	if f := pulsetest.Dominant(b, rrate, 220, 440, 1000, 2000); f != 1000 {
		problems = append(problems, fmt.Sprintf("second second dominant %v Hz, want 1000", f))
	}
	return strings.Join(problems, "; ")
}

// TestPulsePauseAndPosition pauses a real playback: the recording must show
// silence for the pause, the sound before it must last as long as the
// position the player reported, and the whole title must be heard once.
// Up to three plays, each logged (an underrun from a paused process adds a
// gap), as TestPulseFormats; the bounds are the same for each.
func TestPulsePauseAndPosition(t *testing.T) {
	srv := needPulse(t)
	st := sealTitle(t, "a", toneWAV(rate, 3*time.Second, 440), "audio/wav", 0)
	p, ev := realPlayer(t, &sealedSource{titles: map[string]*sealedTitle{"a": st}}, nil)
	for attempt := 1; ; attempt++ {
		problem := pauseOnce(t, srv, p, ev)
		if problem == "" {
			return
		}
		if attempt == 3 {
			t.Fatal(problem)
		}
		t.Logf("attempt %d: %s; trying again", attempt, problem)
	}
}

// pauseOnce plays title "a" with a pause of about 1 s, recorded, and says
// what is wrong with what was heard ("" if nothing).
func pauseOnce(t *testing.T, srv *pulsetest.Server, p *Player, ev *events) string {
	t.Helper()
	rec := srv.Record(t, filepath.Join(t.TempDir(), "pause.wav"))
	n := len(ev.snapshot())
	p.Play("a")
	ev.waitFrom(t, n, 30*time.Second, "position ≥ 1.2s", func(e Event) bool { return e.Kind == EventPosition && e.Position >= 1200*time.Millisecond })
	p.Pause()
	ev.waitFrom(t, n, 30*time.Second, "paused", isState(StatePaused))
	time.Sleep(150 * time.Millisecond)
	paused := p.Status().Position
	time.Sleep(850 * time.Millisecond)
	var problems []string
	if p2 := p.Status().Position; p2 != paused {
		problems = append(problems, fmt.Sprintf("position moved while paused: %v → %v", paused, p2))
	}
	p.Resume()
	ev.waitFrom(t, n, 30*time.Second, "stopped", isState(StateStopped))
	x, rrate := stopRecording(t, rec)
	segs := soundSegments(x, rrate)
	if len(segs) != 2 {
		return fmt.Sprintf("want sound, pause, sound; got %d sound segments: %+v", len(segs), segs)
	}
	before, gap, after := segs[0].Duration(rrate), time.Duration(segs[1].Start-segs[0].End)*time.Second/time.Duration(rrate), segs[1].Duration(rrate)
	t.Logf("reported position at pause %v; recording: %v sound, %v silence, %v sound", paused, before, gap, after)
	if diff := (paused - before).Abs(); diff > 60*time.Millisecond {
		problems = append(problems, fmt.Sprintf("reported position %v vs heard %v: off by %v (> 60ms)", paused, before, diff))
	}
	if gap < 900*time.Millisecond || gap > 1150*time.Millisecond {
		problems = append(problems, fmt.Sprintf("silence while paused lasted %v, want about 1s", gap))
	}
	if total := before + after; total < 2950*time.Millisecond || total > 3050*time.Millisecond {
		problems = append(problems, fmt.Sprintf("heard %v in all, want 3s", total))
	}
	return strings.Join(problems, "; ")
}

// TestNoAudioDevice runs the test binary again with no device at all (no
// pulse server, no sound card): the player must say so, and the lines ALSA
// and JACK print while the device is probed go to the log at debug
// level, not to stderr.
func TestNoAudioDevice(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config", "pulse"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "pulse", "client.conf"), []byte("autospawn = no\n"), 0o600)
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoAudioDeviceChild$", "-test.v")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PULSE_SERVER=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, childEnv+"=1", "HOME="+home, "XDG_RUNTIME_DIR="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoAudioDeviceChild") {
		t.Fatalf("child: %v\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "ALSA lib") || strings.Contains(strings.ToLower(l), "jack") {
			t.Errorf("audio probe noise on stderr: %q", l)
		}
	}
	if !strings.Contains(string(out), "audio device probe") {
		t.Logf("no probe message logged (the audio libraries printed nothing on this machine)")
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "reported:") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// TestNoAudioDeviceChild is TestNoAudioDevice's child process.
func TestNoAudioDeviceChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run by TestNoAudioDevice")
	}
	src := &memSource{titles: map[string][]byte{"a": toneWAV(rate, time.Second, 440)}}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug})))
	p, ev := realPlayer(t, src, nil)
	e := ev.wait(t, 30*time.Second, "no-output", isState(StateNoOutput))
	t.Logf("reported: %v", e.Err)
	if !strings.HasPrefix(e.Err.Error(), "no audio output available: ") {
		t.Errorf("error %q, want it to start with \"no audio output available: \"", e.Err)
	}
	p.Play("a")
	ev.wait(t, 30*time.Second, "error on play", func(e Event) bool { return e.Kind == EventError })
	if s := p.Status(); s.State != StateNoOutput || s.Position != 0 {
		t.Errorf("status %+v", s)
	}
	_ = context.Background
}
