package pulsetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// ReadWAV reads a 16-bit PCM WAV file (as written by parecord) and returns
// the mono mix of its channels in [-1, 1] and its sample rate. A data chunk
// whose size was never finished (recording interrupted) is read to the end.
func ReadWAV(path string) ([]float64, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("reading recording: %w", err)
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("reading recording: not a RIFF/WAVE file")
	}
	var rate, channels, bits int
	p := 12
	for p+8 <= len(b) {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		switch id {
		case "fmt ":
			if p+16 > len(b) {
				return nil, 0, errors.New("reading recording: short fmt chunk")
			}
			channels = int(binary.LittleEndian.Uint16(b[p+2:]))
			rate = int(binary.LittleEndian.Uint32(b[p+4:]))
			bits = int(binary.LittleEndian.Uint16(b[p+14:]))
		case "data":
			if bits != 16 || channels < 1 {
				return nil, 0, fmt.Errorf("reading recording: want 16-bit PCM, got %d bits %d channels", bits, channels)
			}
			if n <= 0 || p+n > len(b) {
				n = len(b) - p
			}
			data := b[p : p+n]
			frames := len(data) / (2 * channels)
			out := make([]float64, frames)
			for i := range out {
				var sum float64
				for c := 0; c < channels; c++ {
					sum += float64(int16(binary.LittleEndian.Uint16(data[(i*channels+c)*2:]))) / 32768
				}
				out[i] = sum / float64(channels)
			}
			return out, rate, nil
		}
		p += n + n&1
	}
	return nil, 0, errors.New("reading recording: no data chunk")
}

// Goertzel returns the power of frequency f (Hz) in x (sample rate rate),
// normalised so that a full-scale sine gives about 0.25.
func Goertzel(x []float64, rate int, f float64) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := v + c*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(x))
	return p / (n * n)
}

// Dominant returns the candidate frequency with the most power in x.
func Dominant(x []float64, rate int, candidates ...float64) float64 {
	best, bestP := 0.0, -1.0
	for _, f := range candidates {
		if p := Goertzel(x, rate, f); p > bestP {
			best, bestP = f, p
		}
	}
	return best
}

// RMS is the root mean square of x.
func RMS(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// Segment is a stretch of a recording that is all sound or all silence.
type Segment struct {
	Sound      bool
	Start, End int // sample indexes
}

// Duration is the segment's length at rate.
func (s Segment) Duration(rate int) time.Duration {
	return time.Duration(s.End-s.Start) * time.Second / time.Duration(rate)
}

// Segments splits x into sound and silence using 5 ms windows whose RMS is
// above or below threshold; runs shorter than minRun are merged into their
// neighbours (so a click does not split a silence).
func Segments(x []float64, rate int, threshold float64, minRun time.Duration) []Segment {
	win := rate / 200
	if win < 1 {
		win = 1
	}
	var segs []Segment
	for i := 0; i < len(x); i += win {
		j := min(i+win, len(x))
		loud := RMS(x[i:j]) > threshold
		if n := len(segs); n > 0 && segs[n-1].Sound == loud {
			segs[n-1].End = j
		} else {
			segs = append(segs, Segment{Sound: loud, Start: i, End: j})
		}
	}
	minN := int(minRun.Seconds() * float64(rate))
	// Merge short runs into the previous segment, then join equal neighbours.
	var out []Segment
	for _, s := range segs {
		if n := len(out); n > 0 && (s.End-s.Start < minN || out[n-1].Sound == s.Sound) {
			out[n-1].End = s.End
			continue
		}
		out = append(out, s)
	}
	return out
}

// Correlate slides ref over x for every lag in [lo, hi] (x[lag+i] against
// ref[i]; the overlap is cut where x ends) and returns the lag with the
// highest normalised correlation and that correlation in [-1, 1]: 1 means
// x holds ref there exactly, up to a gain.
func Correlate(x, ref []float64, lo, hi int) (lag int, r float64) {
	lo = max(lo, 0)
	r = -2
	for l := lo; l <= hi && l < len(x); l++ {
		if c := NormCorr(x[l:], ref); c > r {
			lag, r = l, c
		}
	}
	if r == -2 {
		r = 0
	}
	return lag, r
}

// NormCorr is the normalised correlation of a and b over their common
// length: Σab / √(Σa²·Σb²). Silence against anything gives 0.
func NormCorr(a, b []float64) float64 {
	n := min(len(a), len(b))
	var ab, aa, bb float64
	for i := 0; i < n; i++ {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// SNR is the signal-to-noise ratio in dB of x against the reference ref
// over their common length: the power of ref over the power of x − g·ref,
// where g is the least-squares gain (so a volume difference is not noise).
func SNR(x, ref []float64) float64 {
	n := min(len(x), len(ref))
	var xr, rr float64
	for i := 0; i < n; i++ {
		xr += x[i] * ref[i]
		rr += ref[i] * ref[i]
	}
	if rr == 0 {
		return math.Inf(-1)
	}
	g := xr / rr
	var noise float64
	for i := 0; i < n; i++ {
		d := x[i] - g*ref[i]
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(g*g*rr/noise)
}

// FirstSound is the index of the first 1 ms window of x whose RMS exceeds
// threshold, or -1.
func FirstSound(x []float64, rate int, threshold float64) int {
	win := max(rate/1000, 1)
	for i := 0; i+win <= len(x); i += win {
		if RMS(x[i:i+win]) > threshold {
			return i
		}
	}
	return -1
}
