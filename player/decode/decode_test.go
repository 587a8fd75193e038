package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// toneWAV builds a 16-bit PCM WAV in memory: 1 s of f1 then 1 s of f2 at
// half scale.
func toneWAV(rate, channels int, f1, f2 float64) []byte {
	var pcm bytes.Buffer
	for i := 0; i < 2*rate; i++ {
		f := f1
		if i >= rate {
			f = f2
		}
		v := int16(0.5 * 32767 * math.Sin(2*math.Pi*f*float64(i)/float64(rate)))
		for c := 0; c < channels; c++ {
			_ = binary.Write(&pcm, binary.LittleEndian, v)
		}
	}
	return []byte(WAVHeader(rate, channels, pcm.Len()) + pcm.String())
}

// goertzel is the power of f in x.
func goertzel(x []float64, rate int, f float64) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / float64(len(x)*len(x))
}

// readAllPCM decodes everything and returns the left channel.
func readAllPCM(t *testing.T, s *Stream) []float64 {
	t.Helper()
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("reading pcm: %v", err)
	}
	x := make([]float64, len(b)/BytesPerFrame)
	for i := range x {
		x[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i*BytesPerFrame:])))
	}
	return x
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading fixture (run testdata/make.sh): %v", err)
	}
	return b
}

func TestDecodeKnownSignals(t *testing.T) {
	wav := toneWAV(44100, 2, 440, 1000)
	tests := []struct {
		name        string
		data        []byte
		format      Format
		progressive bool
		rate        int
		slack       time.Duration // encoder padding allowed on the length
	}{
		// WAV generated here, same rate as the output: no resampling.
		{"wav", wav, WAV, false, 44100, 0},
		// Same WAV resampled to 48 kHz by the sinc resampler.
		{"wav-48k", wav, WAV, false, 48000, 0},
		// 8-bit mono WAV at 22050 Hz from make.sh.
		{"wav-8bit-mono", fixture(t, "tone22m8.wav"), WAV, false, 44100, 0},
		// MP3 from lame: adds encoder delay and padding (about 50 ms).
		{"mp3", fixture(t, "tone.mp3"), MP3, false, 44100, 80 * time.Millisecond},
		// MP3 while "downloading": no frame scan, estimated duration.
		{"mp3-progressive", fixture(t, "tone.mp3"), MP3, true, 44100, 80 * time.Millisecond},
		// MP3 progressive at a foreign rate: the sinc resampler, streaming.
		{"mp3-progressive-48k", fixture(t, "tone.mp3"), MP3, true, 48000, 80 * time.Millisecond},
		// Ogg Vorbis from oggenc.
		{"vorbis", fixture(t, "tone.ogg"), Vorbis, false, 44100, 10 * time.Millisecond},
		// Ogg Vorbis progressive.
		{"vorbis-progressive", fixture(t, "tone.ogg"), Vorbis, true, 44100, 10 * time.Millisecond},
		// FLAC mono 48 kHz resampled to 44.1 kHz.
		{"flac", fixture(t, "tone48m.flac"), FLAC, false, 44100, 0},
		// FLAC at its own rate.
		{"flac-48k", fixture(t, "tone48m.flac"), FLAC, true, 48000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), Options{SampleRate: tc.rate, Progressive: tc.progressive})
			if err != nil {
				t.Fatal(err)
			}
			if s.Format() != tc.format {
				t.Errorf("format %v, want %v", s.Format(), tc.format)
			}
			x := readAllPCM(t, s)
			got := time.Duration(float64(len(x)) / float64(tc.rate) * float64(time.Second))
			if got < 2*time.Second-5*time.Millisecond || got > 2*time.Second+tc.slack+5*time.Millisecond {
				t.Errorf("decoded %v of audio, want 2s (+%v)", got, tc.slack)
			}
			lo, hi := 1900*time.Millisecond, 2200*time.Millisecond
			if s.DurationEstimated() && tc.format == Vorbis {
				// The nominal bitrate of a pure tone is far above its real one.
				lo, hi = 500*time.Millisecond, 6*time.Second
			}
			if d := s.Duration(); d < lo || d > hi {
				t.Errorf("Duration() %v, want about 2s", d)
			}
			// Middle of each second, away from the edges.
			a := x[tc.rate/4 : tc.rate*3/4]
			b := x[tc.rate*5/4 : tc.rate*7/4]
			if p4, p1 := goertzel(a, tc.rate, 440), goertzel(a, tc.rate, 1000); p4 < 10*p1 || p4 < 0.01 {
				t.Errorf("first second: power at 440 Hz %.4f, at 1 kHz %.4f; want 440 dominant", p4, p1)
			}
			if p4, p1 := goertzel(b, tc.rate, 440), goertzel(b, tc.rate, 1000); p1 < 10*p4 || p1 < 0.01 {
				t.Errorf("second second: power at 440 Hz %.4f, at 1 kHz %.4f; want 1 kHz dominant", p4, p1)
			}
		})
	}
}

func TestSeek(t *testing.T) {
	for _, name := range []string{"tone.mp3", "tone.ogg", "tone48m.flac", "tone22m8.wav"} {
		t.Run(name, func(t *testing.T) {
			data := fixture(t, name)
			s, err := Open(bytes.NewReader(data), int64(len(data)), Options{SampleRate: 44100})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SeekTime(1500 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			x := readAllPCM(t, s)
			if got := time.Duration(float64(len(x)) / 44100 * float64(time.Second)); got < 490*time.Millisecond || got > 590*time.Millisecond {
				t.Errorf("after seeking to 1.5s, %v left, want 0.5s", got)
			}
			if p4, p1 := goertzel(x[:len(x)/2], 44100, 440), goertzel(x[:len(x)/2], 44100, 1000); p1 < 10*p4 {
				t.Errorf("after seek: 440 Hz %.4f, 1 kHz %.4f; want 1 kHz", p4, p1)
			}
		})
	}
}

func TestProgressiveNotSeekable(t *testing.T) {
	data := fixture(t, "tone.mp3")
	s, err := Open(bytes.NewReader(data), int64(len(data)), Options{Progressive: true})
	if err != nil {
		t.Fatal(err)
	}
	if !s.DurationEstimated() || s.Seekable() {
		t.Errorf("estimated %v seekable %v, want true false", s.DurationEstimated(), s.Seekable())
	}
	if err := s.SeekTime(time.Second); !errors.Is(err, ErrNotSeekable) {
		t.Errorf("seek: %v, want ErrNotSeekable", err)
	}
}

func TestUnsupported(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	tests := []struct {
		name, hint string
		data       []byte
		wantMsg    string
	}{
		// Plain text with a lying catalog type.
		{"text", "audio/mpeg", []byte("hello, this is not music at all"), "unsupported media type: text/plain (catalog says audio/mpeg) (starts with \"hello, t\")"},
		// Empty media.
		{"empty", "", nil, "unsupported media type: text/plain (empty)"},
		// An Ogg container that is not Vorbis (e.g. Opus).
		{"ogg-opus", "", append([]byte("OggS\x00\x02"), make([]byte, 40)...), "unsupported media type: application/ogg (not vorbis or opus)"},
		// An image is shown, never played.
		{"png", "", png, "unsupported media type: image/png is an image, not audio"},
		// Random binary.
		{"binary", "video/mp4", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "unsupported media type: video/mp4 (starts with \"........\")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), Options{MediaType: tc.hint})
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("got %v, want ErrUnsupported", err)
			}
			if !bytes.HasPrefix([]byte(err.Error()), []byte(tc.wantMsg)) {
				t.Errorf("message %q, want prefix %q", err, tc.wantMsg)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want Format
	}{
		// MPEG-1 Layer III, 128 kbps, 44.1 kHz frame header without a tag.
		{"mpeg-frame", []byte{0xFF, 0xFB, 0x90, 0x64}, MP3},
		// Frame sync with the reserved version is not MP3.
		{"mpeg-reserved", []byte{0xFF, 0xEB, 0x90, 0x64}, Unknown},
		// Layer II is not supported by the MP3 decoder.
		{"mpeg-layer2", []byte{0xFF, 0xFD, 0x90, 0x64}, Unknown},
		{"id3", []byte("ID3\x04\x00"), MP3},
		{"flac", []byte("fLaC\x00"), FLAC},
		{"wav", []byte("RIFF\x00\x00\x00\x00WAVEfmt "), WAV},
		// RIFF but AVI.
		{"avi", []byte("RIFF\x00\x00\x00\x00AVI LIST"), Unknown},
		{"jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0}, JPEG},
		{"short", []byte{0xFF}, Unknown},
	}
	for _, tc := range tests {
		if got := Sniff(tc.head); got != tc.want {
			t.Errorf("%s: Sniff = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"tone.mp3", "tone.ogg", "tone48m.flac", "tone22m8.wav"} {
		if f := Sniff(fixture(t, name)[:SniffLen]); !f.IsAudio() {
			t.Errorf("%s sniffed as %v", name, f)
		}
	}
}
