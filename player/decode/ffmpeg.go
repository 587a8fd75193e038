package decode

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/kith-media/kith/player/av"
)

// avPCM is the sound of a title FFmpeg decodes (package av), as the PCM
// stream a Stream reads: stereo float32 already at the output rate.
type avPCM struct {
	m    *av.Media
	rest []byte // the rest of the current audio frame (FFmpeg's memory)
	pos  int64  // PCM bytes read
	rate int
}

func (a *avPCM) Read(p []byte) (int, error) {
	for len(a.rest) == 0 {
		f, err := a.m.Next()
		if err != nil {
			return 0, err
		}
		if f.Kind == av.Audio {
			a.rest = f.Data
		}
	}
	n := copy(p, a.rest)
	a.rest = a.rest[n:]
	a.pos += int64(n)
	return n, nil
}

func (a *avPCM) Seek(offset int64, whence int) (int64, error) {
	switch {
	case offset == 0 && whence == io.SeekCurrent:
		return a.pos, nil
	case whence != io.SeekStart:
		return 0, errors.New("seeking from the current position or the end is not supported")
	}
	d := time.Duration(float64(offset/BytesPerFrame) / float64(a.rate) * float64(time.Second))
	if err := a.m.Seek(d); err != nil {
		return 0, err
	}
	a.rest, a.pos = nil, offset/BytesPerFrame*BytesPerFrame
	return a.pos, nil
}

// openFFmpeg opens MP4, Matroska/WebM or Ogg Opus audio (the first audio
// stream; a video's picture is not decoded here).
func openFFmpeg(r io.ReadSeeker, size int64, opts Options) (*Stream, error) {
	m, err := av.Open(context.Background(), r, size, av.Options{NoVideo: true, SampleRate: opts.SampleRate, Progressive: opts.Progressive})
	if err != nil {
		if errors.Is(err, av.ErrUnsupported) {
			return nil, &UnsupportedError{What: err.Error()}
		}
		return nil, err
	}
	info := m.Info()
	if info.AudioCodec == "" {
		m.Close()
		return nil, &UnsupportedError{What: "no sound track (a video without sound is not played yet)"}
	}
	s := &Stream{pcm: &avPCM{m: m, rate: opts.SampleRate}, sourceRate: opts.SampleRate, seekable: !opts.Progressive, closer: m,
		videoW: info.Width, videoH: info.Height}
	if info.Duration > 0 {
		s.length = int64(info.Duration.Seconds()*float64(opts.SampleRate)) * BytesPerFrame
		s.estimated = opts.Progressive
	}
	return s, nil
}
