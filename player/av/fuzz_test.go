package av

import (
	"bytes"
	"context"
	"testing"
)

// FuzzOpen feeds corrupt containers through the read callback: Open, up
// to 120 frames, a seek and 30 more must return errors, never crash or hang.
func FuzzOpen(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzOpen holds tiny clips made by ffmpeg (64×48,
	// 0.4 s: H.264/AAC MP4, VP9/Opus and VP8/Vorbis WebM, Ogg Opus).
	f.Add([]byte("\x1aE\xdf\xa3"))
	f.Add([]byte("\x00\x00\x00\x18ftypmp42"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		m, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), Options{Width: 32, Height: 24, SampleRate: 8000})
		if err != nil {
			return
		}
		defer m.Close()
		for i := 0; i < 120; i++ {
			if _, err := m.Next(); err != nil {
				break
			}
		}
		_ = m.Seek(m.Info().Duration / 2)
		for i := 0; i < 30; i++ {
			if _, err := m.Next(); err != nil {
				break
			}
		}
	})
}
