package decode

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hajimehoshi/ebiten/v2/audio/mp3"
	"github.com/hajimehoshi/ebiten/v2/audio/vorbis"
	"github.com/hajimehoshi/ebiten/v2/audio/wav"
)

// BytesPerFrame is the size of one stereo float32 frame in a Stream.
const BytesPerFrame = 8

// DefaultSampleRate is the output rate used when Options.SampleRate is zero.
const DefaultSampleRate = 44100

// ErrNotSeekable is returned by Stream.Seek when the stream cannot seek (an
// MP3 or Ogg Vorbis title still downloading).
var ErrNotSeekable = errors.New("seeking is not available until the title is fully present")

// Options tune Open.
type Options struct {
	// SampleRate is the output rate; zero means DefaultSampleRate.
	SampleRate int
	// Progressive says the source may still be arriving, so whole-file scans
	// (MP3 frame index, Ogg last page) must be avoided.
	Progressive bool
	// MediaType is the catalog's type, used only to word errors.
	MediaType string
}

// Stream is decoded audio: an io.ReadSeeker of interleaved stereo float32
// little-endian frames at the output rate. Offsets are in bytes of that PCM.
type Stream struct {
	pcm        io.ReadSeeker
	format     Format
	rate       int // output rate
	sourceRate int
	length     int64 // PCM bytes; 0 if unknown
	seekable   bool
	estimated  bool
	closer     io.Closer // FFmpeg's decoder, freed by Close
	videoW     int       // a video's picture size (0: no picture)
	videoH     int
}

// Video is the size of the title's picture, 0×0 for sound only. The
// picture is decoded separately (player/av), from a reader of its own.
func (s *Stream) Video() (width, height int) { return s.videoW, s.videoH }

// Close frees the decoder's memory outside Go (FFmpeg's), if any. The
// source reader is the caller's to close.
func (s *Stream) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// Read reads PCM bytes (whole frames when len(p) allows). A panic inside a
// third-party decoder (corrupt input) is returned as an error.
func (s *Stream) Read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("decoding %s: corrupt data: %v", s.format, r)
		}
	}()
	if len(p) >= BytesPerFrame {
		p = p[:len(p)/BytesPerFrame*BytesPerFrame]
	}
	return s.pcm.Read(p)
}

// Seek moves to a PCM byte offset (rounded down to a frame).
func (s *Stream) Seek(offset int64, whence int) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("seeking %s: corrupt data: %v", s.format, r)
		}
	}()
	if !s.seekable {
		if offset == 0 && whence == io.SeekCurrent {
			return s.pcm.Seek(0, io.SeekCurrent)
		}
		return 0, ErrNotSeekable
	}
	if whence == io.SeekStart {
		offset = offset / BytesPerFrame * BytesPerFrame
		if offset < 0 {
			offset = 0
		}
		if s.length > 0 && !s.estimated && offset > s.length {
			offset = s.length
		}
	}
	return s.pcm.Seek(offset, whence)
}

// SeekTime moves to a time offset.
func (s *Stream) SeekTime(d time.Duration) error {
	_, err := s.Seek(s.BytesAt(d), io.SeekStart)
	return err
}

// BytesAt converts a time offset to a PCM byte offset.
func (s *Stream) BytesAt(d time.Duration) int64 {
	return int64(d.Seconds()*float64(s.rate)) * BytesPerFrame
}

// TimeAt converts a PCM byte offset to a time offset.
func (s *Stream) TimeAt(n int64) time.Duration {
	return time.Duration(float64(n/BytesPerFrame) / float64(s.rate) * float64(time.Second))
}

// Format is the sniffed format.
func (s *Stream) Format() Format { return s.format }

// SampleRate is the output rate of the PCM.
func (s *Stream) SampleRate() int { return s.rate }

// SourceRate is the rate of the encoded audio.
func (s *Stream) SourceRate() int { return s.sourceRate }

// Length is the PCM length in bytes (0 if unknown; an estimate if DurationEstimated).
func (s *Stream) Length() int64 {
	s.refreshLength()
	return s.length
}

// refreshLength picks up an exact length that became known (a lazily
// indexed MP3 after its first seek).
func (s *Stream) refreshLength() {
	if l, ok := s.pcm.(interface{ exactLength() (int64, bool) }); ok && s.estimated {
		if n, ok := l.exactLength(); ok {
			s.length, s.estimated = n, false
		}
	}
}

// Duration is the length as time (0 if unknown).
func (s *Stream) Duration() time.Duration { return s.TimeAt(s.Length()) }

// DurationEstimated reports whether Duration is estimated from a bitrate.
func (s *Stream) DurationEstimated() bool {
	s.refreshLength()
	return s.estimated
}

// Seekable reports whether Seek can move.
func (s *Stream) Seekable() bool { return s.seekable }

// Open sniffs r and returns its decoded audio. size is the media size in
// bytes (used for estimates; may be 0). Images and unknown formats are
// errors: images are shown with DecodeImage, the rest match ErrUnsupported.
func Open(r io.ReadSeeker, size int64, opts Options) (s *Stream, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("decoding: corrupt data: %v", p)
		}
	}()
	if opts.SampleRate <= 0 {
		opts.SampleRate = DefaultSampleRate
	}
	head, err := readHead(r)
	if err != nil {
		return nil, fmt.Errorf("reading media header: %w", err)
	}
	f := Sniff(head)
	if !f.IsAudio() {
		if f.IsImage() {
			return nil, &UnsupportedError{What: f.MediaType() + " is an image, not audio"}
		}
		return nil, &UnsupportedError{What: describe(head, opts.MediaType)}
	}
	br := newBufReadSeeker(r, 64<<10)
	switch f {
	case MP3:
		if err = checkID3(head, size); err != nil {
			break
		}
		s, err = openMP3(br, head, size, opts)
	case Vorbis:
		s, err = openVorbis(br, head, size, opts)
	case WAV:
		if err = checkWAV(br, size); err != nil {
			break
		}
		s, err = openWAV(br)
	case FLAC:
		s, err = openFLAC(br)
	case MP4, Matroska, Opus:
		s, err = openFFmpeg(r, size, opts) // FFmpeg reads through its own buffer
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", f, err)
	}
	s.format = f
	s.rate = opts.SampleRate
	if s.sourceRate <= 0 {
		return nil, fmt.Errorf("decoding %s: invalid sample rate %d", f, s.sourceRate)
	}
	if s.sourceRate != s.rate {
		rs := newSincResampler(s.pcm, s.sourceRate, s.rate)
		if s.length > 0 {
			s.length = rs.outFrames(s.length/BytesPerFrame) * BytesPerFrame
		}
		s.pcm = rs
	}
	return s, nil
}

// readHead reads up to SniffLen bytes from the start and rewinds.
func readHead(r io.ReadSeeker) ([]byte, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return head[:n], nil
}

// noSeek hides io.Seeker so decoders do not scan a file still arriving.
type noSeek struct{ r io.Reader }

func (n noSeek) Read(p []byte) (int, error) { return n.r.Read(p) }

// counting tracks the position of a forward-only PCM stream, so Seek(0,
// SeekCurrent) still works.
type counting struct {
	r   io.Reader
	pos int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *counting) Seek(offset int64, whence int) (int64, error) {
	if offset == 0 && whence == io.SeekCurrent {
		return c.pos, nil
	}
	return 0, ErrNotSeekable
}

func openMP3(r io.ReadSeeker, head []byte, size int64, opts Options) (*Stream, error) {
	// Estimate duration from the first frame header after the ID3 tag.
	var est int64
	var lead, tail int64 // gapless trim (LAME tag), bytes
	skip := int64(id3Size(head))
	if _, err := r.Seek(skip, io.SeekStart); err == nil {
		var fb [512]byte // the first frame's Xing/Info and LAME tags
		n, _ := io.ReadFull(r, fb[:])
		if h, ok := parseMPEGHeader(fb[:n]); ok && size > skip {
			secs := float64(size-skip) * 8 / float64(h.bitrate)
			est = int64(secs*float64(h.sampleRate)) * BytesPerFrame
		}
		if l, t, ok := lameGapless(fb[:n]); ok {
			lead, tail = int64(l)*BytesPerFrame, int64(t)*BytesPerFrame
		}
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	s, err := openMP3Stream(r, est, opts)
	if err != nil || lead == 0 {
		return s, err
	}
	s.pcm = &gapless{r: s.pcm, lead: lead, tail: tail}
	if s.length > 0 {
		s.length = max(0, s.length-lead-tail)
	}
	return s, nil
}

// openMP3Stream opens the decoder (est: the estimated PCM length).
func openMP3Stream(r io.ReadSeeker, est int64, opts Options) (*Stream, error) {
	d, err := mp3.DecodeF32(noSeek{r})
	if err != nil {
		return nil, err
	}
	s := &Stream{pcm: &counting{r: d}, sourceRate: d.SampleRate(), length: est, estimated: est > 0}
	if opts.Progressive {
		return s, nil
	}
	if d.SampleRate() != opts.SampleRate {
		// Resampled: index the frames now, so the length is exact.
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		d, err := mp3.DecodeF32(r)
		if err != nil {
			return nil, err
		}
		return &Stream{pcm: d, sourceRate: d.SampleRate(), length: d.Length(), seekable: true}, nil
	}
	// Play at once from a streaming decoder; the frame index (a pass over
	// the whole file) is built on the first Seek.
	s.pcm = &lazyMP3{r: r, stream: s.pcm.(*counting)}
	s.seekable = true
	return s, nil
}

// lazyMP3 decodes an MP3 as a stream until the first Seek, which indexes
// the frames (go-mp3 scans the whole file for that) and switches to the
// seekable decoder. Time to first sound does not pay for the scan.
type lazyMP3 struct {
	r      io.ReadSeeker
	stream *counting
	full   *mp3.Stream
}

func (l *lazyMP3) Read(p []byte) (int, error) {
	if l.full != nil {
		return l.full.Read(p)
	}
	return l.stream.Read(p)
}

func (l *lazyMP3) Seek(offset int64, whence int) (int64, error) {
	if l.full == nil {
		if offset == 0 && whence == io.SeekCurrent {
			return l.stream.pos, nil
		}
		if _, err := l.r.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		d, err := mp3.DecodeF32(l.r)
		if err != nil {
			return 0, err
		}
		l.full = d
	}
	if whence == io.SeekStart && offset > l.full.Length() {
		offset = l.full.Length()
	}
	return l.full.Seek(offset, whence)
}

// exactLength is the PCM length once known.
func (l *lazyMP3) exactLength() (int64, bool) {
	if l.full == nil {
		return 0, false
	}
	return l.full.Length(), true
}

func openVorbis(r io.ReadSeeker, head []byte, size int64, opts Options) (*Stream, error) {
	if !opts.Progressive {
		d, err := vorbis.DecodeF32(r)
		if err != nil {
			return nil, err
		}
		return &Stream{pcm: d, sourceRate: d.SampleRate(), length: d.Length(), seekable: true}, nil
	}
	d, err := vorbis.DecodeF32(noSeek{r})
	if err != nil {
		return nil, err
	}
	s := &Stream{pcm: &counting{r: d}, sourceRate: d.SampleRate()}
	if br := vorbisNominalBitrate(head); br > 0 && size > 0 {
		secs := float64(size) * 8 / float64(br)
		s.length = int64(secs*float64(d.SampleRate())) * BytesPerFrame
		s.estimated = true
	}
	return s, nil
}

func openWAV(r io.ReadSeeker) (*Stream, error) {
	d, err := wav.DecodeF32(r)
	if err != nil {
		return nil, err
	}
	return &Stream{pcm: d, sourceRate: d.SampleRate(), length: d.Length(), seekable: true}, nil
}
