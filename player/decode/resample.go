package decode

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// Resampling: a polyphase windowed-sinc (Kaiser) filter in pure Go.
//
// Output frame n sits at input time n·M/L (L/M is to/from reduced). It is
// the sum of the sincTaps input frames around that time, each weighted by a
// Kaiser-windowed sinc whose cutoff is resampleCutoff of the lower Nyquist
// frequency. The weights depend only on the fractional part of n·M/L: one
// row per phase, precomputed (or, for rates with more than maxPhases
// phases, interpolated between maxPhases+1 rows). With β = 10 and 64 taps
// (scaled up when decimating) the stopband is below −90 dB and the passband
// ripple is far below 0.001 dB, so a 48 kHz title played at 44.1 kHz
// matches a high-precision reference (soxr) to well over 60 dB SNR
// (TestResampleSNR). It needs no cgo and seeks exactly: the input is read
// from sincTaps/2 frames before the seek target.
const (
	sincTaps       = 64
	kaiserBeta     = 10.0
	resampleCutoff = 0.95
	maxPhases      = 1024
)

// sincResampler converts stereo float32 PCM from one rate to another. It
// seeks when its source does.
type sincResampler struct {
	src     io.ReadSeeker
	l, m    int64 // output/input rate ratio, reduced
	taps    int
	phases  int         // rows in coef
	coef    [][]float32 // coef[row][j] weighs input frame base+j
	buf     []float32   // interleaved stereo input frames from bufBase
	bufBase int64
	n       int64 // next output frame
	srcEOF  bool
	inLen   int64 // input frames, once the source ended (or -1)
	raw     []byte
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// newSincResampler resamples src (stereo float32 at from) to rate to.
func newSincResampler(src io.ReadSeeker, from, to int) *sincResampler {
	g := gcd(int64(from), int64(to))
	r := &sincResampler{src: src, l: int64(to) / g, m: int64(from) / g, inLen: -1, raw: make([]byte, 4096*BytesPerFrame)}
	// Cutoff in cycles per input sample (0.5 is the input's Nyquist).
	fc := 0.5 * resampleCutoff
	taps := sincTaps
	if r.m > r.l { // decimating: the filter narrows, so it lengthens
		fc *= float64(r.l) / float64(r.m)
		taps = int(math.Ceil(float64(sincTaps)*float64(r.m)/float64(r.l)/2)) * 2
	}
	r.taps = taps
	r.phases = int(min(r.l, maxPhases))
	rows := r.phases
	if r.l > maxPhases {
		rows++ // interpolated: one more row at fraction 1
	}
	half := taps / 2
	i0b := besselI0(kaiserBeta)
	r.coef = make([][]float32, rows)
	for p := range r.coef {
		frac := float64(p) / float64(r.phases) // output time − base input frame
		row := make([]float32, taps)
		var sum float64
		w := make([]float64, taps)
		for j := 0; j < taps; j++ {
			// Input frame base−half+1+j lies d input frames before the output time.
			d := frac + float64(half-1-j)
			x := d / float64(half)
			if x <= -1 || x >= 1 {
				continue
			}
			win := besselI0(kaiserBeta*math.Sqrt(1-x*x)) / i0b
			w[j] = 2 * fc * sinc(2*fc*d) * win
			sum += w[j]
		}
		for j := range row {
			row[j] = float32(w[j] / sum) // unity gain at DC for every phase
		}
		r.coef[p] = row
	}
	return r
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < sum*1e-17 {
			break
		}
	}
	return sum
}

// fill makes buf hold input frames up to (and including) frame last, or
// to the end of the source.
func (r *sincResampler) fill(last int64) error {
	for idle := 0; !r.srcEOF && r.bufBase+int64(len(r.buf)/2) <= last; {
		n, err := r.src.Read(r.raw)
		if n == 0 && err == nil {
			if idle++; idle > 100 {
				return io.ErrNoProgress
			}
			continue
		}
		idle = 0
		n = n / BytesPerFrame * BytesPerFrame
		for i := 0; i < n; i += 4 {
			r.buf = append(r.buf, math.Float32frombits(binary.LittleEndian.Uint32(r.raw[i:])))
		}
		if err == io.EOF {
			r.srcEOF = true
			r.inLen = r.bufBase + int64(len(r.buf)/2)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// at returns input frame i (zero outside the input).
func (r *sincResampler) at(i int64) (float32, float32) {
	k := i - r.bufBase
	if i < 0 || k < 0 || k >= int64(len(r.buf)/2) {
		return 0, 0
	}
	return r.buf[2*k], r.buf[2*k+1]
}

// Read implements io.Reader.
func (r *sincResampler) Read(p []byte) (int, error) {
	half := int64(r.taps / 2)
	out := 0
	for out+BytesPerFrame <= len(p) {
		pos := r.n * r.m // input time × L
		base := pos / r.l
		if r.inLen >= 0 && base >= r.inLen {
			break
		}
		first := base - half + 1
		if err := r.fill(base + half); err != nil {
			return out, err
		}
		if r.inLen >= 0 && base >= r.inLen {
			break
		}
		// Drop input no longer needed (keeping the buffer small).
		if drop := first - r.bufBase; drop > 8192 {
			r.buf = append(r.buf[:0], r.buf[2*drop:]...)
			r.bufBase += drop
		}
		var row []float32
		var mix float32
		var row2 []float32
		ph := pos % r.l
		if r.l <= maxPhases {
			row = r.coef[ph]
		} else {
			f := float64(ph) / float64(r.l) * maxPhases
			i := int(f)
			row, row2, mix = r.coef[i], r.coef[i+1], float32(f-float64(i))
		}
		var lsum, rsum float32
		if first >= r.bufBase && first+int64(r.taps) <= r.bufBase+int64(len(r.buf)/2) {
			in := r.buf[2*(first-r.bufBase):]
			for j, c := range row {
				if row2 != nil {
					c += (row2[j] - c) * mix
				}
				lsum += in[2*j] * c
				rsum += in[2*j+1] * c
			}
		} else { // at the edges of the input
			for j, c := range row {
				if row2 != nil {
					c += (row2[j] - c) * mix
				}
				a, b := r.at(first + int64(j))
				lsum += a * c
				rsum += b * c
			}
		}
		binary.LittleEndian.PutUint32(p[out:], math.Float32bits(lsum))
		binary.LittleEndian.PutUint32(p[out+4:], math.Float32bits(rsum))
		out += BytesPerFrame
		r.n++
	}
	if out == 0 && len(p) >= BytesPerFrame {
		return 0, io.EOF
	}
	return out, nil
}

// Seek implements io.Seeker in output PCM bytes. Moving needs a seekable
// source.
func (r *sincResampler) Seek(offset int64, whence int) (int64, error) {
	cur := r.n * BytesPerFrame
	switch whence {
	case io.SeekCurrent:
		if offset == 0 {
			return cur, nil
		}
		offset += cur
	case io.SeekEnd:
		return 0, errors.New("resampler: seeking from the end is not supported")
	}
	if offset < 0 {
		return 0, errors.New("resampler: negative position")
	}
	n := offset / BytesPerFrame
	first := max(n*r.m/r.l-int64(r.taps/2)+1, 0)
	if _, err := r.src.Seek(first*BytesPerFrame, io.SeekStart); err != nil {
		return 0, err
	}
	r.n, r.bufBase, r.buf, r.srcEOF, r.inLen = n, first, r.buf[:0], false, -1
	return n * BytesPerFrame, nil
}

// outFrames is the output length for in input frames.
func (r *sincResampler) outFrames(in int64) int64 {
	return (in*r.l + r.m - 1) / r.m
}
