package player

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/player/decode"
)

// frameBytes is one stereo float32 frame.
const frameBytes = decode.BytesPerFrame

// blockFrames is the size of a PCM block (about 23 ms at 44.1 kHz).
const blockFrames = 1024

// queueBlocks bounds each track's decoded-ahead PCM (48 blocks ≈ 1.1 s).
const queueBlocks = 48

// readyBlocks is how much PCM (≈ 370 ms) a title has decoded before it is
// handed to the output: the device output takes its buffer's worth (200 ms)
// at once, and the rest is slack for a feeder starved of CPU on a busy
// machine (with 4 blocks, a loaded 2-core machine underran right after the
// start: the first title's fault in issue 17).
const readyBlocks = 16

// readyWait bounds the wait for readyBlocks once the first block is there
// (a slow source starts with less).
const readyWait = 150 * time.Millisecond

// block is decoded PCM of one track, or (end) the end of its feed.
type block struct {
	gen  int64 // seek generation; stale blocks are dropped
	pos  int64 // track PCM byte offset of data[0]
	data []byte
	end  bool // no more data for this generation (EOF or error)
}

// mediaReader wraps Media to record how long it reads.
type mediaReader struct {
	m       Media
	clk     clock.Clock
	reading atomic.Int64 // unix nanos when the current read began; 0 if none
	once    sync.Once
}

// close closes the media once.
func (r *mediaReader) close() {
	r.once.Do(func() { _ = r.m.Close() })
}

func (r *mediaReader) Read(p []byte) (int, error) {
	r.reading.Store(r.clk.Now().UnixNano())
	n, err := r.m.Read(p)
	r.reading.Store(0)
	return n, err
}

func (r *mediaReader) Seek(off int64, whence int) (int64, error) {
	r.reading.Store(r.clk.Now().UnixNano())
	n, err := r.m.Seek(off, whence)
	r.reading.Store(0)
	return n, err
}

// track is one opened title and its feeder.
type track struct {
	id      string
	index   int    // place in the queue (Serve's goroutine keeps it current)
	key     uint64 // the queue entry (0: removed from the queue)
	title   string
	media   *mediaReader
	stream  *decode.Stream
	blocks  chan block
	ready   chan struct{} // closed when the first block (or the end) is queued
	seekReq chan seekReq
	gen     atomic.Int64
	queued  atomic.Int64  // blocks queued so far
	done    chan struct{} // closed when the feeder has exited
	cancel  context.CancelFunc

	mu       sync.Mutex
	err      error         // decode or read error that ended the feed
	length   int64         // PCM bytes, updated to the real value at EOF
	estimate bool          // length is estimated
	startAt  time.Duration // position the feed started at
	resume   time.Duration // saved position when opened
	readyOne sync.Once
	pic      *picture // the picture opened with the title, until presented
	stopped  bool     // stop was called: a picture set later is closed
}

// setPicture keeps the picture opened with the title until it is
// presented; a track already stopped closes it.
func (t *track) setPicture(pic *picture) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		pic.close()
		return
	}
	t.pic = pic
}

// takePicture hands out the picture opened with the title if it starts
// at from (otherwise it is closed: a seek came first).
func (t *track) takePicture(from time.Duration) *picture {
	t.mu.Lock()
	defer t.mu.Unlock()
	pic := t.pic
	t.pic = nil
	if pic != nil && pic.from != from {
		pic.close()
		return nil
	}
	return pic
}

// newTrack decodes the head of an opened title; the feeder must be started
// with run. On error the media is closed.
func newTrack(m Media, id string, index, rate int, clk clock.Clock) (*track, error) {
	progressive := false
	if p, ok := m.(Progressive); ok {
		progressive = p.Progressive()
	}
	mr := &mediaReader{m: m, clk: clk}
	s, err := decode.Open(mr, m.Size(), decode.Options{SampleRate: rate, Progressive: progressive, MediaType: m.MediaType()})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("opening title %s: %w", id, err)
	}
	return &track{
		id: id, index: index, title: m.Title(), media: mr, stream: s,
		blocks:  make(chan block, queueBlocks),
		ready:   make(chan struct{}),
		seekReq: make(chan seekReq, 1),
		done:    make(chan struct{}),
		length:  s.Length(), estimate: s.DurationEstimated(),
	}, nil
}

// run is the feeder: it decodes ahead into t.blocks until the end, an error
// or ctx is done, then closes the media.
func (t *track) run(ctx context.Context) {
	defer close(t.done)
	defer t.media.close()
	defer t.stream.Close() // before the media: FFmpeg may be reading it
	defer t.markReady()
	var pos int64
	if t.startAt > 0 {
		if err := t.stream.SeekTime(t.startAt); err == nil {
			pos = t.stream.BytesAt(t.startAt)
		} else if !errors.Is(err, decode.ErrNotSeekable) {
			t.fail(fmt.Errorf("seeking %s: %w", t.id, err))
			close(t.blocks)
			return
		}
	}
	gen := t.gen.Load()
	for {
		select {
		case r := <-t.seekReq:
			if err := t.stream.SeekTime(r.to); err != nil {
				t.fail(fmt.Errorf("seeking %s: %w", t.id, err))
				close(t.blocks)
				return
			}
			pos = t.stream.BytesAt(r.to)
			gen = r.gen
			t.mu.Lock()
			t.length, t.estimate = t.stream.Length(), t.stream.DurationEstimated()
			t.mu.Unlock()
		case <-ctx.Done():
			close(t.blocks)
			return
		default:
		}
		buf := make([]byte, blockFrames*frameBytes)
		n, err := io.ReadFull(t.stream, buf)
		if n > 0 {
			select {
			case t.blocks <- block{gen: gen, pos: pos, data: buf[:n]}:
				t.queued.Add(1)
				if len(t.blocks) >= readyBlocks {
					t.markReady()
				}
			case <-ctx.Done():
				close(t.blocks)
				return
			case r := <-t.seekReq: // seek while the queue is full
				t.requeue(r)
			}
			pos += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			t.mu.Lock()
			t.length, t.estimate = pos, false
			t.mu.Unlock()
		} else if err != nil {
			if ctx.Err() == nil {
				t.fail(fmt.Errorf("playing %s: %w", t.id, err))
			}
		} else {
			continue
		}
		// End of this generation: say so, then wait for a seek (which
		// starts a new generation) or the end of the track.
		select {
		case t.blocks <- block{gen: gen, pos: pos, end: true}:
		case <-ctx.Done():
			close(t.blocks)
			return
		case r := <-t.seekReq:
			t.requeue(r)
			continue
		}
		t.markReady()
		if t.Err() != nil {
			<-ctx.Done() // nothing after an error
			close(t.blocks)
			return
		}
		select {
		case r := <-t.seekReq:
			t.requeue(r) // handled at the top of the loop
		case <-ctx.Done():
			close(t.blocks)
			return
		}
	}
}

func (t *track) markReady() { t.readyOne.Do(func() { close(t.ready) }) }

func (t *track) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}

// Err is the error that ended the feed, if any.
func (t *track) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// duration is the title length (estimated until the end is decoded).
func (t *track) duration() (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stream.TimeAt(t.length), t.estimate
}

// requeue puts a seek request back for the top of the feeder loop, unless
// a newer one is already there.
func (t *track) requeue(r seekReq) {
	select {
	case t.seekReq <- r:
	default:
	}
}

// seekReq asks the feeder to move to a position.
type seekReq struct {
	to  time.Duration
	gen int64
}

// seek asks the feeder to move; from now on the pump drops blocks of older
// generations.
func (t *track) seek(d time.Duration) {
	r := seekReq{to: d, gen: t.gen.Add(1)}
	for {
		select {
		case t.seekReq <- r:
			return
		default:
			select {
			case <-t.seekReq: // replace an older request
			default:
			}
		}
	}
}

// slowRead reports how long the current media read has been running.
func (t *track) slowRead() time.Duration {
	s := t.media.reading.Load()
	if s == 0 {
		return 0
	}
	return clock.Since(t.media.clk, time.Unix(0, s))
}

// stop cancels the feeder; it closes the media when it exits.
func (t *track) stop() {
	if t.cancel != nil {
		t.cancel()
	}
	t.mu.Lock()
	t.stopped = true
	if t.pic != nil {
		t.pic.close()
		t.pic = nil
	}
	t.mu.Unlock()
	// Closing the media ends a read waiting for chunks.
	go func() {
		select {
		case <-t.done:
		case <-time.After(50 * time.Millisecond):
			t.media.close()
		}
	}()
}

// waitReady waits until readyBlocks are decoded (or the feed ended), or
// readyWait (on the player's clock) after the first block, whichever comes
// first. The 1 ms poll for the first block is on the wall clock: it
// paces a check, it is not a rule.
func (t *track) waitReady(ctx context.Context) error {
	var first <-chan time.Time
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-t.ready:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-first:
			return nil
		case <-poll.C:
			if first == nil && t.queued.Load() > 0 {
				first = clock.After(t.media.clk, readyWait)
			}
		}
	}
}
