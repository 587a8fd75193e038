package tags

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxScanFrames is the most MP3 frames counted one by one when the first
// frame carries no frame count; the rest of the file is extrapolated.
const MaxScanFrames = 200_000

var errNoDuration = errors.New("no duration in the stream headers")

// duration reads the playing time from the stream's own headers.
func duration(k kind, r *budgetReader) (time.Duration, error) {
	switch k {
	case kindMP3:
		return mp3Duration(r)
	case kindFLAC:
		return flacDuration(r)
	case kindOgg:
		return oggDuration(r)
	case kindMP4:
		return mp4Duration(r)
	case kindWAV:
		return wavDuration(r)
	}
	return 0, errNoDuration
}

func seconds(num, den uint64) time.Duration {
	if den == 0 {
		return 0
	}
	if num/den > uint64(MaxDuration/time.Second) {
		return MaxDuration + 1
	}
	return time.Duration(num/den)*time.Second + time.Duration((num%den)*uint64(time.Second)/den)
}

// id3v2Size is the length of an ID3v2 tag starting at head (0 if none).
func id3v2Size(head []byte) int {
	if len(head) < 10 || string(head[:3]) != "ID3" {
		return 0
	}
	n := int(head[6]&0x7f)<<21 | int(head[7]&0x7f)<<14 | int(head[8]&0x7f)<<7 | int(head[9]&0x7f)
	n += 10
	if head[5]&0x10 != 0 { // footer present
		n += 10
	}
	return n
}

// mp3Frame is one MPEG audio frame header.
type mp3Frame struct {
	length, samples, rate int
	v1, mono              bool
}

var mp3Bitrates = [5][16]int{ // kbit/s: V1L1, V1L2, V1L3, V2L1, V2L2/3
	{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
}

var mp3Rates = [4][3]int{{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000}}

func parseMP3Frame(h []byte) (mp3Frame, bool) {
	if len(h) < 4 || h[0] != 0xff || h[1]&0xe0 != 0xe0 {
		return mp3Frame{}, false
	}
	ver, layer := (h[1]>>3)&3, (h[1]>>1)&3
	bri, sri, pad := int(h[2]>>4), int((h[2]>>2)&3), int((h[2]>>1)&1)
	if ver == 1 || layer == 0 || bri == 0 || bri == 15 || sri == 3 {
		return mp3Frame{}, false
	}
	f := mp3Frame{rate: mp3Rates[ver][sri], v1: ver == 3, mono: h[3]>>6 == 3}
	var table int
	switch {
	case f.v1:
		table = int(3 - layer) // layer bits 3=I, 2=II, 1=III
	case layer == 3:
		table = 3
	default:
		table = 4
	}
	br := mp3Bitrates[table][bri] * 1000
	switch {
	case layer == 3: // Layer I
		f.samples = 384
		f.length = (12*br/f.rate + pad) * 4
	case layer == 2 || f.v1: // Layer II, or Layer III MPEG-1
		f.samples = 1152
		f.length = 144*br/f.rate + pad
	default: // Layer III MPEG-2/2.5
		f.samples = 576
		f.length = 72*br/f.rate + pad
	}
	return f, f.length >= 4
}

// firstFrame finds the first MPEG frame at or after off whose successor
// also parses, looking at most window bytes ahead.
func firstFrame(r *budgetReader, off, window int64) (int64, bool) {
	buf := make([]byte, window+4)
	n, _ := readSome(r, buf, off)
	buf = buf[:n]
	for i := 0; i+4 <= len(buf); i++ {
		f, ok := parseMP3Frame(buf[i:])
		if !ok {
			continue
		}
		var next [4]byte
		if r.readAt(next[:], off+int64(i)+int64(f.length)) != nil {
			continue
		}
		if g, ok := parseMP3Frame(next[:]); ok && g.rate == f.rate {
			return off + int64(i), true
		}
	}
	return 0, false
}

func readSome(r *budgetReader, p []byte, off int64) (int, error) {
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r, p)
}

func mp3Duration(r *budgetReader) (time.Duration, error) {
	d, s, err := mp3Head(r)
	if err != nil || s == nil {
		return d, err
	}
	// Count frames; past MaxScanFrames (or the budget), extrapolate.
	w := window{r: r}
	for ; !s.done && s.off+4 <= r.size; s.frames++ {
		h := w.at(s.off, 4)
		if s.frames == MaxScanFrames || h == nil {
			break
		}
		s.frame(h)
	}
	return s.Duration()
}

// mp3Head finds the first frame; its Xing/Info or VBRI frame count gives
// the duration, else the answer is a FrameScan to count the frames from
// there.
func mp3Head(r *budgetReader) (time.Duration, *FrameScan, error) {
	var head [10]byte
	if err := r.readAt(head[:], 0); err != nil {
		return 0, nil, fmt.Errorf("mp3: %w", err)
	}
	start, ok := firstFrame(r, int64(id3v2Size(head[:])), 64<<10)
	if !ok {
		return 0, nil, errors.New("mp3: no frames")
	}
	var fh [4 + 36 + 18]byte
	n, _ := readSome(r, fh[:], start)
	f, _ := parseMP3Frame(fh[:n])
	// Xing/Info after the side information, or VBRI at a fixed 32 bytes.
	side := 32
	switch {
	case f.v1 && f.mono:
		side = 17
	case !f.v1 && !f.mono:
		side = 17
	case !f.v1:
		side = 9
	}
	if x := fh[4+side:]; n >= 4+side+12 && (string(x[:4]) == "Xing" || string(x[:4]) == "Info") && x[7]&1 != 0 {
		if frames := binary.BigEndian.Uint32(x[8:12]); frames > 0 {
			return seconds(uint64(frames)*uint64(f.samples), uint64(f.rate)), nil, nil
		}
	}
	if x := fh[4+32:]; n >= 4+32+18 && string(x[:4]) == "VBRI" {
		if frames := binary.BigEndian.Uint32(x[14:18]); frames > 0 {
			return seconds(uint64(frames)*uint64(f.samples), uint64(f.rate)), nil, nil
		}
	}
	return 0, &FrameScan{size: r.size, rate: f.rate, off: start}, nil
}

// FrameScan counts the frames of an MP3 whose first frame carries no frame
// count, from the bytes of the whole file written to it in order (see
// Options.DeferScan): the same count Read makes by reading the file, for a
// caller that reads all of it anyway. It keeps four bytes whatever it is
// given, counts at most MaxScanFrames frames and extrapolates the rest.
type FrameScan struct {
	size, pos, off int64 // file size; bytes written so far; offset of the next frame header
	rate           int
	hdr            [4]byte
	nh             int // bytes of the header at off written so far
	frames         int
	samples, bytes uint64
	done           bool
}

// Write takes the next bytes of the file; it never fails.
func (s *FrameScan) Write(p []byte) (int, error) {
	for !s.done && s.frames < MaxScanFrames {
		i := s.off + int64(s.nh) - s.pos // index in p of the next header byte
		if i >= int64(len(p)) {
			break
		}
		k := copy(s.hdr[s.nh:], p[i:])
		if s.nh += k; s.nh < 4 {
			break
		}
		s.nh = 0
		if s.off+4 > s.size {
			s.done = true // past the size the file was read with
			break
		}
		s.frame(s.hdr[:])
		s.frames++
	}
	s.pos += int64(len(p))
	return len(p), nil
}

// frame counts the frame whose header h is at s.off, or ends the count.
func (s *FrameScan) frame(h []byte) {
	g, ok := parseMP3Frame(h)
	if !ok || g.rate != s.rate {
		s.done = true // an ID3v1 tag, junk, or the end
		return
	}
	s.samples += uint64(g.samples)
	s.bytes += uint64(g.length)
	s.off += int64(g.length)
}

// Duration is the playing time of the frames counted, the rest of the file
// extrapolated.
func (s *FrameScan) Duration() (time.Duration, error) {
	if s.bytes == 0 {
		return 0, errors.New("mp3: no frames")
	}
	samples := s.samples
	if rest := s.size - s.off; rest > 128 && samples > 0 {
		samples += uint64(float64(samples) * float64(rest) / float64(s.bytes))
	}
	return seconds(samples, uint64(s.rate)), nil
}

func flacDuration(r *budgetReader) (time.Duration, error) {
	var head [10]byte
	if err := r.readAt(head[:], 0); err != nil {
		return 0, fmt.Errorf("flac: %w", err)
	}
	off := int64(id3v2Size(head[:]))
	var b [4 + 4 + 34]byte
	if err := r.readAt(b[:], off); err != nil {
		return 0, fmt.Errorf("flac: %w", err)
	}
	if string(b[:4]) != "fLaC" || b[4]&0x7f != 0 {
		return 0, errors.New("flac: no STREAMINFO")
	}
	si := b[8:]
	rate := uint64(si[10])<<12 | uint64(si[11])<<4 | uint64(si[12])>>4
	total := uint64(si[13]&0x0f)<<32 | uint64(binary.BigEndian.Uint32(si[14:18]))
	if rate == 0 || total == 0 {
		return 0, errors.New("flac: STREAMINFO without length")
	}
	return seconds(total, rate), nil
}

func oggDuration(r *budgetReader) (time.Duration, error) {
	// The first page's packet says the codec and rate.
	var p [28 + 255 + 19]byte
	n, _ := readSome(r, p[:], 0)
	if n < 28 || string(p[:4]) != "OggS" {
		return 0, errors.New("ogg: no first page")
	}
	serial := binary.LittleEndian.Uint32(p[14:18])
	segs := int(p[26])
	if 27+segs+19 > n {
		return 0, errors.New("ogg: short first page")
	}
	pkt := p[27+segs : n]
	var rate, preskip uint64
	switch {
	case len(pkt) >= 16 && string(pkt[:7]) == "\x01vorbis":
		rate = uint64(binary.LittleEndian.Uint32(pkt[12:16]))
	case len(pkt) >= 12 && string(pkt[:8]) == "OpusHead":
		rate, preskip = 48000, uint64(binary.LittleEndian.Uint16(pkt[10:12]))
	default:
		return 0, errors.New("ogg: neither Vorbis nor Opus")
	}
	if rate == 0 {
		return 0, errors.New("ogg: zero sample rate")
	}
	// The last page of that stream holds the total granule position.
	win := min(r.size, 128<<10)
	tail := make([]byte, win)
	if err := r.readAt(tail, r.size-win); err != nil {
		return 0, fmt.Errorf("ogg: %w", err)
	}
	for i := len(tail) - 27; i >= 0; i-- {
		if tail[i] != 'O' || string(tail[i:i+4]) != "OggS" || binary.LittleEndian.Uint32(tail[i+14:i+18]) != serial {
			continue
		}
		g := binary.LittleEndian.Uint64(tail[i+6 : i+14])
		if g == ^uint64(0) { // no packet ends on this page
			continue
		}
		if g < preskip {
			return 0, nil
		}
		return seconds(g-preskip, rate), nil
	}
	return 0, errors.New("ogg: no last page")
}

// mp4Duration walks top-level boxes to moov, then mvhd.
func mp4Duration(r *budgetReader) (time.Duration, error) {
	moov, moovEnd, err := mp4Find(r, 0, r.size, "moov")
	if err != nil {
		return 0, err
	}
	mvhd, mvhdEnd, err := mp4Find(r, moov, moovEnd, "mvhd")
	if err != nil {
		return 0, err
	}
	var b [4 + 8 + 8 + 4 + 8]byte
	n := min(int64(len(b)), mvhdEnd-mvhd)
	if err := r.readAt(b[:n], mvhd); err != nil {
		return 0, fmt.Errorf("mp4 mvhd: %w", err)
	}
	var scale, dur uint64
	switch {
	case b[0] == 0 && n >= 20:
		scale, dur = uint64(binary.BigEndian.Uint32(b[12:16])), uint64(binary.BigEndian.Uint32(b[16:20]))
	case b[0] == 1 && n >= 32:
		scale, dur = uint64(binary.BigEndian.Uint32(b[20:24])), binary.BigEndian.Uint64(b[24:32])
	default:
		return 0, errors.New("mp4: bad mvhd")
	}
	if scale == 0 {
		return 0, errors.New("mp4: zero time scale")
	}
	return seconds(dur, scale), nil
}

// mp4Find returns the payload range of the first box named name in [off, end).
func mp4Find(r *budgetReader, off, end int64, name string) (int64, int64, error) {
	for i := 0; off+8 <= end && i < 1024; i++ {
		var h [16]byte
		if err := r.readAt(h[:8], off); err != nil {
			return 0, 0, fmt.Errorf("mp4: %w", err)
		}
		size, hdr := int64(binary.BigEndian.Uint32(h[:4])), int64(8)
		switch size {
		case 0:
			size = end - off
		case 1:
			if err := r.readAt(h[8:16], off+8); err != nil {
				return 0, 0, fmt.Errorf("mp4: %w", err)
			}
			size, hdr = int64(binary.BigEndian.Uint64(h[8:16])), 16
		}
		if size < hdr || size > end-off {
			return 0, 0, fmt.Errorf("mp4: box %q of bad size %d", h[4:8], size)
		}
		if string(h[4:8]) == name {
			return off + hdr, off + size, nil
		}
		off += size
	}
	return 0, 0, fmt.Errorf("mp4: no %s box", name)
}

func wavDuration(r *budgetReader) (time.Duration, error) {
	var byteRate, data uint64
	err := riffChunks(r, func(id string, off, size int64) error {
		switch id {
		case "fmt ":
			var b [12]byte
			if size < 12 {
				return errors.New("wav: short fmt chunk")
			}
			if err := r.readAt(b[:], off); err != nil {
				return err
			}
			byteRate = uint64(binary.LittleEndian.Uint32(b[8:12]))
		case "data":
			data = uint64(size)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("wav: %w", err)
	}
	if byteRate == 0 || data == 0 {
		return 0, errors.New("wav: no fmt or data chunk")
	}
	return seconds(data, byteRate), nil
}

// window reads a budgetReader in 64 KiB blocks for scans that look at a
// few bytes at many offsets going forward.
type window struct {
	r   *budgetReader
	buf []byte
	off int64 // file offset of buf[0]
}

// at returns n bytes at off (nil past the end or the budget).
func (w *window) at(off int64, n int) []byte {
	if off >= w.off && off+int64(n) <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+int64(n)]
	}
	if w.buf == nil {
		w.buf = make([]byte, 64<<10)
	}
	w.buf = w.buf[:cap(w.buf)]
	k, _ := readSome(w.r, w.buf, off)
	w.buf, w.off = w.buf[:k], off
	if k < n {
		return nil
	}
	return w.buf[:n]
}
