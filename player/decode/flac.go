package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/mewkiz/flac"
)

// flacPCM decodes FLAC frames into stereo float32 bytes.
type flacPCM struct {
	st    *flac.Stream
	scale float32
	buf   []byte // decoded, not yet read
	pos   int64  // PCM byte position of the next Read
	total int64  // PCM bytes (0 if the stream info does not say)
	eof   bool
}

func openFLAC(r io.ReadSeeker) (*Stream, error) {
	st, err := flac.NewSeek(r)
	if err != nil {
		return nil, err
	}
	info := st.Info
	if info == nil || info.SampleRate == 0 || info.NChannels == 0 {
		return nil, errors.New("missing stream info")
	}
	if info.BitsPerSample < 4 || info.BitsPerSample > 32 {
		return nil, fmt.Errorf("unsupported bits per sample %d", info.BitsPerSample)
	}
	p := &flacPCM{
		st:    st,
		scale: float32(1 / math.Exp2(float64(info.BitsPerSample-1))),
		total: int64(info.NSamples) * BytesPerFrame,
	}
	return &Stream{pcm: p, sourceRate: int(info.SampleRate), length: p.total, seekable: p.total > 0}, nil
}

func (p *flacPCM) Read(b []byte) (int, error) {
	for len(p.buf) == 0 {
		if p.eof {
			return 0, io.EOF
		}
		if err := p.decodeFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	p.pos += int64(n)
	return n, nil
}

// decodeFrame appends the next frame's samples to buf.
func (p *flacPCM) decodeFrame() error {
	f, err := p.st.ParseNext()
	if err == io.EOF {
		p.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("decoding flac frame: %w", err)
	}
	if len(f.Subframes) == 0 {
		return nil
	}
	left := f.Subframes[0].Samples
	right := left
	if len(f.Subframes) > 1 {
		right = f.Subframes[1].Samples
	}
	n := min(len(left), len(right))
	need := n * BytesPerFrame
	if cap(p.buf) < need {
		p.buf = make([]byte, need)
	}
	out := p.buf[:need]
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(out[i*8:], math.Float32bits(float32(left[i])*p.scale))
		binary.LittleEndian.PutUint32(out[i*8+4:], math.Float32bits(float32(right[i])*p.scale))
	}
	p.buf = out
	return nil
}

func (p *flacPCM) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += p.pos
	case io.SeekEnd:
		offset += p.total
	}
	if offset == p.pos {
		return p.pos, nil
	}
	if offset < 0 || (p.total > 0 && offset > p.total) {
		return 0, fmt.Errorf("seeking flac to %d: out of range", offset)
	}
	if p.total > 0 && offset == p.total {
		p.buf, p.eof, p.pos = nil, true, offset
		return offset, nil
	}
	sample := uint64(offset / BytesPerFrame)
	first, err := p.st.Seek(sample)
	if err != nil {
		return 0, fmt.Errorf("seeking flac to sample %d: %w", sample, err)
	}
	p.buf, p.eof = nil, false
	if err := p.decodeFrame(); err != nil {
		return 0, err
	}
	skip := int64(sample-first) * BytesPerFrame
	if skip > int64(len(p.buf)) {
		skip = int64(len(p.buf))
	}
	p.buf = p.buf[skip:]
	p.pos = int64(sample) * BytesPerFrame
	return p.pos, nil
}
