package player

import (
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// boxSink is a video view: a box the test can resize and the frames it got.
type boxSink struct {
	box    atomic.Uint64
	mu     sync.Mutex
	sizes  []image.Point // size of each frame, in order
	luma   []uint8       // centre pixel's red of each frame
	frames atomic.Int64
}

func (s *boxSink) setBox(w, h int) { s.box.Store(uint64(w)<<32 | uint64(h)) }
func (s *boxSink) VideoBox() (int, int) {
	b := s.box.Load()
	return int(b >> 32), int(b & 0xffffffff)
}
func (s *boxSink) VideoFrame(img *image.RGBA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := img.Bounds()
	s.sizes = append(s.sizes, r.Size())
	s.luma = append(s.luma, img.RGBAAt(r.Dx()/2, r.Dy()/2).R)
	s.frames.Add(1)
}

// The player converts a video's frames to the sink's box (keeping the
// picture's aspect, even sides) and follows the box when the view is
// resized mid-play; frames go to the sink as they are presented.
func TestVideoSinkFollowsBox(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("skipping: ffmpeg not installed: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", filepath.Join("av", "testdata", "clips.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("clips.sh: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "h264-aac.mp4")) // 320×240, 100 frames
	if err != nil {
		t.Fatal(err)
	}
	out := newFakeOutput(44100)
	p, err := New(Options{Source: &memSource{titles: map[string][]byte{"v": data}}, Output: out, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	sink := &boxSink{}
	sink.setBox(1000, 300) // wide: height bounds it → 400×300
	p.SetVideoSink(sink)
	run(t, p)
	p.Play("v")
	deadline := time.Now().Add(10 * time.Second)
	for sink.frames.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sink.setBox(201, 1000) // tall: width bounds it → 200×150
	for sink.frames.Load() < 60 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.SetVideoSink(nil)
	n := sink.frames.Load()
	time.Sleep(200 * time.Millisecond)
	if got := sink.frames.Load(); got != n {
		t.Errorf("%d frames reached the sink after it was removed", got-n)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.sizes) < 60 {
		t.Fatalf("%d frames reached the sink in 10 s, want ≥ 60", len(sink.sizes))
	}
	if got := sink.sizes[0]; got != (image.Point{400, 300}) {
		t.Errorf("first frame %v, want 400×300 (320×240 fitted into 1000×300)", got)
	}
	if got := sink.sizes[len(sink.sizes)-1]; got != (image.Point{200, 150}) {
		t.Errorf("last frame %v, want 200×150 (fitted into 201×1000)", got)
	}
	// Frames come in order: each shows its index (luma 2·N), rising.
	for i := 1; i < len(sink.luma); i++ {
		if sink.luma[i] < sink.luma[i-1] && sink.luma[i-1] != 255 {
			t.Fatalf("frame %d's luma %d after %d: frames out of order", i, sink.luma[i], sink.luma[i-1])
		}
	}
}

func TestFit(t *testing.T) {
	for _, c := range []struct{ w, h, bw, bh, ww, wh int }{
		{1280, 720, 1280, 720, 1280, 720},  // same
		{1280, 720, 1000, 1000, 1000, 562}, // width bounds (odd height rounded down to even)
		{1280, 720, 3000, 400, 710, 400},   // height bounds
		{320, 240, 1920, 1080, 1440, 1080}, // scaled up to fill
		{1280, 720, 1, 1, 2, 2},            // never below 2×2
		{0, 720, 100, 100, 0, 0},           // no picture
	} {
		if w, h := fit(c.w, c.h, c.bw, c.bh); w != c.ww || h != c.wh {
			t.Errorf("fit(%d×%d in %d×%d) = %d×%d, want %d×%d", c.w, c.h, c.bw, c.bh, w, h, c.ww, c.wh)
		}
	}
}
