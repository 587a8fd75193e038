package decode

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// soxrReference is ffmpeg's decode of path resampled to rate by soxr at its
// highest precision, mono.
func soxrReference(t *testing.T, path string, rate int) []float64 {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path,
		"-af", "aresample="+strconv.Itoa(rate)+":resampler=soxr:precision=28", "-ac", "1", "-f", "f64le", "-")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	x := make([]float64, len(b)/8)
	for i := range x {
		x[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return x
}

// leftChannel reads a Stream to the end and returns its left channel.
func leftChannel(t *testing.T, s io.Reader) []float64 {
	t.Helper()
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, len(b)/BytesPerFrame)
	for i := range x {
		x[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i*BytesPerFrame:])))
	}
	return x
}

// snr is the SNR in dB of x against ref over their common length.
func snr(x, ref []float64) float64 {
	var sig, noise float64
	for i := 0; i < min(len(x), len(ref)); i++ {
		sig += ref[i] * ref[i]
		noise += (x[i] - ref[i]) * (x[i] - ref[i])
	}
	return 10 * math.Log10(sig/noise)
}

// TestResampleSNR plays a 48 kHz FLAC file (made by sox and flac) at 44.1 kHz and compares them with ffmpeg's decode resampled by soxr
// at its highest precision: it must reach 60 dB SNR, from
// the start and after a seek. The file is a sweep and two tones below 10 kHz
// (both filters are flat there; above 0.9 × Nyquist they differ by design).
func TestResampleSNR(t *testing.T) {
	for _, tool := range []string{"ffmpeg", "sox", "flac"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (scripts/deps.sh test installs it)", tool)
		}
	}
	dir := t.TempDir()
	script := "sox -n -r 48000 -c 1 -b 16 a.wav synth 1.5 sine 100-9000 vol 0.4\n" +
		"sox -n -r 48000 -c 1 -b 16 b.wav synth 1.5 sine 440 sine 3000 remix - vol 0.4\n" +
		"sox a.wav b.wav s48.wav\n" +
		"flac --silent --force -o s48.flac s48.wav\n"
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making fixtures: %v: %s", err, out)
	}
	for _, c := range []struct {
		file string
		min  float64
	}{{"s48.flac", 60}} {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ref := soxrReference(t, path, 44100)
			s, err := Open(bytes.NewReader(data), int64(len(data)), Options{SampleRate: 44100})
			if err != nil {
				t.Fatal(err)
			}
			if s.SourceRate() != 48000 {
				t.Fatalf("source rate %d", s.SourceRate())
			}
			x := leftChannel(t, s)
			got := snr(x, ref)
			t.Logf("%s at 44.1 kHz: %.1f dB SNR against soxr (%d frames, reference %d)", c.file, got, len(x), len(ref))
			if got < c.min {
				t.Errorf("%s: SNR %.1f dB, want ≥ %.0f dB", c.file, got, c.min)
			}
			if d := len(x) - len(ref); d < -2 || d > 2 {
				t.Errorf("length %d frames, reference %d", len(x), len(ref))
			}
			// Seek to 1.7 s: the same samples as the reference there.
			if err := s.SeekTime(1700 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			at := int(s.BytesAt(1700*time.Millisecond) / BytesPerFrame)
			y := leftChannel(t, s)
			got = snr(y, ref[at:])
			t.Logf("after a seek to 1.7 s: %.1f dB", got)
			if got < c.min {
				t.Errorf("after a seek: SNR %.1f dB, want ≥ %.0f dB", got, c.min)
			}
		})
	}
}
