package player

import (
	"context"

	"github.com/kith-media/kith/internal/threadprio"
	"github.com/kith-media/kith/player/av"
)

// decodeNice is how much lower than the rest of the program the picture's
// decoder runs (nice value added to its thread): enough that the window's
// painting wins a core from it, not so much that other programs starve it
// (at +10 a loaded machine, load 8, left it 61 frames late of 300).
//
// aheadDepth is how many frames it decodes ahead: slack for a moment
// without CPU.
const (
	decodeNice = 3
	aheadDepth = 2
)

// aheadFrames decodes a picture's next frames on a thread of its own, at a
// lower priority, while the presenter waits for the frame before it and
// shows it. Decoding and converting a 720p frame takes a core for ~7 ms,
// and the presenter used to do it just after showing each frame: exactly
// while the window painted that frame, which under software GL needs both
// cores (the paint, and every UI callback waiting for it, took twice as
// long). Decoding ahead, the decoder has frames of time and takes the CPU
// the painting leaves; the presenter still wakes on time at the
// program's priority to show each frame on the clock.
type aheadFrames struct {
	ctx  context.Context
	out  chan aheadFrame // the frames decoded ahead
	free chan []byte     // buffers of frames shown, for the decoder to reuse
	done chan struct{}   // closed when the decoding goroutine has ended
	last []byte          // the buffer of the frame Next handed out last
}

type aheadFrame struct {
	f   av.Frame
	err error
}

// decodeAhead starts decoding src aheadDepth frames ahead until ctx ends or src
// does. The caller must wait (after ending ctx, or closing the reader a
// read may wait on) before closing src's decoder.
func decodeAhead(ctx context.Context, src av.FrameSource) *aheadFrames {
	a := &aheadFrames{ctx: ctx, out: make(chan aheadFrame, aheadDepth), free: make(chan []byte, aheadDepth+2), done: make(chan struct{})}
	go a.run(src)
	return a
}

func (a *aheadFrames) run(src av.FrameSource) {
	defer close(a.done)
	_ = threadprio.Lower(decodeNice) // where it cannot be lowered, decode as before
	for {
		f, err := src.Next()
		if err == nil && len(f.Data) > 0 {
			// A copy: the decoder converts the next frame into the same buffer.
			var buf []byte
			select {
			case buf = <-a.free:
			default:
			}
			if cap(buf) < len(f.Data) {
				buf = make([]byte, len(f.Data))
			}
			buf = buf[:len(f.Data)]
			copy(buf, f.Data)
			f.Data = buf
		}
		select {
		case a.out <- aheadFrame{f, err}:
		case <-a.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// Next implements av.FrameSource: the frame decoded ahead (the
// presenter's goroutine). The frame handed out before is done with.
func (a *aheadFrames) Next() (av.Frame, error) {
	if a.last != nil {
		select {
		case a.free <- a.last:
		default:
		}
		a.last = nil
	}
	if err := a.ctx.Err(); err != nil {
		return av.Frame{}, err
	}
	select {
	case r := <-a.out:
		if r.err == nil {
			a.last = r.f.Data
		}
		return r.f, r.err
	case <-a.ctx.Done():
		return av.Frame{}, a.ctx.Err()
	}
}

// wait waits for the decoding goroutine to end.
func (a *aheadFrames) wait() { <-a.done }
