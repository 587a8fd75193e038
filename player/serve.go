package player

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/player/decode"
	"github.com/kith-media/kith/share/sealed"
)

// tickEvery is the control loop's clock (buffering, track changes, errors).
const tickEvery = 50 * time.Millisecond

// Serve opens the output and runs the player until ctx is done. Without a
// usable output device the player stays in StateNoOutput and every Play
// reports that.
func (p *Player) Serve(ctx context.Context) error {
	if err := p.out.Start(p.pump); err != nil {
		p.outErr = err
		p.log.Warn("no audio output", "err", err)
		p.setState(StateNoOutput, err)
	} else {
		p.out.SetVolume(p.volume)
	}
	defer func() {
		p.dropTracks()
		_ = p.out.Close()
	}()
	tick := p.clk.NewTicker(tickEvery)
	defer tick.Stop()
	lastPos := p.clk.Now()
	for {
		select {
		case <-ctx.Done():
			p.savePosition(true)
			return nil
		case f := <-p.cmds:
			f(ctx)
		case now := <-tick.C():
			p.tick(ctx, now.Sub(lastPos) >= p.opts.PositionEvery-tickEvery/2)
			if now.Sub(lastPos) >= p.opts.PositionEvery-tickEvery/2 {
				lastPos = now
			}
			if p.ticked != nil {
				p.ticked(now)
			}
		}
	}
}

// opened is the result of opening a title in the background.
type opened struct {
	t     *track
	img   *Event
	err   error
	index int
	id    string
	key   uint64 // the queue entry it was opened for
}

// open opens title i of the queue, starts its feeder and waits for its first
// block. pos < 0 means "from the saved position if Options.Resume".
func (p *Player) open(ctx context.Context, e entry, i int, pos time.Duration) opened {
	id := e.id
	res := opened{index: i, id: id, key: e.key}
	var resume time.Duration
	if p.opts.Positions != nil {
		if d, ok, err := p.opts.Positions.Load(id); err == nil && ok {
			resume = d
		}
	}
	m, err := p.opts.Source.Open(ctx, id)
	if err != nil {
		res.err = fmt.Errorf("opening title %s: %w", id, err)
		return res
	}
	head := make([]byte, decode.SniffLen)
	n, err := io.ReadFull(m, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		m.Close()
		res.err = fmt.Errorf("reading title %s: %w", id, err)
		return res
	}
	if decode.Sniff(head[:n]).IsImage() {
		res.img, res.err = readImage(m, id)
		m.Close()
		return res
	}
	if _, err := m.Seek(0, io.SeekStart); err != nil {
		m.Close()
		res.err = fmt.Errorf("reading title %s: %w", id, err)
		return res
	}
	// A container that may hold a picture has it opened beside the sound,
	// which waits for its first frame.
	var po *pictureOpen
	if f := decode.Sniff(head[:n]); f == decode.MP4 || f == decode.Matroska {
		po = p.startPicture(ctx, id, m)
	}
	t, err := newTrack(m, id, i, p.out.SampleRate(), p.clk)
	if err != nil {
		po.abandon()
		res.err = err
		return res
	}
	t.resume, t.key = resume, e.key
	d, est := t.duration()
	p.log.Debug("opened title", "title", id, "format", t.stream.Format(), "size", m.Size(),
		"duration", d, "estimated", est, "seekable", t.stream.Seekable())
	switch {
	case pos >= 0:
		t.startAt = pos
	case p.opts.Resume && resume > 0:
		if d, _ := t.duration(); d == 0 || resume < d-250*time.Millisecond {
			t.startAt = resume
		}
	}
	fctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	go t.run(fctx)
	if w, _ := t.stream.Video(); w > 0 {
		if po == nil {
			po = p.startPicture(ctx, id, m)
		}
		po.from <- t.startAt
	} else {
		po.abandon() // no picture after all (an .m4a, an audio-only WebM)
		po = nil
	}
	err = t.waitReady(ctx)
	if po != nil {
		<-po.done
		if po.err != nil {
			p.log.Warn("opening the picture", "title", id, "err", po.err) // the sound plays; the picture is tried again
		} else {
			t.setPicture(po.pic)
		}
	}
	if err != nil {
		t.stop()
		res.err = err
		return res
	}
	res.t = t
	return res
}

// readImage reads a whole (bounded) image title for the app to show.
func readImage(m Media, id string) (*Event, error) {
	if m.Size() > decode.MaxImageBytes {
		return nil, fmt.Errorf("showing %s: image of %d bytes is too large", id, m.Size())
	}
	if _, err := m.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading image %s: %w", id, err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(m, decode.MaxImageBytes+1)); err != nil {
		return nil, fmt.Errorf("reading image %s: %w", id, err)
	}
	img, _, err := decode.DecodeImage(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("showing %s: %w", id, err)
	}
	return &Event{Kind: EventImage, TitleID: id, Title: m.Title(), Image: img, ImageBytes: b.Bytes()}, nil
}

// async runs open in the background and hands the result to done in
// Serve's goroutine.
func (p *Player) async(ctx context.Context, e entry, i int, pos time.Duration, done func(ctx context.Context, o opened)) {
	go func() {
		o := p.open(ctx, e, i, pos)
		select {
		case p.cmds <- func(ctx context.Context) { done(ctx, o) }:
		case <-ctx.Done():
			if o.t != nil {
				o.t.stop()
			}
		}
	}()
}

// start plays queue index i from pos (< 0: saved position if Resume).
func (p *Player) start(ctx context.Context, i int, pos time.Duration) {
	if p.outErr != nil {
		p.fail("", p.outErr)
		p.setState(StateNoOutput, p.outErr)
		return
	}
	p.savePosition(true)
	p.dropTracks()
	if i < 0 || i >= len(p.queue) {
		p.setState(StateStopped, nil)
		return
	}
	p.index = i
	p.openGen++
	gen := p.openGen
	p.setState(StateBuffering, nil)
	p.async(ctx, p.queue[i], i, pos, func(ctx context.Context, o opened) {
		if gen != p.openGen {
			if o.t != nil {
				o.t.stop()
			}
			return
		}
		p.placed(&o)
		p.attach(ctx, o, true)
	})
}

// attach makes an opened title current. flush drops what the output still
// holds (a title the user left); a title that follows one that ended keeps
// it, so the end of the last one is heard whole.
func (p *Player) attach(ctx context.Context, o opened, flush bool) {
	if o.img != nil {
		p.emit(*o.img)
		if i, ok := p.after(o.index, true); ok && i != o.index {
			p.start(ctx, i, -1)
		} else {
			p.setState(StateStopped, nil)
		}
		return
	}
	if o.err != nil {
		p.fail(o.id, o.err)
		p.setState(StateError, o.err)
		return
	}
	p.log.Info("playing", "title", o.id, "index", o.index)
	p.cur = o.t
	p.index = o.index
	// The position is the heard title's (Previous reads it). Nothing of
	// this one is heard yet: after a title the user left (flush) it is
	// where this one starts until a tick hears it; after one that ended
	// by itself, the old one's end is still heard (heardTitle).
	if flush || p.heardT == nil {
		p.lastPos = o.t.startAt
	} else {
		p.endHeard = true
	}
	p.pump.setTrack(o.t, nil)
	if flush {
		p.out.Flush()
	}
	p.out.SetPlaying(true)
	p.setState(StatePlaying, nil)
	p.startVideo(ctx, o.t, o.t.startAt)
	p.prepareNext(ctx)
}

// placed moves an opened title to where its entry is now: the queue may
// have been edited while it opened (a removed entry keeps the old index).
func (p *Player) placed(o *opened) {
	if i, ok := p.indexOf(o.key); ok {
		o.index = i
		if o.t != nil {
			o.t.index = i
		}
	}
}

// dropNext forgets the prepared next title. If the pump has already moved
// into it (the current title just ended), it plays on and tick follows.
func (p *Player) dropNext() {
	p.nextKey = 0
	if p.nextT == nil {
		return
	}
	if p.pump.clearNext(p.nextT) {
		p.nextT.stop()
	}
	p.nextT = nil
}

// nextTrack is the prepared next track, if ready.
func (p *Player) nextTrack() *track { return p.nextT }

// prepareNext opens the title after the current one ahead of time, so the
// pump can continue into it without a gap.
func (p *Player) prepareNext(ctx context.Context) {
	if p.cur == nil {
		return
	}
	i, ok := p.after(p.index, false)
	if !ok {
		p.dropNext()
		p.nextGen++
		if p.waitNext { // the current title ended waiting for one no longer queued
			p.waitNext, p.draining = false, true
		}
		return
	}
	e := p.queue[i]
	if p.nextT != nil && p.nextT.key == e.key && p.nextT != p.cur {
		return
	}
	if p.nextT == nil && p.nextKey == e.key && e.key != 0 {
		return // being opened
	}
	p.dropNext()
	p.nextGen++
	gen := p.nextGen
	p.nextKey = e.key
	p.async(ctx, e, i, 0, func(ctx context.Context, o opened) {
		if gen != p.nextGen || p.cur == nil && !p.waitNext {
			if o.t != nil {
				o.t.stop()
			}
			return
		}
		p.nextKey = 0
		p.placed(&o)
		if o.t == nil {
			// Images and errors are handled when the queue gets there.
			if p.waitNext {
				p.waitNext = false
				p.attach(ctx, o, false)
			}
			return
		}
		p.nextT = o.t
		if p.waitNext { // the current one ended before this was ready
			p.waitNext = false
			p.nextT = nil
			p.attach(ctx, o, false)
			return
		}
		p.pump.setNext(o.t)
	})
}

// dropTracks stops feeding the current and next titles.
func (p *Player) dropTracks() {
	p.pump.setTrack(nil, nil)
	for _, t := range []*track{p.cur, p.nextT} {
		if t != nil {
			t.stop()
		}
	}
	p.stopVideo()
	p.cur, p.nextT, p.heardT = nil, nil, nil
	p.waitNext, p.draining, p.nextKey, p.endHeard = false, false, 0, false
	p.openGen++
	p.nextGen++
}

// stop ends playback in state s.
func (p *Player) stop(s State, err error) {
	p.savePosition(true)
	p.dropTracks()
	p.out.SetPlaying(false)
	p.out.Flush()
	p.setState(s, err)
}

// tick follows the pump and the output: audible track changes, the end of
// the queue, errors, buffering and the position.
func (p *Player) tick(ctx context.Context, report bool) {
	defer p.setStatus()
	if p.outErr == nil {
		if err := p.out.Err(); err != nil {
			p.outErr = err
			p.fail("", err)
			p.stop(StateNoOutput, err)
			return
		}
	}
	if p.cur != nil {
		cur, _, _ := p.pump.current()
		if cur != p.cur {
			if err := p.cur.Err(); err != nil {
				p.playError(p.cur, err)
				return
			}
			p.savePositionOf(p.cur, 0) // finished: start over next time
			p.cur = cur
			p.endHeard = true // its end plays on until another is heard (heardTitle)
			switch {
			case cur != nil: // continued gaplessly into the prepared title
				p.index = cur.index
				if i, ok := p.indexOf(cur.key); ok {
					p.index = i
				}
				p.nextT = nil
				p.startVideo(ctx, cur, 0)
				p.prepareNext(ctx)
			case p.nextT != nil:
				t := p.nextT
				p.nextT = nil
				p.attach(ctx, opened{t: t, index: t.index, id: t.id}, false)
			default:
				if _, ok := p.after(p.index, false); ok {
					p.waitNext = true // still opening
					p.setState(StateBuffering, nil)
				} else {
					p.draining = true
				}
			}
		}
	}
	heard, pos, idle, quiet := p.pump.heard(p.out.Buffered)
	if heard != nil && heard != p.heardT {
		p.heardT = heard
		p.endHeard = p.endHeard && heard != p.cur
		d, est := heard.duration()
		p.emit(Event{Kind: EventTrack, TitleID: heard.id, Title: heard.title, Index: heard.index,
			Duration: d, Estimated: est, Resume: heard.resume})
	}
	if p.draining && quiet {
		p.draining = false
		p.heardT = nil // finished: its saved position is 0
		p.stop(StateStopped, nil)
		return
	}
	if p.cur != nil {
		slow := p.cur.slowRead()
		switch {
		case p.state == StatePlaying && slow > BufferingAfter:
			p.setState(StateBuffering, nil)
		case p.state == StateBuffering && slow == 0 && !p.waitNext:
			p.setState(StatePlaying, nil)
		}
	}
	if heard != nil && !idle {
		p.lastPos = heard.stream.TimeAt(pos)
		if report && (p.state == StatePlaying || p.state == StateBuffering) {
			p.emitPosition(heard, p.lastPos)
			p.savePosition(false)
		}
	}
}

// playError stops on an error met while playing.
func (p *Player) playError(t *track, err error) {
	var ce *sealed.ChunkError
	if errors.As(err, &ce) {
		err = fmt.Errorf("damaged content, playback stopped: %w", err)
	}
	p.fail(t.id, err)
	p.stop(StateError, err)
}

func (p *Player) emitPosition(t *track, pos time.Duration) {
	d, est := t.duration()
	p.emit(Event{Kind: EventPosition, TitleID: t.id, Index: t.index, Position: pos, Duration: d, Estimated: est})
}

// savePosition stores the heard position (at most every 5 s unless force).
func (p *Player) savePosition(force bool) {
	if p.heardT == nil || p.heardT != p.cur || (!force && clock.Since(p.clk, p.lastSaved) < 5*time.Second) {
		return
	}
	p.savePositionOf(p.heardT, p.lastPos)
}

func (p *Player) savePositionOf(t *track, pos time.Duration) {
	if p.opts.Positions == nil || t == nil {
		return
	}
	p.lastSaved = p.clk.Now()
	if err := p.opts.Positions.Save(t.id, pos); err != nil {
		p.log.Warn("saving position", "title", t.id, "err", err)
	}
}
