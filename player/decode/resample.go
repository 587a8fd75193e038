package decode

import (
	"encoding/binary"
	"io"
	"math"
)

// linearResampler converts stereo float32 PCM between rates by linear
// interpolation, streaming (no length needed). It is used only when the
// source length is unknown (a progressive MP3 or Vorbis at a foreign rate).
type linearResampler struct {
	r        io.Reader
	from, to int
	in       []byte
	prev     [2]float32 // frame at input index base
	next     [2]float32 // frame at base+1
	base     int64      // input frame index of prev
	out      int64      // output frames produced
	havePrev bool
	eof      bool
	pos      int64
}

func newLinearResampler(r io.Reader, from, to int) *linearResampler {
	return &linearResampler{r: r, from: from, to: to, in: make([]byte, 4096*BytesPerFrame)}
}

func (l *linearResampler) readFrame() ([2]float32, bool, error) {
	var b [BytesPerFrame]byte
	if _, err := io.ReadFull(l.r, b[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return [2]float32{}, false, nil
		}
		return [2]float32{}, false, err
	}
	return [2]float32{
		math.Float32frombits(binary.LittleEndian.Uint32(b[0:])),
		math.Float32frombits(binary.LittleEndian.Uint32(b[4:])),
	}, true, nil
}

func (l *linearResampler) Read(p []byte) (int, error) {
	if !l.havePrev {
		f, ok, err := l.readFrame()
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, io.EOF
		}
		g, ok, err := l.readFrame()
		if err != nil {
			return 0, err
		}
		if !ok {
			g = f
		}
		l.prev, l.next, l.havePrev = f, g, true
	}
	n := 0
	for n+BytesPerFrame <= len(p) {
		// Input position of this output frame.
		t := float64(l.out) * float64(l.from) / float64(l.to)
		for int64(t) > l.base {
			if l.eof {
				break
			}
			f, ok, err := l.readFrame()
			if err != nil {
				return n, err
			}
			l.base++
			l.prev = l.next
			if !ok {
				l.eof = true
				break
			}
			l.next = f
		}
		if l.eof && int64(t) > l.base {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		frac := float32(t - float64(l.base))
		for c := 0; c < 2; c++ {
			v := l.prev[c] + (l.next[c]-l.prev[c])*frac
			binary.LittleEndian.PutUint32(p[n+4*c:], math.Float32bits(v))
		}
		n += BytesPerFrame
		l.out++
	}
	l.pos += int64(n)
	return n, nil
}

func (l *linearResampler) Seek(offset int64, whence int) (int64, error) {
	if offset == 0 && whence == io.SeekCurrent {
		return l.pos, nil
	}
	return 0, ErrNotSeekable
}
