package player

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/pulsetest"
	"github.com/kith-media/kith/player/decode"
)

const rate = 44100

func newTest(t *testing.T, src Source, mod func(*Options)) (*Player, *fakeOutput, *events) {
	t.Helper()
	out := newFakeOutput(rate)
	o := Options{Source: src, Output: out}
	if mod != nil {
		mod(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ev := collect(t, p)
	run(t, p)
	return p, out, ev
}

// TestQueueGapless plays two titles back to back: both are heard in order,
// track events come in order, and there is no silence between them.
func TestQueueGapless(t *testing.T) {
	src := &memSource{titles: map[string][]byte{
		"a": toneWAV(rate, 400*time.Millisecond, 440),
		"b": toneWAV(rate, 400*time.Millisecond, 1000),
	}}
	p, out, ev := newTest(t, src, nil)
	p.Play("a", "b")
	ev.wait(t, 30*time.Second, "track a", func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "a" })
	ev.wait(t, 30*time.Second, "track b", func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "b" })
	ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))

	x := out.samples()
	segs := pulsetest.Segments(x, rate, 0.05, 5*time.Millisecond)
	var sound []pulsetest.Segment
	for _, s := range segs {
		if s.Sound {
			sound = append(sound, s)
		}
	}
	if len(sound) != 1 {
		t.Fatalf("want one continuous sound (gapless), got %d: %+v", len(sound), segs)
	}
	if d := sound[0].Duration(rate); d < 790*time.Millisecond || d > 810*time.Millisecond {
		t.Errorf("played %v, want 800ms", d)
	}
	s := sound[0].Start
	if f := pulsetest.Dominant(x[s+rate/20:s+rate*7/20], rate, 440, 1000); f != 440 {
		t.Errorf("first title dominant %v, want 440", f)
	}
	if f := pulsetest.Dominant(x[s+rate*9/20:s+rate*15/20], rate, 440, 1000); f != 1000 {
		t.Errorf("second title dominant %v, want 1000", f)
	}
}

// TestControls drives pause, resume, seek, volume and stop and checks the
// states and positions reported.
func TestControls(t *testing.T) {
	src := &memSource{titles: map[string][]byte{"a": toneWAV(rate, 3*time.Second, 440)}}
	pos := &memPositions{}
	p, out, ev := newTest(t, src, func(o *Options) { o.Positions = pos })
	p.Play("a")
	ev.wait(t, 30*time.Second, "playing", isState(StatePlaying))
	ev.wait(t, 30*time.Second, "position ≥ 300ms", func(e Event) bool { return e.Kind == EventPosition && e.Position >= 300*time.Millisecond })
	p.Pause()
	ev.wait(t, 30*time.Second, "paused", isState(StatePaused))
	time.Sleep(100 * time.Millisecond)
	n1 := len(out.samples())
	time.Sleep(200 * time.Millisecond)
	if n2 := len(out.samples()); n2 != n1 {
		t.Errorf("output pulled %d frames while paused", n2-n1)
	}
	if d, ok, _ := pos.Load("a"); !ok || d < 300*time.Millisecond {
		t.Errorf("saved position %v %v, want ≥ 300ms", d, ok)
	}
	p.Resume()
	p.Seek(2 * time.Second)
	ev.wait(t, 30*time.Second, "position after seek", func(e Event) bool {
		return e.Kind == EventPosition && e.Position >= 2*time.Second && e.Position < 2500*time.Millisecond
	})
	p.SetVolume(0.5)
	ev.wait(t, 30*time.Second, "stopped at the end", isState(StateStopped))
	if d, _, _ := pos.Load("a"); d != 0 {
		t.Errorf("saved position after the end %v, want 0", d)
	}
	out.mu.Lock()
	vol := out.volume
	out.mu.Unlock()
	if vol != 0.5 {
		t.Errorf("volume %v, want 0.5", vol)
	}
}

// TestResume starts a title at its saved position when Options.Resume is set.
func TestResume(t *testing.T) {
	src := &memSource{titles: map[string][]byte{"a": toneWAV(rate, time.Second, 440, 1000)}}
	pos := &memPositions{m: map[string]time.Duration{"a": 1500 * time.Millisecond}}
	p, out, ev := newTest(t, src, func(o *Options) { o.Positions = pos; o.Resume = true })
	p.Play("a")
	tr := ev.wait(t, 30*time.Second, "track", func(e Event) bool { return e.Kind == EventTrack })
	if tr.Resume != 1500*time.Millisecond || tr.Duration != 2*time.Second {
		t.Errorf("track event resume %v duration %v", tr.Resume, tr.Duration)
	}
	ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
	x := out.samples()
	if f := pulsetest.Dominant(x, rate, 440, 1000); f != 1000 {
		t.Errorf("resumed audio dominant %v Hz, want 1000 (second half)", f)
	}
	if d := time.Duration(len(x)) * time.Second / rate; d > 700*time.Millisecond {
		t.Errorf("played %v after resuming at 1.5s of 2s", d)
	}
}

// TestRepeatAndSkip checks repeat all (Next from the last track wraps to
// the first) and repeat one (the track plays again). Previous is
// TestPrevious's, on the player's fake clock: its rule (restart after 3 s
// played) on the wall clock needs the test to act within 3 s of a start,
// which a loaded machine does not promise.
func TestRepeatAndSkip(t *testing.T) {
	// Each change of mode is sent with the command before it, not after
	// waiting for that one's event: the player runs its commands in order,
	// so repeat one takes effect as a starts again, whenever the test
	// goroutine runs next. Waiting for a's start before setting it needed
	// the test goroutine to run within a's 2 s, and a test goroutine
	// paused that long (GOMAXPROCS 1 beside other packages, load 20–45
	// under -race) found b next. b is long (30 s) for the same reason: a
	// pause of b's length before Next would let b end and repeat all wrap
	// to a by itself, and Next would then skip to b.
	src := &memSource{titles: map[string][]byte{
		"a": toneWAV(rate, 2*time.Second, 440),
		"b": toneWAV(rate, 30*time.Second, 1000),
	}}
	p, _, ev := newTest(t, src, nil)
	p.SetRepeat(RepeatAll)
	p.Play("a", "b")
	isTrack := func(e Event) bool { return e.Kind == EventTrack }
	// trackAt is the index of the first track event from the n-th on.
	trackAt := func(n int) int {
		return n + slices.IndexFunc(ev.snapshot()[n:], isTrack)
	}
	ev.wait(t, 30*time.Second, "b", func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "b" })
	nb := slices.IndexFunc(ev.snapshot(), func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "b" })
	p.Next()               // wraps to a (repeat all)
	p.SetRepeat(RepeatOne) // run by the player right after Next, while a plays
	again := ev.waitFrom(t, nb+1, 30*time.Second, "the track after b", isTrack)
	if again.TitleID != "a" || again.Index != 0 {
		t.Fatalf("Next from b with repeat all played %q at %d, want a at 0", again.TitleID, again.Index)
	}
	// With repeat one, a plays again rather than b.
	next := ev.waitFrom(t, trackAt(nb+1)+1, 30*time.Second, "the track after a", isTrack)
	if next.TitleID != "a" {
		t.Errorf("with repeat one, the next track is %q, want a", next.TitleID)
	}
	p.Stop()
	ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
}

// TestBadTitles: unsupported bytes and images are reported, not crashes.
func TestBadTitles(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
	src := &memSource{titles: map[string][]byte{
		"txt": []byte("definitely not audio, just text"),
		"img": png,
	}}
	p, _, ev := newTest(t, src, nil)
	p.Play("txt")
	e := ev.wait(t, 30*time.Second, "error", func(e Event) bool { return e.Kind == EventError })
	if !errors.Is(e.Err, decode.ErrUnsupported) || !strings.Contains(e.Err.Error(), "unsupported media type: text/plain") {
		t.Errorf("error %v, want unsupported media type: text/plain", e.Err)
	}
	p.Play("img")
	img := ev.wait(t, 30*time.Second, "image", func(e Event) bool { return e.Kind == EventImage })
	if img.Image == nil || img.Image.Bounds().Dx() != 1 {
		t.Errorf("image event without the decoded image")
	}
	p.Play("missing")
	ev.wait(t, 30*time.Second, "open error", func(e Event) bool {
		return e.Kind == EventError && strings.Contains(e.Err.Error(), "no such title")
	})
}

// TestNoOutput: an output that cannot start gives StateNoOutput and a clear
// error on Play, not a silent player at 0:00.
func TestNoOutput(t *testing.T) {
	src := &memSource{titles: map[string][]byte{"a": toneWAV(rate, time.Second, 440)}}
	_, _, _ = src, rate, math.Pi
	out := newFakeOutput(rate)
	out.startErr = errors.Join(ErrNoOutput, errors.New("snd_pcm_open: No such file or directory"))
	p, err := New(Options{Source: src, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	ev := collect(t, p)
	run(t, p)
	e := ev.wait(t, 30*time.Second, "no-output", isState(StateNoOutput))
	if !errors.Is(e.Err, ErrNoOutput) {
		t.Errorf("state error %v", e.Err)
	}
	p.Play("a")
	ev.wait(t, 30*time.Second, "error on play", func(e Event) bool {
		return e.Kind == EventError && strings.Contains(e.Err.Error(), "no audio output available")
	})
}

// TestSeekAfterDecodeEnded seeks back after the whole title was decoded
// ahead (a short title fits in the queue): playback must go on from there
// and then end normally.
func TestSeekAfterDecodeEnded(t *testing.T) {
	src := &memSource{titles: map[string][]byte{"a": toneWAV(rate, 500*time.Millisecond, 440, 1000)}}
	p, out, ev := newTest(t, src, nil)
	p.Play("a")
	ev.wait(t, 30*time.Second, "position ≥ 700ms", func(e Event) bool { return e.Kind == EventPosition && e.Position >= 700*time.Millisecond })
	before := p.Status().Position
	p.Seek(100 * time.Millisecond)
	ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
	var heard time.Duration
	for _, s := range pulsetest.Segments(out.samples(), rate, 0.05, 5*time.Millisecond) {
		if s.Sound {
			heard += s.Duration(rate)
		}
	}
	// What was heard before the seek, then 0.9 s again after seeking back
	// to 0.1 s. "Before the seek" is what the output had pulled when the
	// seek flushed it (its first Flush after sound), not the position read
	// before calling Seek: the output plays on in real time meanwhile, and
	// a test paused 150 ms between the two failed with nothing wrong.
	out.mu.Lock()
	var atSeek int64 = -1
	for _, n := range out.flushAt {
		if n > 0 {
			atSeek = n
			break
		}
	}
	out.mu.Unlock()
	heardBefore := time.Duration(atSeek/frameBytes) * time.Second / rate
	want := heardBefore + 900*time.Millisecond
	t.Logf("heard %v: %v before the seek (position %v read before calling it), then the rest", heard, heardBefore, before)
	if before < 700*time.Millisecond || atSeek < 0 || (heard-want).Abs() > 150*time.Millisecond {
		t.Errorf("heard %v, want about %v (%v pulled when the seek flushed the output, position %v read before it, then 0.9 s)", heard, want, heardBefore, before)
	}
}

// A new player reports its real volume (full) before Serve runs and before
// anything plays: the volume slider is built from this, and showed 0 until
// the first title played.
func TestStatusVolumeBeforePlay(t *testing.T) {
	p, err := New(Options{Source: &memSource{titles: map[string][]byte{}}, Output: newFakeOutput(rate)})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Status().Volume; got != 1 {
		t.Errorf("volume before anything played = %v, want 1", got)
	}
}
