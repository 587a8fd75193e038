package decode

import (
	"encoding/binary"
	"io"
)

// lameDecoderDelay is the MP3 decoder's own delay that LAME's encoder
// delay and padding are counted with (the decoder outputs 529 samples
// late).
const lameDecoderDelay = 529

// lameGapless reads the gapless information LAME (and FFmpeg's MP3
// encoder) writes into an MPEG-1 Layer III file's first frame: a
// Xing/Info tag with the LAME extension's encoder delay and padding. It
// returns the samples to drop at the start — the tag's own frame, which
// decodes as a frame of silence, the encoder delay and the decoder's 529 —
// and at the end (the padding less those 529). ok is false for a frame
// without such a tag (the samples are then all played, as before).
//
// Measured on a 2 s `lame -b 192` sweep: the decoded PCM lagged FFmpeg's
// (which trims these) by 2257 samples = 1152 + 576 + 529, 51 ms of
// silence before the sound, and the reported position ran that much ahead
// of what was heard.
func lameGapless(frame []byte) (lead, tail int, ok bool) {
	if len(frame) < 4 {
		return 0, 0, false
	}
	h := binary.BigEndian.Uint32(frame)
	if h>>21 != 0x7FF || (h>>19)&3 != 3 || (h>>17)&3 != 1 {
		return 0, 0, false // not MPEG-1 Layer III
	}
	off := 4 + 32 // header, side information (stereo)
	if (h>>6)&3 == 3 {
		off = 4 + 17 // mono
	}
	if (h>>16)&1 == 0 {
		off += 2 // CRC
	}
	if len(frame) < off+8 {
		return 0, 0, false
	}
	if id := string(frame[off : off+4]); id != "Xing" && id != "Info" {
		return 0, 0, false
	}
	flags := binary.BigEndian.Uint32(frame[off+4:])
	p := off + 8
	for _, f := range []struct {
		bit uint32
		n   int
	}{{1, 4}, {2, 4}, {4, 100}, {8, 4}} { // frames, bytes, TOC, quality
		if flags&f.bit != 0 {
			p += f.n
		}
	}
	if len(frame) < p+24 {
		return 0, 0, false
	}
	if enc := string(frame[p : p+4]); enc != "LAME" && enc != "Lavc" && enc != "Lavf" && enc != "L3.9" {
		return 0, 0, false
	}
	d := frame[p+21:]
	delay := int(d[0])<<4 | int(d[1])>>4
	padding := int(d[1]&0x0F)<<8 | int(d[2])
	return 1152 + delay + lameDecoderDelay, max(0, padding-lameDecoderDelay), true
}

// gapless hides lead bytes at the start and tail bytes at the end of a
// PCM stream (an MP3's encoder delay and padding). The end is trimmed
// once the stream's length is known (a seekable decoder, or a lazily
// indexed one after its first Seek); a stream of unknown length plays its
// padding (a few milliseconds of silence).
type gapless struct {
	r          io.ReadSeeker
	lead, tail int64 // bytes
	pos        int64 // position after lead
	skipped    bool  // r is past lead
}

// innerLength is the length of the wrapped PCM, if known.
func (g *gapless) innerLength() (int64, bool) {
	switch r := g.r.(type) {
	case interface{ Length() int64 }:
		return r.Length(), true
	case interface{ exactLength() (int64, bool) }:
		return r.exactLength()
	}
	return 0, false
}

// exactLength is the trimmed length once the wrapped one is known.
func (g *gapless) exactLength() (int64, bool) {
	n, ok := g.innerLength()
	return max(0, n-g.lead-g.tail), ok
}

func (g *gapless) Read(p []byte) (int, error) {
	if !g.skipped {
		if _, err := io.CopyN(io.Discard, g.r, g.lead); err != nil {
			return 0, err
		}
		g.skipped = true
	}
	if n, ok := g.exactLength(); ok {
		left := n - g.pos
		if left <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := g.r.Read(p)
	g.pos += int64(n)
	return n, err
}

func (g *gapless) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		if offset == 0 {
			return g.pos, nil
		}
		offset += g.pos
	case io.SeekEnd:
		n, ok := g.exactLength()
		if !ok {
			return 0, ErrNotSeekable
		}
		offset += n
	}
	abs, err := g.r.Seek(max(0, offset)+g.lead, io.SeekStart)
	if err != nil {
		return 0, err
	}
	g.pos, g.skipped = abs-g.lead, true
	return g.pos, nil
}
