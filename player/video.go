package player

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"github.com/kith-media/kith/player/av"
)

// VideoSink is where a video's picture goes: the app's video view. Its
// methods are called on the presenting goroutine.
type VideoSink interface {
	// VideoBox is the box, in pixels, the frames should fit now (the view's
	// size); 0×0 means Options.VideoWidth×VideoHeight. The picture keeps
	// its aspect: frames are converted by swscale to the largest size
	// that fits the box.
	VideoBox() (w, h int)
	// VideoFrame is the frame due now; img is valid only during the call.
	VideoFrame(img *image.RGBA)
}

// SetVideoSink sends the picture of videos to s from the next frame on
// (nil: no sink). EventVideo is emitted either way, without the picture
// (Event.Video nil) while a sink takes it.
func (p *Player) SetVideoSink(s VideoSink) {
	if s == nil {
		p.sink.Store(nil)
		return
	}
	p.sink.Store(&s)
}

// fit is the largest size of a w×h picture inside a bw×bh box, with even
// sides (what swscale's 4:2:0 conversion handles best), at least 2×2.
func fit(w, h, bw, bh int) (int, int) {
	if w <= 0 || h <= 0 || bw <= 0 || bh <= 0 {
		return 0, 0
	}
	fw, fh := bw, h*bw/w
	if fh > bh {
		fw, fh = w*bh/h, bh
	}
	return max(2, fw&^1), max(2, fh&^1)
}

// sizedFrames sizes the frames of m to the sink's box (or the default
// size) before each one is decoded.
type sizedFrames struct {
	m      *av.Media
	p      *Player
	vw, vh int // the video's own size
	lastW  int
	lastH  int
}

func (s *sizedFrames) Next() (av.Frame, error) {
	bw, bh := s.p.opts.VideoWidth, s.p.opts.VideoHeight
	if sp := s.p.sink.Load(); sp != nil {
		if w, h := (*sp).VideoBox(); w > 0 && h > 0 {
			bw, bh = w, h
		}
	}
	if w, h := fit(s.vw, s.vh, bw, bh); w > 0 && (w != s.lastW || h != s.lastH) {
		s.m.SetSize(w, h)
		s.lastW, s.lastH = w, h
	}
	return s.m.Next()
}

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
		if sp := p.sink.Load(); sp != nil {
			(*sp).VideoFrame(&image.RGBA{Pix: f.Data, Stride: f.Width * 4, Rect: image.Rect(0, 0, f.Width, f.Height)})
			// The sink has the picture: the event only says a frame was
			// shown (a copy for it cost ~0.2–0.5 ms and 2.2 MB of cache
			// traffic a frame at the app's 994×558, read by no subscriber).
			p.emit(Event{Kind: EventVideo, TitleID: t.id, Position: f.PTS, At: time.Now()})
			return
		}
		img := bufs[k]
		if img == nil || img.Rect.Dx() != f.Width || img.Rect.Dy() != f.Height {
			img = image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
			bufs[k] = img
		}
		copy(img.Pix, f.Data)
		k ^= 1
		p.emit(Event{Kind: EventVideo, TitleID: t.id, Position: f.PTS, Video: img, At: time.Now()})
	}, Dropped: func(pts, late time.Duration) {
		p.log.Debug("video frame dropped", "title", t.id, "pts", pts, "late", late)
	}}
	p.video = r
	clock := func() (time.Duration, bool) {
		heard, pos, idle, _ := p.pump.heard(p.out.Buffered)
		if heard != t || idle {
			return -time.Millisecond, true // not heard (yet, or any more): wait
		}
		return t.stream.TimeAt(pos), true
	}
	pic := t.takePicture(from)
	go func() {
		if pic == nil {
			var err error
			if pic, err = p.openPicture(vctx, t.id, t.media.m, from); err != nil {
				if vctx.Err() == nil {
					p.log.Warn("opening the picture", "title", t.id, "err", err)
				}
				return
			}
		}
		r.mu.Lock()
		r.media = pic.m
		closed := r.closed
		r.mu.Unlock()
		defer r.close()
		defer pic.med.Close()
		if closed {
			return
		}
		ahead := decodeAhead(vctx, pic)
		err := r.pres.Run(vctx, ahead, clock)
		if err != nil && vctx.Err() == nil {
			p.log.Warn("presenting the picture", "title", t.id, "err", err)
		}
		// The decoding goroutine stops at its next frame, or its read
		// waiting for a chunk ends; only then is the decoder closed.
		r.cancel()
		r.close()
		ahead.wait()
	}()
}

// picture is a title's picture opened for presenting: its own reader of
// the title, the decoder at the start position and, until Next hands it
// out, the first frame already decoded. The player opens it with the
// title, beside the sound, and starts the sound only once it is ready, so
// the first frames are not already late when the sound starts (a 720p
// decoder took 100–200 ms to open, and its first 3–6 frames were dropped).
type picture struct {
	m     Media
	med   *av.Media
	src   *sizedFrames
	from  time.Duration
	first av.Frame
	has   bool // first not handed out yet
}

// pictureOpen is a picture being opened beside the sound: the reader and
// decoder first, then, once the sound knows where it starts (from), the
// first frame from there.
type pictureOpen struct {
	from   chan time.Duration // one start position; closed: not wanted
	done   chan struct{}      // closed when pic or err is set
	cancel context.CancelFunc // ends the picture's reads
	pic    *picture
	err    error
}

// startPicture starts opening the picture of the title whose sound reads
// m; send the start position on from, then wait for done.
func (p *Player) startPicture(ctx context.Context, id string, m Media) *pictureOpen {
	ctx, cancel := context.WithCancel(ctx)
	po := &pictureOpen{from: make(chan time.Duration, 1), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(po.done)
		pm, med, err := p.openPictureMedia(ctx, cancel, id, m)
		if err != nil {
			po.err = err
			return
		}
		from, ok := <-po.from
		if !ok {
			med.Close()
			pm.Close()
			return
		}
		po.pic, po.err = p.firstPicture(pm, med, from)
	}()
	return po
}

// abandon drops a picture not wanted (no picture in the title after all,
// or the sound failed to open): its reads end (one may wait for a chunk of
// a title still arriving) and its opening is waited for.
func (po *pictureOpen) abandon() {
	if po == nil {
		return
	}
	close(po.from)
	po.cancel()
	<-po.done
	if po.pic != nil {
		po.pic.close()
	}
}

// openPicture opens id's picture and decodes its first frame from from;
// the sound reads m.
func (p *Player) openPicture(ctx context.Context, id string, m Media, from time.Duration) (*picture, error) {
	ctx, cancel := context.WithCancel(ctx)
	pm, med, err := p.openPictureMedia(ctx, cancel, id, m)
	if err != nil {
		return nil, err
	}
	return p.firstPicture(pm, med, from)
}

// openPictureMedia opens the picture's reader of the title (a view of the
// sound's m when it can be shared, else the title opened again) and its
// decoder. Closing the reader calls cancel, which ends ctx.
func (p *Player) openPictureMedia(ctx context.Context, cancel context.CancelFunc, id string, m Media) (Media, *av.Media, error) {
	var pm Media
	if at, ok := m.(readerAtContext); ok {
		pm = &mediaView{Media: m, at: at, ctx: ctx, cancel: cancel}
	} else {
		om, err := p.opts.Source.Open(ctx, id)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		pm = cancelOnClose{om, cancel}
	}
	med, err := av.Open(ctx, pm, pm.Size(), av.Options{NoAudio: true, Width: p.opts.VideoWidth, Height: p.opts.VideoHeight})
	if err != nil {
		pm.Close()
		return nil, nil, err
	}
	return pm, med, nil
}

// firstPicture seeks the picture's decoder to from and decodes the first
// frame there.
func (p *Player) firstPicture(m Media, med *av.Media, from time.Duration) (*picture, error) {
	pic := &picture{m: m, med: med, from: from}
	info := med.Info()
	pic.src = &sizedFrames{m: med, p: p, vw: info.Width, vh: info.Height}
	if from > 0 {
		if err := med.Seek(from); err != nil {
			pic.close()
			return nil, fmt.Errorf("seeking the picture to %v: %w", from, err)
		}
	}
	var err error
	switch pic.first, err = pic.src.Next(); {
	case err == nil:
		pic.has = true
	case !errors.Is(err, io.EOF):
		pic.close()
		return nil, err
	}
	return pic, nil
}

// Next implements av.FrameSource: the first frame, then the decoder's.
func (pic *picture) Next() (av.Frame, error) {
	if pic.has {
		pic.has = false
		return pic.first, nil
	}
	return pic.src.Next()
}

// close frees a picture never presented.
func (pic *picture) close() {
	pic.med.Close()
	pic.m.Close()
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
	p.log.Info("video presented", "title", r.t.id, "presented", s.FramesPresented, "dropped", s.FramesDropped,
		"av_offset_p50_ms", s.OffsetP50ms, "av_offset_p95_ms", s.OffsetP95ms, "av_offset_max_ms", s.OffsetMaxms)
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
