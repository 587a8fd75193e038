package decode

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMP3GaplessTrim: a LAME MP3 decodes sample-aligned with FFmpeg's own
// decode (which trims the encoder delay and padding the LAME tag names):
// no leading silence, the same length once the frames are indexed, as a
// seekable title, after a seek, and while downloading (no index: the
// padding's few ms stay). Before, the PCM lagged by 2257 samples (51 ms).
func TestMP3GaplessTrim(t *testing.T) {
	for _, tool := range []string{"sox", "lame", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (scripts/deps.sh test installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	sh := exec.Command("sh", "-ec", "sox -n -r 44100 -c 2 -b 16 sweep.wav synth 2 sine 200-6000 vol 0.5\n"+
		"lame --quiet -b 192 --noreplaygain sweep.wav sweep.mp3")
	sh.Dir = dir
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("encoding: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sweep.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(dir, "sweep.mp3"), "-f", "f32le", "-ac", "1", "-ar", "44100", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	var y []float64
	for i := 0; i+4 <= len(ref); i += 4 {
		y = append(y, 2*float64(math.Float32frombits(binary.LittleEndian.Uint32(ref[i:]))))
	}
	for _, tc := range []struct {
		name        string
		progressive bool
		seek        bool
		sameLength  bool
	}{{"seekable", false, false, false}, {"after a seek", false, true, true}, {"downloading", true, false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(bytes.NewReader(b), int64(len(b)), Options{SampleRate: 44100, MediaType: "audio/mpeg", Progressive: tc.progressive})
			if err != nil {
				t.Fatal(err)
			}
			if tc.seek {
				if _, err := s.Seek(44100*BytesPerFrame, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Seek(0, io.SeekStart); err != nil {
					t.Fatal(err)
				}
			}
			pcm, err := io.ReadAll(s)
			if err != nil {
				t.Fatal(err)
			}
			var x []float64
			for i := 0; i+BytesPerFrame <= len(pcm); i += BytesPerFrame {
				x = append(x, float64(math.Float32frombits(binary.LittleEndian.Uint32(pcm[i:]))))
			}
			best, lag := -1.0, 0
			for l := -3000; l <= 3000; l++ {
				var c, na, nb float64
				for i := 20000; i < 24000; i++ {
					c += x[i+l] * y[i]
					na += x[i+l] * x[i+l]
					nb += y[i] * y[i]
				}
				if r := c / math.Sqrt(na*nb); r > best {
					best, lag = r, l
				}
			}
			t.Logf("%d frames (FFmpeg %d), lag %d samples, correlation %.4f", len(x), len(y), lag, best)
			if lag != 0 || best < 0.999 {
				t.Errorf("decoded PCM lags FFmpeg's by %d samples (correlation %.4f), want 0", lag, best)
			}
			if d := len(x) - len(y); d < 0 || d > 600 || (tc.sameLength && d != 0) {
				t.Errorf("%d frames, FFmpeg %d (want equal once indexed, at most its padding more otherwise)", len(x), len(y))
			}
		})
	}
}
