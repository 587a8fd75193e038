package tags

import (
	"testing"
	"time"
)

// An H.264 MP4 made by ffmpeg reports its video track's size and length;
// an audio-only .m4a reports no size.
func TestMP4Resolution(t *testing.T) {
	f := newFixtures(t)
	mp4 := f.path("clip.mp4")
	tool(t, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x180:r=25:d=2", "-i", f.wav,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", mp4)
	in := read(t, mp4)
	if in.MediaType != "video/mp4" || in.Width != 320 || in.Height != 180 {
		t.Errorf("got %s %d×%d, want video/mp4 320×180 (problems %q)", in.MediaType, in.Width, in.Height, in.Problems)
	}
	checkDuration(t, in, 2*time.Second)

	// Anamorphic: 4:3 storage with a 2:1 pixel aspect shows at 640×240.
	wide := f.path("wide.mp4")
	tool(t, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=1",
		"-vf", "setsar=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", wide)
	if in := read(t, wide); in.Width != 640 || in.Height != 240 {
		t.Errorf("anamorphic: %d×%d, want 640×240 (problems %q)", in.Width, in.Height, in.Problems)
	}

	m4a := f.path("tone.m4a")
	tool(t, "ffmpeg", "-v", "error", "-y", "-i", f.wav, "-c:a", "aac", m4a)
	if in := read(t, m4a); in.Width != 0 || in.Height != 0 || len(in.Problems) != 0 {
		t.Errorf("audio: %d×%d, problems %q; want 0×0 and none", in.Width, in.Height, in.Problems)
	}
}
