package player

import (
	"context"
	"image"
	"sync"
	"time"

	"github.com/kith-media/kith/player/av"
)

// videoRun presents one track's picture from a reader of its own (the
// sound comes from the track's reader), on the audio clock: the heard
// position of that track.
type videoRun struct {
	t      *track
	cancel context.CancelFunc
	pres   *av.Presenter
	mu     sync.Mutex
	media  Media
	closed bool
}

// startVideo starts presenting t's picture from position from, if t has one.
func (p *Player) startVideo(ctx context.Context, t *track, from time.Duration) {
	p.stopVideo()
	if w, _ := t.stream.Video(); w == 0 {
		return
	}
	vctx, cancel := context.WithCancel(ctx)
	r := &videoRun{t: t, cancel: cancel}
	bufs := [2]*image.RGBA{}
	k := 0
	r.pres = &av.Presenter{Show: func(f av.Frame) {
		img := bufs[k]
		if img == nil || img.Rect.Dx() != f.Width || img.Rect.Dy() != f.Height {
			img = image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
			bufs[k] = img
		}
		copy(img.Pix, f.Data)
		k ^= 1
		p.emit(Event{Kind: EventVideo, TitleID: t.id, Position: f.PTS, Video: img, At: time.Now()})
	}}
	p.video = r
	clock := func() (time.Duration, bool) {
		heard, pos, idle, _ := p.pump.heard(p.out.Buffered())
		if heard != t || idle {
			return -time.Millisecond, true // not heard (yet, or any more): wait
		}
		return t.stream.TimeAt(pos), true
	}
	go func() {
		m, err := p.opts.Source.Open(vctx, t.id)
		if err != nil {
			p.log.Warn("opening the picture", "title", t.id, "err", err)
			return
		}
		r.mu.Lock()
		r.media = m
		closed := r.closed
		r.mu.Unlock()
		defer r.close()
		if closed {
			return
		}
		med, err := av.Open(vctx, m, m.Size(), av.Options{NoAudio: true, Width: p.opts.VideoWidth, Height: p.opts.VideoHeight})
		if err != nil {
			p.log.Warn("opening the picture", "title", t.id, "err", err)
			return
		}
		defer med.Close()
		if from > 0 {
			if err := med.Seek(from); err != nil {
				p.log.Warn("seeking the picture", "title", t.id, "err", err)
				return
			}
		}
		if err := r.pres.Run(vctx, med, clock); err != nil && vctx.Err() == nil {
			p.log.Warn("presenting the picture", "title", t.id, "err", err)
		}
	}()
}

// close closes the picture's media once (ending a read that waits).
func (r *videoRun) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && r.media != nil {
		_ = r.media.Close()
	}
	r.closed = true
}

// stopVideo stops presenting; a read waiting for chunks ends when the
// media is closed.
func (p *Player) stopVideo() {
	r := p.video
	if r == nil {
		return
	}
	p.video = nil
	s := r.pres.Stats()
	p.lastVideo = &s
	r.cancel()
	time.AfterFunc(50*time.Millisecond, r.close)
}

// videoStats are the counts of the video playing, or played last.
func (p *Player) videoStats() *av.Stats {
	if p.video != nil {
		s := p.video.pres.Stats()
		return &s
	}
	return p.lastVideo
}
