package player

import (
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/clock"
)

// The player's timing rules on a fake clock (Options.Clock): buffering
// shows when a read has taken BufferingAfter, a title starts readyWait
// after its first block. The fake output still pulls sound in real time
// (it stands for the device); only the rules' clock is fake. The rules'
// durations are checked against the fake clock alone: on the wall clock
// these tests fail (the state would change before the clock reached it).

var clockStart = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// clocked is a player on a fake clock whose control-loop ticks the test
// drives with step.
type clocked struct {
	p     *Player
	out   *fakeOutput
	ev    *events
	clk   *clock.Fake
	ticks chan time.Time
}

func newClocked(t *testing.T, src Source, mod func(*Options)) *clocked {
	t.Helper()
	c := &clocked{out: newFakeOutput(rate), clk: clock.NewFake(clockStart), ticks: make(chan time.Time, 1000)}
	o := Options{Source: src, Output: c.out, Clock: c.clk}
	if mod != nil {
		mod(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	p.ticked = func(now time.Time) { c.ticks <- now }
	c.p, c.ev = p, collect(t, p)
	run(t, p)
	// Serve's ticker is the first timer: wait for it, so that no step
	// advances the clock before the loop listens.
	for deadline := time.Now().Add(30 * time.Second); c.clk.Timers() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Serve never started its ticker")
		}
	}
	return c
}

// step advances the clock one control-loop tick and waits until Serve's
// loop has handled it.
func (c *clocked) step(t *testing.T) {
	t.Helper()
	c.clk.Advance(tickEvery)
	want := c.clk.Now()
	for {
		select {
		case now := <-c.ticks:
			if now.Equal(want) {
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no tick at %v", want.Sub(clockStart))
		}
	}
}

// states is the sequence of state events so far.
func (c *clocked) states() []State {
	var s []State
	for _, e := range c.ev.snapshot() {
		if e.Kind == EventState {
			s = append(s, e.State)
		}
	}
	return s
}

func (c *clocked) last() State {
	s := c.states()
	if len(s) == 0 {
		return StateStopped
	}
	return s[len(s)-1]
}

// TestBuffering: a read that has blocked for more than BufferingAfter (by
// the player's clock) shows StateBuffering at the first tick past it, not
// at the tick that reaches it; playback continues once the read returns
// and the title plays to its end.
func TestBuffering(t *testing.T) {
	wav := toneWAV(rate, time.Second, 440)
	g := newGate(int64(len(wav)) / 2)
	t.Cleanup(g.open)
	c := newClocked(t, &memSource{titles: map[string][]byte{"a": wav}, gates: map[string]*gate{"a": g}}, nil)
	c.p.Play("a")
	c.ev.wait(t, 30*time.Second, "playing", isState(StatePlaying))
	select {
	case <-g.entered: // the read began at clockStart: the clock has not moved
	case <-time.After(30 * time.Second):
		t.Fatal("the feeder never reached the slow read")
	}
	for k := 0; k < int(BufferingAfter/tickEvery); k++ { // up to BufferingAfter exactly
		c.step(t)
		if st := c.last(); st != StatePlaying {
			t.Fatalf("%v into a slow read: %v, want playing until more than %v (states %v)",
				c.clk.Now().Sub(clockStart), st, BufferingAfter, c.states())
		}
	}
	n := len(c.ev.snapshot())
	c.step(t)
	c.ev.waitFrom(t, n, 30*time.Second, "buffering at the first tick past BufferingAfter", isState(StateBuffering))
	g.open()
	// The read returns at once; the next tick after it sees no slow read.
	for deadline := time.Now().Add(30 * time.Second); c.last() != StatePlaying; c.step(t) {
		if time.Now().After(deadline) {
			t.Fatalf("still %v after the read returned (states %v)", c.last(), c.states())
		}
	}
	for deadline := time.Now().Add(30 * time.Second); c.last() != StateStopped; c.step(t) {
		if time.Now().After(deadline) {
			t.Fatalf("never stopped at the end (states %v)", c.states())
		}
		time.Sleep(5 * time.Millisecond) // the output pulls in real time
	}
	if s := c.states(); len(s) < 4 || s[len(s)-4] != StatePlaying || s[len(s)-3] != StateBuffering || s[len(s)-2] != StatePlaying {
		t.Errorf("states %v, want … playing, buffering, playing, stopped", s)
	}
}

// TestReadyWaitOnClock: a title whose source gives a few blocks and then
// stalls starts readyWait (150 ms) after its first block by the player's
// clock — not before, whatever the wall clock says — and shows buffering
// while the read stays stalled.
func TestReadyWaitOnClock(t *testing.T) {
	wav := toneWAV(rate, time.Second, 440)
	g := newGate(16 << 10) // a few 4 KiB blocks, far fewer than readyBlocks
	t.Cleanup(g.open)
	c := newClocked(t, &memSource{titles: map[string][]byte{"a": wav}, gates: map[string]*gate{"a": g}}, nil)
	c.p.Play("a")
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the feeder never reached the stalled read")
	}
	// waitReady sets its readyWait timer once it sees the first block.
	for deadline := time.Now().Add(30 * time.Second); c.clk.Timers() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the opening title never started its readyWait timer")
		}
	}
	c.clk.Advance(readyWait - time.Millisecond)
	time.Sleep(300 * time.Millisecond) // twice readyWait of wall clock
	if st := c.states(); len(st) > 0 && st[len(st)-1] == StatePlaying {
		t.Fatalf("playing %v after the first block (readyWait %v): %v", readyWait-time.Millisecond, readyWait, st)
	}
	c.clk.Advance(time.Millisecond)
	c.ev.wait(t, 30*time.Second, "playing at readyWait", isState(StatePlaying))
	// Its read is still stalled: buffering once the loop's clock passes
	// BufferingAfter (the read began before readyWait ran).
	for deadline := time.Now().Add(30 * time.Second); c.last() != StateBuffering; c.step(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled read never showed buffering (states %v)", c.states())
		}
	}
	g.open()
	c.p.Stop()
	c.ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
}

// clockedPositions records the player's clock at each save.
type clockedPositions struct {
	clk *clock.Fake
	mu  sync.Mutex
	at  []time.Time
}

func (p *clockedPositions) Save(string, time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = append(p.at, p.clk.Now())
	return nil
}

func (p *clockedPositions) Load(string) (time.Duration, bool, error) { return 0, false, nil }

func (p *clockedPositions) saves() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...)
}

// TestPositionSavedEveryFiveSeconds: while a title plays, its position is
// saved at the first position report and then once 5 s of the player's
// clock have passed since the last save — at the first report after that
// (reports come every PositionEvery, 250 ms), never sooner.
func TestPositionSavedEveryFiveSeconds(t *testing.T) {
	pos := &clockedPositions{}
	c := newClocked(t, &memSource{titles: map[string][]byte{"a": toneWAV(rate, time.Minute, 440)}},
		func(o *Options) { o.Positions = pos })
	pos.clk = c.clk // before Play: nothing is saved until a title plays
	p := c.p
	p.Play("a")
	c.ev.wait(t, 30*time.Second, "playing", isState(StatePlaying))
	// 12 s of the player's clock, in ticks; the output plays on in real
	// time (well under the title's minute, however loaded the machine: with
	// a 10 s title, 240 steps slowed by load could reach its end).
	for k := 0; k < int(12*time.Second/tickEvery); k++ {
		c.step(t)
		time.Sleep(time.Millisecond) // let the output pull: a position needs a heard frame
	}
	at := pos.saves()
	if len(at) < 3 {
		t.Fatalf("%d saves in 12 s of the player's clock (at %v), want 3: at the start, ~5 s, ~10 s", len(at), at)
	}
	for i := 1; i < len(at); i++ {
		gap := at[i].Sub(at[i-1])
		if gap < 5*time.Second || gap > 5*time.Second+250*time.Millisecond {
			t.Errorf("save %d came %v after the one before, want 5 s to 5.25 s", i, gap)
		}
	}
	p.Stop()
	c.ev.wait(t, 30*time.Second, "stopped", isState(StateStopped))
}
