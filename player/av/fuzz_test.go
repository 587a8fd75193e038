package av

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
)

// FuzzOpen feeds corrupt containers through the read callback: Open, up
// to 120 frames, a seek and 30 more must return errors, never crash or hang. The
// seeds are the clips of testdata/clips.sh when ffmpeg is installed, plus
// the committed corpus in testdata/fuzz.
func FuzzOpen(f *testing.F) {
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		for _, name := range []string{"h264-aac.mp4", "vp9-opus.webm", "vp8-vorbis.webm", "beep.m4a", "beep.opus"} {
			f.Add(clip(f, name))
		}
	}
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
