package player

import (
	"testing"
	"time"
)

// stepUntil steps the control loop until an event from the n-th on
// satisfies ok (a track change is seen at a tick), and returns it.
func (c *clocked) stepUntil(t *testing.T, n int, what string, ok func(Event) bool) Event {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		for _, e := range c.ev.snapshot()[n:] {
			if ok(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s (events %v)", what, c.ev.summary())
		}
		c.step(t)
		time.Sleep(time.Millisecond) // let the output pull: a track is seen once heard
	}
}

// TestPrevious drives the real player (decoder, pump, fake output pulling
// in real time) through Previous's rule: more than 3 s played restarts the
// title, less goes to the one before, and the first title restarts. The
// player's clock is fake, so the position Previous reads is the one the
// test set by Seek (positions are read at ticks, and the test makes them):
// on the wall clock a loaded machine could play past 3 s before the
// command ran, which is why TestRepeatAndSkip left it out.
func TestPrevious(t *testing.T) {
	src := &memSource{titles: map[string][]byte{
		"a": toneWAV(rate, 30*time.Second, 440),
		"b": toneWAV(rate, 30*time.Second, 1000),
	}}
	c := newClocked(t, src, nil)
	p := c.p
	isTrack := func(e Event) bool { return e.Kind == EventTrack }
	// previous sends Previous and returns the track then heard. The loop
	// is not stepped until the title it starts plays (the output flushed):
	// a tick before that would hear what the output still holds of the
	// title left.
	previous := func(what string) Event {
		t.Helper()
		n := len(c.ev.snapshot())
		p.Previous()
		c.ev.waitFrom(t, n, 30*time.Second, what+": playing", isState(StatePlaying))
		return c.stepUntil(t, n, what, isTrack)
	}
	p.Play("a", "b")
	c.stepUntil(t, 0, "track a", func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "a" })
	n := len(c.ev.snapshot())
	p.Next()
	c.ev.waitFrom(t, n, 30*time.Second, "b playing", isState(StatePlaying))
	c.stepUntil(t, n, "track b", func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "b" })

	// b, 10 s in: Previous starts b again from its beginning.
	p.Seek(10 * time.Second)
	n = len(c.ev.snapshot())
	if e := previous("Previous 10 s into b"); e.TitleID != "b" || e.Index != 1 {
		t.Fatalf("Previous 10 s into b played %q at %d, want b again at 1", e.TitleID, e.Index)
	}
	pos := c.stepUntil(t, n, "a position of b after the restart", func(e Event) bool {
		return e.Kind == EventPosition && e.TitleID == "b" && e.Position < 10*time.Second
	})
	if pos.Position > 5*time.Second {
		t.Errorf("b restarted at %v, want its beginning", pos.Position)
	}

	// b, 1 s in: Previous goes to a.
	p.Seek(time.Second)
	if e := previous("Previous 1 s into b"); e.TitleID != "a" || e.Index != 0 {
		t.Fatalf("Previous 1 s into b played %q at %d, want a at 0", e.TitleID, e.Index)
	}

	// a, the first: Previous starts it again, however little was played.
	p.Seek(time.Second)
	if e := previous("Previous on the first title"); e.TitleID != "a" || e.Index != 0 {
		t.Fatalf("Previous 1 s into the first title played %q at %d, want a again at 0", e.TitleID, e.Index)
	}

	// a, 10 s in, then Next and Previous before b is heard (no tick
	// between): nothing of b was played, so Previous goes back to a. It
	// read a's 10 s, the last position a tick had seen, and restarted b.
	p.Seek(10 * time.Second)
	n = len(c.ev.snapshot())
	p.Next()
	c.ev.waitFrom(t, n, 30*time.Second, "b playing", isState(StatePlaying))
	if e := previous("Next then Previous"); e.TitleID != "a" || e.Index != 0 {
		t.Fatalf("Next then Previous before b was heard played %q at %d, want a at 0", e.TitleID, e.Index)
	}
	p.Stop()
	c.ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
}

// intoEndHeard plays a (6 s) then b gaplessly on an output holding 2 s
// (a device buffer), and steps the control loop until it has followed
// the pump into b while a's end is still heard (~4 s into a). It reports
// false if b was heard already (the machine took over 2 s for a few
// steps).
func intoEndHeard(t *testing.T) (*clocked, bool) {
	const aLen = 6 * time.Second
	src := &memSource{titles: map[string][]byte{
		"a": toneWAV(rate, aLen, 440),
		"b": toneWAV(rate, 30*time.Second, 1000),
	}}
	c := newClocked(t, src, nil)
	c.out.mu.Lock()
	c.out.lag = 2 * rate * frameBytes
	c.out.mu.Unlock()
	pulled := func() int64 {
		c.out.mu.Lock()
		defer c.out.mu.Unlock()
		return c.out.pulled
	}
	c.p.Play("a", "b")
	c.stepUntil(t, 0, "track a", func(e Event) bool { return e.Kind == EventTrack && e.TitleID == "a" })
	// The output has pulled all of a and a tenth of a second of b: the
	// pump moved into b, which is heard 2 s later.
	for pulled() < int64(aLen.Seconds()*rate+rate/10)*frameBytes {
		c.step(t)
		time.Sleep(time.Millisecond)
	}
	c.step(t) // the control loop follows the pump into b
	for _, e := range c.ev.snapshot() {
		if e.Kind == EventTrack && e.TitleID == "b" {
			return c, false
		}
	}
	return c, true
}

// TestWhileAnEndIsHeard: a title ended and the queue moved on gaplessly
// into the next one while the output still plays the old one's end,
// which the app still shows. Previous and Next then are about the title
// heard: Previous starts it again (more than 3 s of it were played), Next
// goes to the title after it. Previous restarted the next title instead,
// of which nothing was heard, and Next went past it (the queue of two
// stopped): the player took the title the pump feeds.
func TestWhileAnEndIsHeard(t *testing.T) {
	for _, tc := range []struct {
		cmd   string
		do    func(*Player)
		id    string
		index int
	}{
		{"Previous", (*Player).Previous, "a", 0},
		{"Next", (*Player).Next, "b", 1},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			c, ok := intoEndHeard(t)
			if !ok {
				t.Skip("b was heard already: nothing to test")
			}
			n := len(c.ev.snapshot())
			tc.do(c.p)
			e := c.ev.waitFrom(t, n, 30*time.Second, "playing or stopped", func(e Event) bool {
				return e.Kind == EventState && (e.State == StatePlaying || e.State == StateStopped)
			})
			if e.State != StatePlaying {
				t.Fatalf("%s while a's end was heard: %v, want %s played", tc.cmd, e.State, tc.id)
			}
			e = c.stepUntil(t, n, "a track", func(e Event) bool { return e.Kind == EventTrack })
			if e.TitleID != tc.id || e.Index != tc.index {
				t.Fatalf("%s while a's end was heard (4 s in) played %q at %d, want %s at %d", tc.cmd, e.TitleID, e.Index, tc.id, tc.index)
			}
			c.p.Stop()
			c.ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
		})
	}
}
