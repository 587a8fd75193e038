package decode

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// BenchmarkDecode decodes each fixture (2 s of audio) to float32 PCM and
// reports the speed as a multiple of real time ("x-realtime").
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name, file string
		rate       int
	}{
		{"mp3", "tone.mp3", 44100},
		{"vorbis", "tone.ogg", 44100},
		{"wav", "", 44100},
		{"flac", "tone48m.flac", 48000},           // native rate, mono
		{"flac-resampled", "tone48m.flac", 44100}, // plus ebiten's resampler
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := toneWAV(44100, 2, 440, 1000)
			if c.file != "" {
				data = fixture(b, c.file)
			}
			buf := make([]byte, 64<<10)
			var audio time.Duration
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := Open(bytes.NewReader(data), int64(len(data)), Options{SampleRate: c.rate})
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for {
					k, err := s.Read(buf)
					n += int64(k)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				audio += s.TimeAt(n)
			}
			b.ReportMetric(audio.Seconds()/b.Elapsed().Seconds(), "x-realtime")
		})
	}
}
