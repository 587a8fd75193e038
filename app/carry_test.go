package app

import (
	"context"
	"image"
	"testing"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// While a video plays, the player's state (4 position updates a second)
// rides on the callback of the video's next frame instead of a callback of
// its own, so the window repaints once for both: the bar moves with that
// frame; a state no frame takes within carryMax is applied on its own; a
// paused video's state is applied at once; an older state never replaces
// a newer one.
func TestVideoCarriesPlayerState(t *testing.T) {
	w, u := videoAndSong(t)
	ctx := context.Background()
	var timers []func() // the carried states' deadlines, fired by the test
	u.ps.after = func(d time.Duration, f func()) {
		if d != carryMax {
			t.Errorf("a carried state waits up to %v, want carryMax %v", d, carryMax)
		}
		timers = append(timers, f)
	}
	u.b.Video.SetVideoOut(u.video)
	if err := u.b.Player.Play(ctx, []sealed.ContentID{cid(101), cid(102)}, 0); err != nil {
		t.Fatal(err)
	}
	u.pump(ctx) // no frame yet: applied on its own
	if u.View() != ViewVideo || u.np.Title() != "Harbour Timelapse" || len(timers) != 0 {
		t.Fatalf("view %q, bar %q, %d carried: want the video shown at once before any frame", u.View(), u.np.Title(), len(timers))
	}
	frame := image.NewRGBA(image.Rect(0, 0, 64, 36))
	w.videoOut.VideoFrame(frame)
	// flowing makes the frames count as flowing for the next state however
	// long the test's steps take: flowing() reads the wall clock (the last
	// frame less than carryMax ago), and on a loaded machine a step took
	// longer (CI under -race at load 40: the Seek to 3 s was applied on its
	// own, "1 carried, bar at 0:03").
	flowing := func() { u.video.lastFrame.Store(time.Now().Add(time.Hour).UnixNano()) }

	// A position update while frames flow waits for the next frame.
	calls := u.stats.Snapshot().Calls
	flowing()
	u.b.Player.Seek(2 * time.Second)
	u.pump(ctx)
	if got := u.np.elapsed.Text; got != "0:00" || len(timers) != 1 || u.stats.Snapshot().Calls != calls {
		t.Fatalf("after a position update: bar at %q, %d carried, %d callbacks; want it waiting for the frame (0:00, 1, none)",
			got, len(timers), u.stats.Snapshot().Calls-calls)
	}
	w.videoOut.VideoFrame(frame)
	if got := u.np.elapsed.Text; got != "0:02" || u.stats.Snapshot().Calls != calls+1 {
		t.Fatalf("after the next frame: bar at %q, %d callbacks; want 0:02 in the frame's one callback", got, u.stats.Snapshot().Calls-calls)
	}
	timers[0]() // its deadline: taken already, nothing more
	if u.stats.Snapshot().Calls != calls+1 {
		t.Errorf("the deadline of a state the frame took queued a callback")
	}

	// No frame comes: the deadline applies it.
	flowing()
	u.b.Player.Seek(3 * time.Second)
	u.pump(ctx)
	if len(timers) != 2 || u.np.elapsed.Text != "0:02" {
		t.Fatalf("%d carried, bar at %q; want the update carried", len(timers), u.np.elapsed.Text)
	}
	timers[1]()
	if got := u.np.elapsed.Text; got != "0:03" {
		t.Fatalf("after carryMax without a frame the bar shows %q, want 0:03", got)
	}

	// Paused: applied at once. The carried state before it, taken by a
	// late frame, does not bring back "playing".
	flowing()
	u.b.Player.Seek(4 * time.Second)
	u.pump(ctx)
	u.b.Player.TogglePause()
	u.pump(ctx)
	if len(timers) != 3 || u.np.State().Playing || u.np.elapsed.Text != "0:04" {
		t.Fatalf("%d carried, playing %v, bar at %q: want the pause shown at once", len(timers), u.np.State().Playing, u.np.elapsed.Text)
	}
	w.videoOut.VideoFrame(frame)
	timers[2]()
	if u.np.State().Playing {
		t.Error("an older state carried to a frame replaced the newer paused one")
	}

	// Frames stop (the last one more than carryMax ago): nothing waits.
	u.b.Player.TogglePause()
	u.video.lastFrame.Store(time.Now().Add(-2 * carryMax).UnixNano())
	u.pump(ctx)
	if len(timers) != 3 || !u.np.State().Playing {
		t.Errorf("%d carried, playing %v: a state with no frames coming waited for one", len(timers), u.np.State().Playing)
	}
}
