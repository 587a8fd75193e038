package av

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestPresentOnWallClock presents a decoded clip (no audio clock): all 100
// frames shown, each within 40 ms of its time, the white flash shown 2 s
// after the first frame. Each frame's time is read by time.Now() in Show,
// so a presenting goroutine the machine did not run for 40 ms at the flash
// frame fails a play whatever the presenter does: as TestPulseAVSync does
// for its real-time plays, the clip gets up to three plays, each logged,
// and one meeting every bound passes (measured at load 2 under -race: the
// worst frame of a play 30 ms late in 2 plays of 10).
func TestPresentOnWallClock(t *testing.T) {
	data := clip(t, "vp9-opus.webm")
	for attempt := 1; ; attempt++ {
		problems := presentOnWallClock(t, data)
		if len(problems) == 0 {
			return
		}
		if attempt == 3 {
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		t.Logf("play %d: %s; playing again", attempt, strings.Join(problems, "; "))
	}
}

// presentOnWallClock presents the clip once and returns what missed the
// bounds.
func presentOnWallClock(t *testing.T, data []byte) (problems []string) {
	m, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), Options{Width: 160, Height: 120, NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var first, flash time.Time
	p := &Presenter{Show: func(f Frame) {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		if _, white := frameIndex(f); white && flash.IsZero() {
			flash = now
		}
	}}
	if err := p.Run(context.Background(), m, func() (time.Duration, bool) { return 0, false }); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	b, _ := json.Marshal(s)
	t.Logf("stats %s; flash shown %v after the first frame", b, flash.Sub(first))
	for _, k := range []string{"frames_presented", "frames_dropped", "av_offset_p50_ms", "av_offset_p95_ms", "av_offset_max_ms"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("stats JSON lacks %s: %s", k, b)
		}
	}
	// ≥ 90: a 2-core machine shared by many builds (load 25–30) stalls the
	// presenting goroutine now and then (the 99 % is for the app
	// under Xvfb; unloaded this presents 100 of 100).
	if s.FramesPresented+s.FramesDropped != 100 || s.FramesPresented < 90 {
		problems = append(problems, fmt.Sprintf("presented %d, dropped %d of 100", s.FramesPresented, s.FramesDropped))
	}
	if s.OffsetP95ms > 40 {
		problems = append(problems, fmt.Sprintf("offset p95 %.1f ms, want ≤ 40", s.OffsetP95ms))
	}
	if d := flash.Sub(first) - 2*time.Second; d.Abs() > 40*time.Millisecond {
		problems = append(problems, fmt.Sprintf("flash shown %v after the first frame, want 2s", flash.Sub(first)))
	}
	return problems
}

// fakeFrames is 50 video frames at 25 fps.
type fakeFrames struct{ i int }

func (f *fakeFrames) Next() (Frame, error) {
	if f.i >= 50 {
		return Frame{}, io.EOF
	}
	f.i++
	return Frame{Kind: Video, PTS: time.Duration(f.i-1) * 40 * time.Millisecond}, nil
}

// TestPresentOnAudioClock follows an audio clock that stalls for 300 ms
// (an underrun) and then jumps ahead 400 ms (a seek in the sound): frames
// wait while it stalls, the frames it jumps over are dropped and counted,
// and every frame shown was due. It runs in a synctest bubble, where the
// presenter's timer and the clock's time.Since are the bubble's virtual
// time, advanced only when every goroutine in it waits: what is checked is
// the presenter's logic, which a presenting goroutine the machine did not
// run for 40 ms (at load 20–45 under -race) failed on wall time with
// nothing wrong. How late frames come on a real clock is
// TestPresentOnWallClock's.
func TestPresentOnAudioClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		clock := func() (time.Duration, bool) {
			e := time.Since(start)
			switch {
			case e < 500*time.Millisecond:
				return e, true
			case e < 800*time.Millisecond:
				return 500 * time.Millisecond, true // stalled
			default:
				return e - 300*time.Millisecond + 400*time.Millisecond, true // jumped
			}
		}
		var shownAt []time.Duration
		p := &Presenter{Show: func(f Frame) {
			pos, _ := clock()
			if pos < f.PTS {
				t.Errorf("frame %v shown early at %v", f.PTS, pos)
			}
			shownAt = append(shownAt, f.PTS)
		}}
		if err := p.Run(context.Background(), &fakeFrames{}, clock); err != nil {
			t.Fatal(err)
		}
		s := p.Stats()
		t.Logf("%+v", s)
		// The clock jumps from 500 ms to 900 ms: the frames at 520–840 ms
		// are more than 40 ms late then (9), the one at 880 ms is not.
		if s.FramesDropped != 9 || s.FramesPresented != 41 {
			t.Errorf("dropped %d (want 9: 520–840 ms), presented %d (want 41)", s.FramesDropped, s.FramesPresented)
		}
		if s.OffsetMaxms > 40 || math.IsNaN(s.OffsetP50ms) {
			t.Errorf("a frame was shown %.1f ms late", s.OffsetMaxms)
		}
	})
}
