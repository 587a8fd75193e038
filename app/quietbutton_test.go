package app

import (
	"context"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/kith-media/kith/share/sealed"
)

// A quiet button still does its action (once, not when disabled).
func TestQuietButton(t *testing.T) {
	test.NewTempApp(t)
	quiet, taps := true, 0
	b := newQuietButton("Play", theme.MediaPlayIcon(), func() { taps++ }, func() bool { return quiet })
	test.NewTempWindow(t, b)
	test.Tap(b)
	quiet = false
	test.Tap(b)
	if taps != 2 {
		t.Fatalf("action ran %d times for a quiet and a plain tap, want 2", taps)
	}
	b.Disable()
	quiet = true
	test.Tap(b)
	if taps != 2 {
		t.Errorf("a disabled quiet button ran its action")
	}
}

// The playback buttons are quiet (no tap animation, which repaints the
// whole window for 300 ms) exactly when a tap starts a video or one plays:
// the library's Play for a selected video, the bar's buttons while a video
// plays.
func TestPlaybackButtonsQuietForVideo(t *testing.T) {
	_, u := videoAndSong(t)
	lib := u.library
	for i, it := range lib.all {
		for j, k := range lib.shown {
			if k == i && it.Content == cid(101) {
				lib.list.Select(j)
			}
		}
	}
	if !lib.play.quiet() {
		t.Error("library Play with a video selected is not quiet")
	}
	for i, it := range lib.all {
		for j, k := range lib.shown {
			if k == i && it.Content == cid(102) {
				lib.list.Select(j)
			}
		}
	}
	if lib.play.quiet() {
		t.Error("library Play with a song selected is quiet")
	}
	if u.np.play.quiet() {
		t.Error("the bar's play button is quiet with nothing playing")
	}
	ctx := context.Background()
	if err := u.b.Player.Play(ctx, []sealed.ContentID{cid(101), cid(102)}, 0); err != nil {
		t.Fatal(err)
	}
	u.pump(ctx)
	for _, b := range []*quietButton{u.np.play, u.np.prev, u.np.next, u.np.view} {
		if !b.quiet() {
			t.Errorf("bar button %q not quiet while a video plays", b.Text)
		}
	}
	u.b.Player.Next()
	u.pump(ctx)
	if u.np.play.quiet() {
		t.Error("the bar's play button is still quiet for a song")
	}
}
