package av

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"time"
)

// Clock is the time being heard in the title (the audio clock: the
// player's position of what the device has played). ok is false when there
// is no audio clock (no sound track, no output device): the presenter then
// keeps its own wall clock from the first frame.
type Clock func() (pos time.Duration, ok bool)

// FrameSource is what a Presenter reads: a Media, or a test's frames.
type FrameSource interface {
	Next() (Frame, error)
}

// Stats are a presenter's counts, in the shape `kithctl --json play`
// reports for a video.
type Stats struct {
	FramesPresented int     `json:"frames_presented"`
	FramesDropped   int     `json:"frames_dropped"`
	OffsetP50ms     float64 `json:"av_offset_p50_ms"`
	OffsetP95ms     float64 `json:"av_offset_p95_ms"`
	OffsetMaxms     float64 `json:"av_offset_max_ms"`
}

// maxWait bounds one wait for a frame, so a clock that jumps back (a
// seek in the sound) is seen within it.
const maxWait = 100 * time.Millisecond

// Presenter shows video frames when they are due on a clock: a frame is
// shown once the clock reaches its time, a frame already late by more than
// Late when decoded is dropped and counted, and the offset (clock − frame
// time) at each showing is kept for Stats.
type Presenter struct {
	// Late is how late a frame may be and still be shown; 0 means 40 ms.
	Late time.Duration
	// Show is called with each frame when it is due; its Data is valid only
	// during the call.
	Show func(Frame)
	// Dropped, if set, is told of each frame dropped: its time and how late
	// it was (for the log).
	Dropped func(pts, late time.Duration)

	mu      sync.Mutex
	shown   int
	dropped int
	offsets []time.Duration
}

// Run presents the video frames of src on clock until the end (nil), an
// error, or ctx is done. Audio frames are skipped (the player plays sound
// from its own reader of the title).
func (p *Presenter) Run(ctx context.Context, src FrameSource, clock Clock) error {
	late := p.Late
	if late <= 0 {
		late = 40 * time.Millisecond
	}
	var wall time.Time // start of the wall clock, when there is no audio clock
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	now := func() time.Duration {
		if pos, ok := clock(); ok {
			return pos
		}
		return time.Since(wall)
	}
	for {
		f, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.Kind != Video {
			continue
		}
		if wall.IsZero() {
			wall = time.Now().Add(-f.PTS)
		}
		// Sleep until the frame is due in one wait, then read the clock
		// again (it may have stopped: a pause, an underrun). Waking in
		// short steps instead cost a CPU wake-up each, and on a loaded
		// machine each wake-up came late: the flash was shown 60–160 ms
		// after its beep at load 25–30.
		t := now()
		for t < f.PTS {
			timer.Reset(min(f.PTS-t, maxWait))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
			t = now()
		}
		t = now() // again: the wait may have overslept on a busy machine
		if t-f.PTS > late {
			p.mu.Lock()
			p.dropped++
			p.mu.Unlock()
			if p.Dropped != nil {
				p.Dropped(f.PTS, t-f.PTS)
			}
			continue
		}
		if p.Show != nil {
			p.Show(f)
		}
		// The offset counts the showing too: the clock read after it.
		p.mu.Lock()
		p.shown++
		p.offsets = append(p.offsets, now()-f.PTS)
		p.mu.Unlock()
	}
}

// Stats returns the counts so far.
func (p *Presenter) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{FramesPresented: p.shown, FramesDropped: p.dropped}
	if n := len(p.offsets); n > 0 {
		o := append([]time.Duration(nil), p.offsets...)
		for i := range o {
			o[i] = o[i].Abs()
		}
		sort.Slice(o, func(i, j int) bool { return o[i] < o[j] })
		msf := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		s.OffsetP50ms, s.OffsetP95ms, s.OffsetMaxms = msf(o[n/2]), msf(o[min(n-1, n*95/100)]), msf(o[n-1])
	}
	return s
}
