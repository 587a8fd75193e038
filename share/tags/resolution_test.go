package tags

import (
	"bytes"
	"context"
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

// A WebM (VP9 + Opus) and a Matroska (VP8, anamorphic) made by ffmpeg
// report their length and display size from their headers.
func TestMatroskaLengthAndSize(t *testing.T) {
	f := newFixtures(t)
	webm := f.path("clip.webm")
	tool(t, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x180:r=25:d=2", "-i", f.wav,
		"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus", "-shortest", webm)
	in := read(t, webm)
	if in.MediaType != "video/webm" || in.Width != 320 || in.Height != 180 {
		t.Errorf("got %s %d×%d, want video/webm 320×180 (problems %q)", in.MediaType, in.Width, in.Height, in.Problems)
	}
	checkDuration(t, in, 2*time.Second)

	mkv := f.path("wide.mkv")
	tool(t, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=1",
		"-vf", "setsar=2", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", mkv)
	in = read(t, mkv)
	if in.Width != 640 || in.Height != 240 {
		t.Errorf("anamorphic: %d×%d, want 640×240 (problems %q)", in.Width, in.Height, in.Problems)
	}
	checkDuration(t, in, time.Second)

	mka := f.path("tone.mka")
	tool(t, "ffmpeg", "-v", "error", "-y", "-i", f.wav, "-c:a", "libopus", mka)
	in = read(t, mka)
	if in.Width != 0 || in.Height != 0 || len(in.Problems) != 0 {
		t.Errorf("audio: %d×%d, problems %q; want 0×0 and none", in.Width, in.Height, in.Problems)
	}
	checkDuration(t, in, 3*time.Second)
}

// ebml is one Matroska element, its size in an 8-byte field.
func ebml(id []byte, payload ...[]byte) []byte {
	var p []byte
	for _, x := range payload {
		p = append(p, x...)
	}
	out := append([]byte{}, id...)
	out = append(out, 0x01, 0, 0, 0, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
	return append(out, p...)
}

// Hostile Matroska headers: an infinite duration, a giant video size, an
// element larger than its parent and a segment of unknown size holding
// nothing but Void elements are each a problem (or nothing), never a value.
func TestMatroskaHostile(t *testing.T) {
	head := ebml([]byte{0x1A, 0x45, 0xDF, 0xA3}, ebml([]byte{0x42, 0x82}, []byte("webm")))
	inf := ebml([]byte{0x15, 0x49, 0xA9, 0x66}, ebml([]byte{0x44, 0x89}, []byte{0x7f, 0x80, 0, 0}))
	giant := ebml([]byte{0x16, 0x54, 0xAE, 0x6B}, ebml([]byte{0xAE}, ebml([]byte{0x83}, []byte{1}),
		ebml([]byte{0xE0}, ebml([]byte{0xB0}, []byte{0x01, 0x86, 0xA0}), ebml([]byte{0xBA}, []byte{0x10}))))
	over := append(head, 0x18, 0x53, 0x80, 0x67, 0x88, 0, 0, 0, 0, 0, 0, 0x7f)
	unknown := append(append(head, 0x18, 0x53, 0x80, 0x67, 0xff), bytes.Repeat([]byte{0xEC, 0x80}, 5000)...)
	for name, data := range map[string][]byte{
		"infinite duration": append(head, ebml([]byte{0x18, 0x53, 0x80, 0x67}, inf)...),
		"giant video":       append(head, ebml([]byte{0x18, 0x53, 0x80, 0x67}, giant)...),
		"oversized segment": over,
		"unknown-size void": unknown,
	} {
		in, err := ReadAt(context.Background(), bytes.NewReader(data), int64(len(data)), "x.webm", Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if in.Duration != 0 || in.Width != 0 || in.Height != 0 {
			t.Errorf("%s: %v %d×%d, want none (problems %q)", name, in.Duration, in.Width, in.Height, in.Problems)
		}
		if name != "unknown-size void" && len(in.Problems) == 0 {
			t.Errorf("%s: no problem noted", name)
		}
	}
}
