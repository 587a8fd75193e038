package av

// #include "av.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Options configure Open.
type Options struct {
	// Width and Height of the RGBA frames; 0 means the video's own size.
	Width, Height int
	// SampleRate of the audio PCM; 0 means 44100.
	SampleRate int
	// NoVideo and NoAudio skip a stream (an audio title needs no video).
	NoVideo, NoAudio bool
	// Progressive says the title is still arriving: FFmpeg is told the
	// input cannot seek, so it does not read the end (an Ogg duration
	// scan) before playing. Seek then fails.
	Progressive bool
}

// Info describes an opened title.
type Info struct {
	Format     string        // demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	Duration   time.Duration // 0 if unknown
	Width      int           // video size (0: no video)
	Height     int
	FrameRate  float64 // frames per second, 0 if unknown
	VideoCodec string  // "" if none
	AudioCodec string  // "" if none
	SourceRate int     // audio sample rate of the file
}

// Kind says what a Frame holds.
type Kind int

// Frame kinds.
const (
	Video Kind = iota + 1
	Audio
)

// Frame is one decoded frame. Data is reused by the next call to Next.
type Frame struct {
	Kind Kind
	// PTS is the presentation time from the start of the title.
	PTS time.Duration
	// Data is RGBA (Width×Height×4, stride Width×4) for video, and
	// interleaved stereo float32 little-endian frames for audio.
	Data []byte
	// Width and Height of a video frame.
	Width, Height int
	// Duration of an audio frame (its samples at the output rate).
	Duration time.Duration
}

// Media is an opened title being decoded. Its methods must not be called
// concurrently, except Close.
type Media struct {
	mu     sync.Mutex
	src    *source
	handle cgo.Handle
	fc     *C.AVFormatContext
	vi, ai C.int // stream indexes, -1 if none
	vdec   *C.AVCodecContext
	adec   *C.AVCodecContext
	sws    *C.struct_SwsContext
	swr    *C.SwrContext
	pkt    *C.AVPacket
	frame  *C.AVFrame
	rgba   *C.uint8_t // reused RGBA buffer
	pcm    *C.uint8_t // reused PCM buffer
	pcmCap int        // frames
	w, h   int
	size   atomic.Uint64 // the size SetSize asked for (w<<32 | h); 0: none
	rate   int
	info   Info
	skipTo time.Duration // after a seek, frames before this are dropped
	eof    bool
	closed bool
	// pending decoder: which decoder to receive from before reading packets.
	drainV, drainA bool
}

// Open probes r (size bytes; 0 if unknown) and opens its first video and
// audio streams. Reads happen on the calling goroutine, in Open and Next.
func Open(ctx context.Context, r io.ReadSeeker, size int64, opts Options) (*Media, error) {
	if opts.SampleRate <= 0 {
		opts.SampleRate = 44100
	}
	// FFmpeg's own log goes to the package's logger from the first open on,
	// never to the process's stderr (SetLogger only chooses which logger).
	logOnce.Do(func() { C.kith_av_log_to_go() })
	m := &Media{src: &source{ctx: ctx, r: r, size: size}, vi: -1, ai: -1, rate: opts.SampleRate}
	m.handle = cgo.NewHandle(m.src)
	seekable := C.int(1)
	if opts.Progressive {
		seekable = 0
	}
	if rc := C.kith_av_open(&m.fc, C.uintptr_t(m.handle), 64<<10, seekable); rc < 0 {
		m.handle.Delete()
		if m.src.err == nil && (rc == C.KITH_AVERROR_EINVAL || rc == C.AVERROR_INVALIDDATA) {
			// A demuxer outside the whitelist, or no demuxer at all.
			return nil, fmt.Errorf("%w: not an MP4, Matroska/WebM or Ogg file (%v)", ErrUnsupported, avErr("probing", rc))
		}
		return nil, m.wrap("opening media", rc)
	}
	if rc := C.avformat_find_stream_info(m.fc, nil); rc < 0 {
		m.Close()
		return nil, m.wrap("reading stream info", rc)
	}
	m.info.Format = C.GoString(m.fc.iformat.name)
	if m.fc.duration > 0 {
		m.info.Duration = time.Duration(m.fc.duration) * time.Microsecond
	}
	if !opts.NoVideo {
		if err := m.openVideo(opts); err != nil {
			m.Close()
			return nil, err
		}
	} else if i := C.av_find_best_stream(m.fc, C.AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0); i >= 0 {
		// Described, not decoded: the picture is read by another Media.
		st := m.stream(i)
		if name, ok := allowed[st.codecpar.codec_id]; ok {
			m.info.Width, m.info.Height, m.info.VideoCodec = int(st.codecpar.width), int(st.codecpar.height), name
		}
	}
	if !opts.NoAudio {
		if err := m.openAudio(); err != nil {
			m.Close()
			return nil, err
		}
	}
	if m.vdec == nil && m.adec == nil {
		m.Close()
		return nil, fmt.Errorf("%w: no h264/vp8/vp9 video or aac/opus/vorbis audio in %s", ErrUnsupported, m.info.Format)
	}
	m.pkt = C.av_packet_alloc()
	m.frame = C.av_frame_alloc()
	if m.pkt == nil || m.frame == nil {
		m.Close()
		return nil, errors.New("av: out of memory")
	}
	return m, nil
}

func (m *Media) wrap(op string, rc C.int) error {
	if m.src.err != nil {
		return fmt.Errorf("%s: %w", op, m.src.err)
	}
	if err := m.src.ctx.Err(); err != nil && rc == C.AVERROR_EXIT {
		return fmt.Errorf("%s: %w", op, err)
	}
	if rc == C.AVERROR_INVALIDDATA || rc == C.AVERROR_DECODER_NOT_FOUND || rc == C.AVERROR_DEMUXER_NOT_FOUND {
		return fmt.Errorf("%w: %v", ErrUnsupported, avErr(op, rc))
	}
	return avErr(op, rc)
}

func (m *Media) stream(i C.int) *C.AVStream {
	return *(**C.AVStream)(unsafe.Add(unsafe.Pointer(m.fc.streams), uintptr(i)*unsafe.Sizeof(uintptr(0))))
}

func (m *Media) openVideo(opts Options) error {
	i := C.av_find_best_stream(m.fc, C.AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
	if i < 0 {
		return nil
	}
	st := m.stream(i)
	name, ok := allowed[st.codecpar.codec_id]
	if !ok || st.codecpar.codec_type != C.AVMEDIA_TYPE_VIDEO {
		return fmt.Errorf("%w: video codec %s", ErrUnsupported, C.GoString(C.avcodec_get_name(st.codecpar.codec_id)))
	}
	w, h := int(st.codecpar.width), int(st.codecpar.height)
	if w <= 0 || h <= 0 || w > 4096 || h > 4096 || w*h > 4096*2304 {
		return fmt.Errorf("%w: video size %dx%d", ErrUnsupported, w, h)
	}
	if rc := C.kith_av_open_decoder(&m.vdec, st); rc < 0 {
		return m.wrap("opening the "+name+" decoder", rc)
	}
	m.vi = i
	m.w, m.h = opts.Width, opts.Height
	if m.w <= 0 || m.h <= 0 {
		m.w, m.h = w, h
	}
	if m.w > 8192 || m.h > 8192 {
		return fmt.Errorf("av: frame size %dx%d asked is too large", m.w, m.h)
	}
	m.rgba = (*C.uint8_t)(C.av_malloc(C.size_t(m.w * m.h * 4)))
	if m.rgba == nil {
		return errors.New("av: out of memory")
	}
	m.info.Width, m.info.Height, m.info.VideoCodec = w, h, name
	if fr := st.avg_frame_rate; fr.den > 0 && fr.num > 0 {
		m.info.FrameRate = float64(fr.num) / float64(fr.den)
	}
	return nil
}

func (m *Media) openAudio() error {
	i := C.av_find_best_stream(m.fc, C.AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
	if i < 0 {
		return nil
	}
	st := m.stream(i)
	name, ok := allowed[st.codecpar.codec_id]
	if !ok || st.codecpar.codec_type != C.AVMEDIA_TYPE_AUDIO {
		return fmt.Errorf("%w: audio codec %s", ErrUnsupported, C.GoString(C.avcodec_get_name(st.codecpar.codec_id)))
	}
	if r := st.codecpar.sample_rate; r <= 0 || r > 384000 {
		return fmt.Errorf("%w: audio sample rate %d", ErrUnsupported, r)
	}
	if rc := C.kith_av_open_decoder(&m.adec, st); rc < 0 {
		return m.wrap("opening the "+name+" decoder", rc)
	}
	if rc := C.kith_av_swr(&m.swr, m.adec, C.int(m.rate)); rc < 0 {
		return m.wrap("setting up the resampler", rc)
	}
	m.ai = i
	m.info.AudioCodec, m.info.SourceRate = name, int(st.codecpar.sample_rate)
	return nil
}

// Info describes the title.
func (m *Media) Info() Info { return m.info }

// SetSize changes the size of the RGBA frames from the next video frame on
// (a video view that was resized). It may be called from any goroutine,
// also while Next runs; sizes outside 1…8192 are ignored.
func (m *Media) SetSize(w, h int) {
	if w <= 0 || h <= 0 || w > 8192 || h > 8192 {
		return
	}
	m.size.Store(uint64(w)<<32 | uint64(h))
}

// resize applies the size SetSize asked for: a new RGBA buffer (swscale's
// cached context follows the size on its own).
func (m *Media) resize() error {
	v := m.size.Load()
	w, h := int(v>>32), int(v&0xffffffff)
	if v == 0 || (w == m.w && h == m.h) {
		return nil
	}
	buf := (*C.uint8_t)(C.av_malloc(C.size_t(w * h * 4)))
	if buf == nil {
		return errors.New("av: out of memory")
	}
	C.av_free(unsafe.Pointer(m.rgba))
	m.rgba, m.w, m.h = buf, w, h
	return nil
}

// pts converts a frame's best-effort timestamp in stream i to time from
// the start of the title: the container's start, common to every stream,
// so sound and picture stay in step (a stream's own start would hide a
// stream starting later, such as H.264 with B-frames).
func (m *Media) pts(i C.int, ts C.int64_t) time.Duration {
	if ts == C.AV_NOPTS_VALUE {
		return -1
	}
	tb := m.stream(i).time_base
	d := time.Duration(float64(ts) * float64(tb.num) / float64(tb.den) * float64(time.Second))
	if st := m.fc.start_time; st != C.AV_NOPTS_VALUE {
		d -= time.Duration(st) * time.Microsecond
	}
	return d
}

// Next decodes and returns the next frame, audio or video, in the order the
// container holds them. It returns io.EOF at the end.
func (m *Media) Next() (Frame, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Frame{}, errors.New("av: media closed")
	}
	for {
		// Frames already decoded come first.
		for _, d := range []struct {
			dec   *C.AVCodecContext
			i     C.int
			drain *bool
		}{{m.vdec, m.vi, &m.drainV}, {m.adec, m.ai, &m.drainA}} {
			if d.dec == nil || !*d.drain {
				continue
			}
			rc := C.avcodec_receive_frame(d.dec, m.frame)
			if rc == C.KITH_AVERROR_EAGAIN || rc == C.AVERROR_EOF {
				*d.drain = false
				continue
			}
			if rc < 0 {
				return Frame{}, m.wrap("decoding", rc)
			}
			f, keep, err := m.convert(d.i)
			C.av_frame_unref(m.frame)
			if err != nil {
				return Frame{}, err
			}
			if keep {
				return f, nil
			}
		}
		if m.eof {
			return Frame{}, io.EOF
		}
		rc := C.av_read_frame(m.fc, m.pkt)
		if rc == C.AVERROR_EOF {
			// Flush both decoders: their last frames come out now.
			m.eof = true
			for _, dec := range []*C.AVCodecContext{m.vdec, m.adec} {
				if dec != nil {
					C.avcodec_send_packet(dec, nil)
				}
			}
			m.drainV, m.drainA = m.vdec != nil, m.adec != nil
			continue
		}
		if rc < 0 {
			return Frame{}, m.wrap("reading media", rc)
		}
		var dec *C.AVCodecContext
		switch m.pkt.stream_index {
		case m.vi:
			dec, m.drainV = m.vdec, true
		case m.ai:
			dec, m.drainA = m.adec, true
		}
		if dec != nil {
			rc = C.avcodec_send_packet(dec, m.pkt)
			if rc < 0 && rc != C.KITH_AVERROR_EAGAIN && rc != C.AVERROR_INVALIDDATA {
				C.av_packet_unref(m.pkt)
				return Frame{}, m.wrap("decoding", rc)
			}
		}
		C.av_packet_unref(m.pkt)
	}
}

// convert turns m.frame (from stream i) into a Frame; keep is false for a
// frame before the seek target.
func (m *Media) convert(i C.int) (Frame, bool, error) {
	pts := m.pts(i, m.frame.best_effort_timestamp)
	if i == m.vi {
		if pts >= 0 && pts < m.skipTo {
			return Frame{}, false, nil
		}
		if err := m.resize(); err != nil {
			return Frame{}, false, err
		}
		m.sws = C.sws_getCachedContext(m.sws, m.frame.width, m.frame.height, int32(m.frame.format),
			C.int(m.w), C.int(m.h), C.AV_PIX_FMT_RGBA, C.SWS_BILINEAR, nil, nil, nil)
		if m.sws == nil {
			return Frame{}, false, fmt.Errorf("av: cannot convert %dx%d frames", m.frame.width, m.frame.height)
		}
		dst := [4]*C.uint8_t{m.rgba}
		stride := [4]C.int{C.int(m.w * 4)}
		C.sws_scale(m.sws, &m.frame.data[0], &m.frame.linesize[0], 0, m.frame.height, &dst[0], &stride[0])
		return Frame{Kind: Video, PTS: pts, Data: unsafe.Slice((*byte)(unsafe.Pointer(m.rgba)), m.w*m.h*4), Width: m.w, Height: m.h}, true, nil
	}
	in := int(m.frame.nb_samples)
	if in <= 0 {
		return Frame{}, false, nil
	}
	out := int(C.swr_get_out_samples(m.swr, C.int(in)))
	if out > m.pcmCap {
		C.av_free(unsafe.Pointer(m.pcm))
		m.pcmCap = out + 256
		m.pcm = (*C.uint8_t)(C.av_malloc(C.size_t(m.pcmCap * 8)))
		if m.pcm == nil {
			m.pcmCap = 0
			return Frame{}, false, errors.New("av: out of memory")
		}
	}
	dst := [1]*C.uint8_t{m.pcm}
	n := C.swr_convert(m.swr, &dst[0], C.int(m.pcmCap), m.frame.extended_data, C.int(in))
	if n < 0 {
		return Frame{}, false, m.wrap("resampling", n)
	}
	data := unsafe.Slice((*byte)(unsafe.Pointer(m.pcm)), int(n)*8)
	d := time.Duration(n) * time.Second / time.Duration(m.rate)
	if pts >= 0 && pts+d <= m.skipTo {
		return Frame{}, false, nil
	}
	if pts >= 0 && pts < m.skipTo { // cut to the target
		skip := int((m.skipTo - pts).Seconds() * float64(m.rate))
		data = data[min(skip*8, len(data)):]
		pts = m.skipTo
		d = time.Duration(len(data)/8) * time.Second / time.Duration(m.rate)
	}
	return Frame{Kind: Audio, PTS: pts, Data: data, Duration: d}, true, nil
}

// Seek moves to d: to the key frame at or before it, then Next decodes up to
// it and returns the frames due from d on.
func (m *Media) Seek(d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("av: media closed")
	}
	if d < 0 {
		d = 0
	}
	ts := C.int64_t(d / time.Microsecond)
	if st := m.fc.start_time; st != C.AV_NOPTS_VALUE {
		ts += C.int64_t(st)
	}
	if rc := C.av_seek_frame(m.fc, -1, ts, C.AVSEEK_FLAG_BACKWARD); rc < 0 {
		return m.wrap(fmt.Sprintf("seeking to %v", d), rc)
	}
	for _, dec := range []*C.AVCodecContext{m.vdec, m.adec} {
		if dec != nil {
			C.avcodec_flush_buffers(dec)
		}
	}
	if m.swr != nil {
		C.swr_init(m.swr) // drop resampler history
	}
	m.skipTo, m.eof, m.drainV, m.drainA = d, false, false, false
	return nil
}

// Close frees everything and ends a read waiting for data. It may be called
// from any goroutine, once Next and Seek have returned or while they wait.
func (m *Media) Close() error {
	m.src.stop.Store(true)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	C.sws_freeContext(m.sws)
	C.swr_free(&m.swr)
	C.avcodec_free_context(&m.vdec)
	C.avcodec_free_context(&m.adec)
	C.av_packet_free(&m.pkt)
	C.av_frame_free(&m.frame)
	C.av_free(unsafe.Pointer(m.rgba))
	C.av_free(unsafe.Pointer(m.pcm))
	if m.fc != nil {
		C.kith_av_close(m.fc)
		m.fc = nil
	}
	m.handle.Delete()
	return nil
}
