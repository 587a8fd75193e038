package app

import (
	"context"
	"image"
	"image/color"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kith-media/kith/share/sealed"
)

// A video title shows its picture in the video view above the bar: the
// view tells the player its size in pixels, shows each frame handed to it
// (copied: the player reuses its buffer) with the fastest GPU scaling,
// goes full screen on F or a double click and back on Escape, and gives
// the main area back to the screen shown before when an audio title
// follows.
func TestVideoView(t *testing.T) {
	w, u := videoAndSong(t)
	ctx := context.Background()
	u.b.Video.SetVideoOut(u.video) // what Serve does
	if err := u.b.Player.Play(ctx, []sealed.ContentID{cid(101), cid(102)}, 0); err != nil {
		t.Fatal(err)
	}
	u.pump(ctx)
	if u.View() != ViewVideo {
		t.Fatalf("view = %q while a video plays, want %q", u.View(), ViewVideo)
	}
	if u.video.img.ScaleMode != 2 /* canvas.ImageScaleFastest */ {
		t.Errorf("video image scale mode = %v, want ImageScaleFastest", u.video.img.ScaleMode)
	}
	if !u.np.view.Visible() || u.np.view.Text != "Video" {
		t.Errorf("bar's view button: visible %v, text %q; want a visible \"Video\"", u.np.view.Visible(), u.np.view.Text)
	}
	out := w.videoOut
	if out == nil {
		t.Fatal("the UI gave the player no video out")
	}
	bw, bh := out.VideoBox()
	sz := u.video.Size()
	if bw != int(sz.Width) || bh != int(sz.Height) || bw < 400 || bh < 300 {
		t.Fatalf("video box = %d×%d px, view is %v", bw, bh, sz)
	}

	// A frame: red, then the player reuses its buffer for a blue one.
	frame := image.NewRGBA(image.Rect(0, 0, 64, 36))
	fill := func(c color.RGBA) {
		for i := 0; i < len(frame.Pix); i += 4 {
			frame.Pix[i], frame.Pix[i+1], frame.Pix[i+2], frame.Pix[i+3] = c.R, c.G, c.B, c.A
		}
	}
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	fill(red)
	out.VideoFrame(frame)
	shown, ok := u.video.img.Image.(*image.RGBA)
	if !ok || shown == frame || shown.Bounds().Dx() != 64 || shown.RGBAAt(10, 10) != red {
		t.Fatalf("view shows %T (same buffer as the player's: %v), want a red 64×36 copy", u.video.img.Image, shown == frame)
	}
	fill(blue)
	if shown.RGBAAt(10, 10) != red {
		t.Fatal("the frame shown changed when the player reused its buffer")
	}
	out.VideoFrame(frame)
	if got := u.video.img.Image.(*image.RGBA); got.RGBAAt(10, 10) != blue || got == shown {
		t.Fatalf("second frame not shown in a buffer of its own")
	}
	if s := u.video.stats(); s.Received != 2 || s.Shown != 2 || s.FrameWidth != 64 {
		t.Errorf("stats = %+v, want 2 received and shown, 64 px wide", s)
	}

	// F: full screen, the view alone; Escape: back above the bar.
	key := func(k fyne.KeyName) { u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: k}) }
	key(fyne.KeyF)
	if !u.win.FullScreen() || u.win.Content() != fyne.CanvasObject(u.video) {
		t.Fatalf("after F: full screen %v, content %T; want the video view alone, full screen", u.win.FullScreen(), u.win.Content())
	}
	key(fyne.KeyEscape)
	if u.win.FullScreen() || u.win.Content() != fyne.CanvasObject(u.root) || len(u.center.Objects) != 1 || u.center.Objects[0] != fyne.CanvasObject(u.video) {
		t.Fatalf("after Escape: full screen %v, content %T; want the main window with the video view", u.win.FullScreen(), u.win.Content())
	}
	test.DoubleTap(u.video)
	if !u.win.FullScreen() {
		t.Fatal("a double click did not go full screen")
	}
	test.DoubleTap(u.video)
	if u.win.FullScreen() {
		t.Fatal("a second double click did not leave full screen")
	}

	// Another screen while the video plays; the bar's button brings the
	// picture back.
	u.Show(ViewMusic)
	test.Tap(u.np.view)
	if u.View() != ViewVideo {
		t.Fatalf("the bar's Video button shows %q", u.View())
	}

	// The next title is audio: the screen before the video comes back,
	// full screen ends, F does nothing.
	key(fyne.KeyF)
	u.b.Player.Next()
	u.pump(ctx)
	if u.View() != ViewLibrary || u.win.FullScreen() {
		t.Fatalf("after the video: view %q, full screen %v; want library, not full screen", u.View(), u.win.FullScreen())
	}
	if u.np.view.Visible() {
		t.Error("the bar's view button still shows for an audio title")
	}
	key(fyne.KeyF)
	if u.win.FullScreen() {
		t.Error("F went full screen without a video")
	}
}

// The video view is not remembered as the screen to start in.
func TestVideoViewNotRemembered(t *testing.T) {
	w := newFakeWorld()
	w.items = []Item{{Content: cid(101), TitleID: "v1", Name: "Clip", MediaType: "video/webm", State: StateOwned, Added: time.Now()}}
	u := newTestUI(t, w)
	signUp(t, u)
	u.Show(ViewSharing)
	if err := u.b.Player.Play(context.Background(), []sealed.ContentID{cid(101)}, 0); err != nil {
		t.Fatal(err)
	}
	u.pump(context.Background())
	if u.View() != ViewVideo {
		t.Fatalf("view = %q", u.View())
	}
	if got := u.app.Preferences().String(prefView); got != ViewSharing {
		t.Errorf("remembered view = %q, want %q (the video view is not a place to start in)", got, ViewSharing)
	}
}

// The picture is drawn where it fits the view keeping its aspect, and black
// only beside it: every pixel of the view is covered exactly once (without
// a GPU each pixel drawn costs CPU every frame), on whole pixels.
func TestVideoViewBars(t *testing.T) {
	w := newFakeWorld()
	u := newTestUI(t, w)
	signUp(t, u)
	u.Show(ViewVideo)
	v := u.video
	v.Resize(fyne.NewSize(800, 600))
	cover := func(what string, want [3]fyne.Size) {
		t.Helper()
		var area float32
		objs := []fyne.CanvasObject{v.bars[0], v.img, v.bars[1]}
		for i, o := range objs {
			if o.Size() != want[i] {
				t.Errorf("%s: object %d is %v, want %v", what, i, o.Size(), want[i])
			}
			area += o.Size().Width * o.Size().Height
			p := o.Position()
			if p.X != float32(int(p.X)) || p.Y != float32(int(p.Y)) {
				t.Errorf("%s: object %d at %v, not on a whole pixel", what, i, p)
			}
		}
		if area != 800*600 {
			t.Errorf("%s: drawn area %v, want the view's %v (each pixel once)", what, area, 800*600)
		}
		if v.img.Size().Width > 0 && (v.img.Position().X+v.img.Size().Width > 800 || v.img.Position().Y+v.img.Size().Height > 600) {
			t.Errorf("%s: picture at %v size %v leaves the view", what, v.img.Position(), v.img.Size())
		}
	}
	cover("no frame", [3]fyne.Size{fyne.NewSize(800, 600), {}, {}})
	v.VideoFrame(image.NewRGBA(image.Rect(0, 0, 800, 450))) // 16:9 in 4:3: bars above and below
	cover("16:9", [3]fyne.Size{fyne.NewSize(800, 75), fyne.NewSize(800, 450), fyne.NewSize(800, 75)})
	if v.img.Position() != fyne.NewPos(0, 75) {
		t.Errorf("16:9 picture at %v, want (0, 75)", v.img.Position())
	}
	v.VideoFrame(image.NewRGBA(image.Rect(0, 0, 333, 600))) // narrower: bars left and right
	cover("narrow", [3]fyne.Size{fyne.NewSize(234, 600), fyne.NewSize(333, 600), fyne.NewSize(233, 600)})
	v.Resize(fyne.NewSize(800, 600)) // unchanged size: nothing moves
	v.clear()
	cover("cleared", [3]fyne.Size{fyne.NewSize(800, 600), {}, {}})
}

// A video's first frame comes before the UI has taken in the player's state
// (the frames lead it): the frame waits for the view to show and is drawn
// then, rather than put on a view not in the window. A frame waiting when
// the video ends is dropped.
func TestVideoFirstFrameBeforeView(t *testing.T) {
	w, u := videoAndSong(t)
	ctx := context.Background()
	u.b.Video.SetVideoOut(u.video)
	if err := u.b.Player.Play(ctx, []sealed.ContentID{cid(101), cid(102)}, 0); err != nil {
		t.Fatal(err)
	}
	red := color.RGBA{255, 0, 0, 255}
	frame := image.NewRGBA(image.Rect(0, 0, 64, 36))
	copy(frame.Pix, []byte{red.R, red.G, red.B, red.A})
	w.videoOut.VideoFrame(frame)
	if u.video.img.Image != nil || u.video.stats().Shown != 0 {
		t.Fatalf("the first frame was put on the video view while the library was shown (shown %d)", u.video.stats().Shown)
	}
	u.pump(ctx)
	img, ok := u.video.img.Image.(*image.RGBA)
	if u.View() != ViewVideo || !ok || img.RGBAAt(0, 0) != red || u.video.stats().Shown != 1 {
		t.Fatalf("view %q, image %T, shown %d: want the first frame shown with the video view", u.View(), u.video.img.Image, u.video.stats().Shown)
	}

	// Away from the view, a frame waits; the video ends: it is dropped.
	u.Show(ViewMusic)
	w.videoOut.VideoFrame(frame)
	u.b.Player.Next()
	u.pump(ctx)
	u.Show(ViewVideo)
	if u.video.img.Image != nil || u.video.stats().Shown != 1 {
		t.Errorf("a frame of the ended video was shown (image %T, shown %d)", u.video.img.Image, u.video.stats().Shown)
	}
}

// videoAndSong is a signed-up UI on its Library screen whose library holds
// a video (cid 101, "Harbour Timelapse") and a song (cid 102, "Kettle
// Song"), and its world.
func videoAndSong(t *testing.T) (*fakeWorld, *UI) {
	t.Helper()
	w := newFakeWorld()
	w.items = []Item{
		{Content: cid(101), TitleID: "v1", Name: "Harbour Timelapse", MediaType: "video/mp4", State: StateOwned, Added: time.Now()},
		{Content: cid(102), TitleID: "a1", Name: "Kettle Song", MediaType: "audio/mpeg", State: StateOwned, Added: time.Now()},
	}
	u := newTestUI(t, w)
	signUp(t, u)
	u.Show(ViewLibrary)
	return w, u
}
