package player

import (
	"io"
	"sync"
	"time"
)

// mark says that from frame `at` of the output stream on, the frames are
// the given track from track byte offset pos (or silence if t is nil).
type mark struct {
	at  int64 // output frame count
	t   *track
	pos int64 // track PCM byte offset
}

// pump is the io.Reader the output pulls. It hands out the current track's
// blocks, moves to the prepared next track at the end, and fills gaps with
// silence. It records marks so the clock can map heard frames to titles.
type pump struct {
	mu       sync.Mutex
	rate     int
	cur      *track
	next     *track
	pending  block // partly handed-out block of cur
	havePend bool
	written  int64 // frames handed to the output
	heardAt  int64 // frames heard, as heard last counted them
	marks    []mark
	silent   bool // last frames handed were silence
	needMark bool // the next track frames start a new mark (seek, new track)
	ended    *track
	// onFirstPCM, if set (tests), is called when a track's first frames are handed out.
	onFirstPCM func(id string, at time.Time)
	firstFor   *track // the last track onFirstPCM was called for
}

func newPump(rate int) *pump {
	return &pump{rate: rate, silent: true}
}

// Read implements io.Reader: at most blockFrames frames, never blocking;
// silence where no title frames are ready. A buffer shorter than a frame
// is io.ErrShortBuffer (a 0, nil answer would make io.ReadFull spin).
func (p *pump) Read(b []byte) (int, error) {
	if len(b) < frameBytes {
		return 0, io.ErrShortBuffer
	}
	return p.read(b, true), nil
}

// ReadReady is Read without the silence: only the title frames that are
// ready, possibly none. The device output uses it while the device holds
// enough, so no silence is queued ahead of frames about to be decoded.
func (p *pump) ReadReady(b []byte) int { return p.read(b, false) }

func (p *pump) read(b []byte, pad bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	max := min(len(b)/frameBytes, blockFrames) * frameBytes
	if max == 0 {
		return 0
	}
	n := 0
	for n < max {
		if !p.havePend && !p.take() {
			break
		}
		k := copy(b[n:max], p.pending.data)
		if p.silent || p.needMark || len(p.marks) == 0 {
			p.addMarkLocked(p.written+int64(n/frameBytes), p.cur, p.pending.pos)
			p.silent, p.needMark = false, false
		}
		if p.onFirstPCM != nil && p.firstFor != p.cur {
			p.firstFor = p.cur
			p.onFirstPCM(p.cur.id, time.Now())
		}
		p.pending.data = p.pending.data[k:]
		p.pending.pos += int64(k)
		if len(p.pending.data) == 0 {
			p.havePend = false
		}
		n += k
	}
	if n < max && !pad {
		p.written += int64(n / frameBytes)
		return n
	}
	if n < max { // underrun or idle: silence
		clear(b[n:max])
		if !p.silent {
			p.addMarkLocked(p.written+int64(n/frameBytes), nil, 0)
			p.silent = true
		}
		n = max
	}
	p.written += int64(n / frameBytes)
	return n
}

// take makes pending the next block of cur, switching to next at the end of
// cur. It reports false if no block is ready.
func (p *pump) take() bool {
	for p.cur != nil {
		select {
		case blk, ok := <-p.cur.blocks:
			if !ok {
				if p.cur.Err() != nil {
					// Damaged or unreadable: play nothing more.
					p.ended = p.cur
					p.cur, p.next = nil, nil
					return false
				}
				p.ended = p.cur
				p.cur, p.next = p.next, nil
				if p.cur != nil {
					p.needMark = true
				}
				continue
			}
			if blk.gen < p.cur.gen.Load() {
				continue // from before a seek
			}
			if blk.end {
				if p.cur.Err() != nil {
					// Damaged or unreadable: play nothing more.
					p.ended = p.cur
					p.cur, p.next = nil, nil
					return false
				}
				p.ended = p.cur
				p.cur, p.next = p.next, nil
				if p.cur != nil {
					p.needMark = true
				}
				continue
			}
			if p.pending.pos != blk.pos || p.pending.gen != blk.gen {
				p.needMark = true // discontinuity: mark it
			}
			p.pending, p.havePend = blk, true
			return true
		default:
			return false
		}
	}
	return false
}

func (p *pump) addMarkLocked(at int64, t *track, pos int64) {
	p.marks = append(p.marks, mark{at: at, t: t, pos: pos})
}

// Seek implements io.Seeker (the offset is ignored): Output.Flush drops
// the device's frames and the pump goes on from where it is.
func (p *pump) Seek(int64, int) (int64, error) { return 0, nil }

// setTrack makes t current (dropping the old one's pending data) and sets
// the next track.
func (p *pump) setTrack(t, next *track) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.next = t, next
	p.havePend = false
	p.needMark = true
	if t == nil {
		p.firstFor, p.ended = nil, nil
	}
}

// setNext sets the track to continue with at the end of the current one.
func (p *pump) setNext(next *track) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = next
}

// clearNext unsets t as the next track unless the pump already plays it;
// it reports whether t is free to stop.
func (p *pump) clearNext(t *track) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == t {
		p.next = nil
	}
	return p.cur != t
}

// dropPending forgets a partly handed-out block (after a seek).
func (p *pump) dropPending() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.havePend = false
	p.needMark = true
}

// heard maps the frames heard so far (written − buffered) to the track
// being heard and its position. idle is silence being heard; quiet is
// silence with no title handed out after it (all that was handed out was
// heard), which is what ends a queue. Marks older than the heard one are
// pruned.
//
// buffered (the output's Buffered) is asked after the frames written are
// read, never before: the output may take more frames from the pump in
// between, and counted against an older buffered figure those would seem
// heard already (on the first fill, a whole device buffer: the clock
// jumped 187 ms ahead and a video's first frames were dropped as late).
// Read in this order the clock can only trail for a moment. It is called
// without the pump's lock, which the output takes while reading.
func (p *pump) heard(buffered func() int) (t *track, pos int64, idle, quiet bool) {
	p.mu.Lock()
	written := p.written
	p.mu.Unlock()
	b := buffered()
	p.mu.Lock()
	defer p.mu.Unlock()
	// Frames are heard in order and dropped ones pass at once, so what has
	// been heard never goes back; the order above can make it trail for a
	// moment (the output wrote between the two reads).
	at := max(written-int64(b/frameBytes), p.heardAt)
	p.heardAt = at
	i := -1
	for j := len(p.marks) - 1; j >= 0; j-- {
		if p.marks[j].at <= at {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, 0, true, len(p.marks) == 0
	}
	if i > 0 {
		p.marks = append(p.marks[:0], p.marks[i:]...)
	}
	m := p.marks[0]
	if m.t == nil {
		return nil, 0, true, len(p.marks) == 1
	}
	return m.t, m.pos + (at-m.at)*frameBytes, false, false
}

// current returns the tracks the pump holds and the one that ended last.
func (p *pump) current() (cur, next, ended *track) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.next, p.ended
}

var _ io.ReadSeeker = (*pump)(nil)
