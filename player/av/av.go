package av

// #cgo pkg-config: libavformat libavcodec libavutil libswscale libswresample
// #include "av.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

var (
	logMu   sync.Mutex
	logger  *slog.Logger // nil: slog.Default() at the time of the line
	logOnce sync.Once
)

// SetLogger sends FFmpeg's log (warnings and errors) to l.
func SetLogger(l *slog.Logger) {
	logMu.Lock()
	logger = l
	logMu.Unlock()
	logOnce.Do(func() { C.kith_av_log_to_go() })
}

//export kithAVLog
func kithAVLog(level C.int, line *C.char) {
	logMu.Lock()
	l := logger
	logMu.Unlock()
	if l == nil {
		l = slog.Default()
	}
	msg := C.GoString(line)
	for len(msg) > 0 && (msg[len(msg)-1] == '\n' || msg[len(msg)-1] == '\r') {
		msg = msg[:len(msg)-1]
	}
	switch {
	case level <= C.AV_LOG_ERROR:
		l.Warn("ffmpeg", "msg", msg)
	default:
		l.Debug("ffmpeg", "msg", msg)
	}
}

// source is what FFmpeg's I/O callbacks read: the title's reader.
type source struct {
	ctx  context.Context
	r    io.ReadSeeker
	size int64
	err  error // the last read or seek error, for the caller's message
	stop atomic.Bool
}

//export kithAVRead
func kithAVRead(h C.uintptr_t, buf *C.uint8_t, size C.int) C.int {
	s := cgo.Handle(h).Value().(*source)
	if s.stop.Load() || s.ctx.Err() != nil {
		return C.AVERROR_EXIT
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	for {
		n, err := s.r.Read(b)
		if n > 0 {
			return C.int(n)
		}
		if err == io.EOF {
			return C.AVERROR_EOF
		}
		if err != nil {
			s.err = err
			return C.AVERROR_EXIT
		}
		if s.stop.Load() || s.ctx.Err() != nil {
			return C.AVERROR_EXIT
		}
	}
}

//export kithAVSeek
func kithAVSeek(h C.uintptr_t, off C.int64_t, whence C.int) C.int64_t {
	s := cgo.Handle(h).Value().(*source)
	if whence&C.AVSEEK_SIZE != 0 {
		if s.size > 0 {
			return C.int64_t(s.size)
		}
		return -1
	}
	w := int(whence &^ C.AVSEEK_FORCE)
	if w != io.SeekStart && w != io.SeekCurrent && w != io.SeekEnd {
		return -1
	}
	n, err := s.r.Seek(int64(off), w)
	if err != nil {
		s.err = err
		return -1
	}
	return C.int64_t(n)
}

//export kithAVInterrupted
func kithAVInterrupted(h C.uintptr_t) C.int {
	s := cgo.Handle(h).Value().(*source)
	if s.stop.Load() || s.ctx.Err() != nil {
		return 1
	}
	return 0
}

// avErr words an FFmpeg error code.
func avErr(op string, code C.int) error {
	var buf [256]C.char
	C.av_strerror(code, &buf[0], C.size_t(len(buf)))
	return fmt.Errorf("%s: %s", op, C.GoString(&buf[0]))
}

// ErrUnsupported is matched by errors.Is when a container or codec is not
// one Kith plays.
var ErrUnsupported = errors.New("unsupported container or codec")

// allowed are the decoders Kith opens (also enforced by codec_whitelist).
var allowed = map[C.enum_AVCodecID]string{
	C.AV_CODEC_ID_H264: "h264", C.AV_CODEC_ID_VP8: "vp8", C.AV_CODEC_ID_VP9: "vp9",
	C.AV_CODEC_ID_AAC: "aac", C.AV_CODEC_ID_OPUS: "opus", C.AV_CODEC_ID_VORBIS: "vorbis",
}
