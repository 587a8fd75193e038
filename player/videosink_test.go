package player

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
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
	ev := collect(t, p)
	run(t, p)
	p.Play("v")
	// Waits for frames, not for a count in a time: frames late on the
	// output's real-time clock are dropped, and how many is the presenter's
	// business (TestPresentOnWallClock, TestPulseAVSync), not this test's.
	waitFrames := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				sink.mu.Lock()
				defer sink.mu.Unlock()
				t.Fatalf("no %s in 30 s: %d frames reached the sink (%v), status %+v", what, len(sink.sizes), sink.sizes, p.Status().Video)
			}
		}
	}
	lastSize := func() image.Point {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.sizes) == 0 {
			return image.Point{}
		}
		return sink.sizes[len(sink.sizes)-1]
	}
	waitFrames("20 frames at the sink", func() bool { return sink.frames.Load() >= 20 })
	sink.setBox(201, 1000) // tall: width bounds it → 200×150
	// Frames decoded before the box changed come at the old size first.
	waitFrames("frame fitted to the new box", func() bool { return lastSize() == image.Point{200, 150} })
	p.SetVideoSink(nil)
	// A frame the presenter was handing to the sink as it was removed may
	// still arrive; the first EventVideo with its picture comes after it
	// (one presenting goroutine), and from then on the sink gets nothing.
	ev.wait(t, 30*time.Second, "an EventVideo with the picture after the sink was removed",
		func(e Event) bool { return e.Kind == EventVideo && e.Video != nil })
	n := sink.frames.Load()
	time.Sleep(200 * time.Millisecond)
	if got := sink.frames.Load(); got != n {
		t.Errorf("%d frames reached the sink after it was removed", got-n)
	}
	// EventVideo carried no copy of the picture while the sink took it.
	var videos []Event
	for _, e := range ev.snapshot() {
		if e.Kind == EventVideo {
			videos = append(videos, e)
		}
	}
	for i, e := range videos[:min(20, len(videos))] {
		if e.Video != nil {
			t.Errorf("EventVideo %d carried a picture while the sink took it", i)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	t.Logf("%d frames reached the sink before it was removed", len(sink.sizes))
	if got := sink.sizes[0]; got != (image.Point{400, 300}) {
		t.Errorf("first frame %v, want 400×300 (320×240 fitted into 1000×300)", got)
	}
	// Each frame fits the box of its time: 400×300 until the box changed,
	// then 200×150.
	for i, sz := range sink.sizes {
		if sz != (image.Point{400, 300}) && sz != (image.Point{200, 150}) || i > 0 && sz != sink.sizes[i-1] && sz != (image.Point{200, 150}) {
			t.Fatalf("frame %d is %v after %v: sizes %v, want 400×300 then 200×150", i, sz, sink.sizes[max(0, i-1)], sink.sizes)
		}
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

// countingSource counts the opens of a sealedSource.
type countingSource struct {
	*sealedSource
	opens atomic.Int64
}

func (c *countingSource) Open(ctx context.Context, id string) (Media, error) {
	c.opens.Add(1)
	return c.sealedSource.Open(ctx, id)
}

// gatedChunks holds back chunks from index gate on until released, like
// a download that has not reached them.
type gatedChunks struct {
	src     sealed.ChunkSource
	gate    int
	release chan struct{}
}

func (g gatedChunks) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	if i >= g.gate {
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.src.ReadChunk(ctx, i, dst)
}

// A sealed video title is opened once: its picture reads the title its
// sound opened (a view with its own position). After a seek the picture
// reopens on that title and shows the frames from the new position; a
// picture whose read waits for a chunk that has not arrived is stopped
// without waiting for it, and the title stays readable for the sound.
func TestVideoOpensTitleOnce(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("skipping: ffmpeg not installed: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", filepath.Join("av", "testdata", "clips.sh"), dir).CombinedOutput(); err != nil {
		t.Fatalf("clips.sh: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "sync-10s.mp4")) // 250 frames, luma 2·(N mod 100)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	// Small chunks: the end of the title is held back until released.
	st := sealTitle(t, "v", data, "video/mp4", 4096)
	gate := (len(data) * 3 / 4) / 4096
	src := &countingSource{sealedSource: &sealedSource{titles: map[string]*sealedTitle{"v": st},
		wrap: func(cs sealed.ChunkSource) sealed.ChunkSource {
			return gatedChunks{src: cs, gate: gate, release: release}
		}}}
	out := newFakeOutput(44100)
	p, err := New(Options{Source: src, Output: out, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	sink := &boxSink{}
	sink.setBox(160, 120)
	p.SetVideoSink(sink)
	run(t, p)
	p.Play("v")
	waitFrames := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); sink.frames.Load() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d frames shown in 30 s, want %d", sink.frames.Load(), n)
			}
		}
	}
	waitFrames(10)
	if n := src.opens.Load(); n != 1 {
		t.Fatalf("the video was opened %d times, want once", n)
	}
	// Seek to 3.2 s (frame 80: luma 160): the picture reopens there.
	p.Seek(3200 * time.Millisecond)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sink.mu.Lock()
		l := sink.luma[len(sink.luma)-1]
		sink.mu.Unlock()
		if l >= 158 && l <= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the seek to 3.2 s the last frame shown has luma %d, want ≥ 158 (frame 79 on)", l)
		}
	}
	if n := src.opens.Load(); n != 1 {
		t.Fatalf("after a seek the video was opened %d times, want once", n)
	}
	// Past the held-back chunks both readers wait; stop ends them at once.
	p.Seek(9 * time.Second)
	time.Sleep(300 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		p.Stop()
		for p.Status().State != StateStopped {
			time.Sleep(5 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("stopping while the picture waits for a chunk did not end in 30 s")
	}
	close(release)
}
