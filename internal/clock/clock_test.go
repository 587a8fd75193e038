package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// ready reports whether ch has a value ready (after letting a goroutine
// that fired it run). A value already there is taken first: a select on
// it and on a 20 ms time.After picks at random when both are ready, and a
// loaded machine can stall the test for 20 ms between the two, so the
// timeout could win over a timer that had fired (seen under -race).
func ready(ch <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
	}
	select {
	case v := <-ch:
		return v, true
	case <-time.After(20 * time.Millisecond):
		return time.Time{}, false
	}
}

func TestFakeTimerFiresAtItsTime(t *testing.T) {
	f := NewFake(t0)
	tm := f.NewTimer(time.Second)
	f.Advance(999 * time.Millisecond)
	if _, ok := ready(tm.C()); ok {
		t.Fatal("timer fired 1 ms early")
	}
	f.Advance(time.Millisecond)
	v, ok := ready(tm.C())
	if !ok || !v.Equal(t0.Add(time.Second)) {
		t.Fatalf("timer at 1 s: fired %v at %v", ok, v)
	}
	if f.Timers() != 0 {
		t.Errorf("%d timers left after firing", f.Timers())
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired timer reported it active")
	}
	if !tm.Stop() || tm.Stop() {
		t.Error("Stop after Reset: want true, then false")
	}
	f.Advance(time.Hour)
	if _, ok := ready(tm.C()); ok {
		t.Error("a stopped timer fired")
	}
}

func TestFakeTickerDropsMissedTicks(t *testing.T) {
	f := NewFake(t0)
	tk := f.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	f.Advance(350 * time.Millisecond) // three ticks due, the reader took none
	v, ok := ready(tk.C())
	if !ok || !v.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("first tick %v %v, want the one at 100 ms (later ones dropped)", ok, v)
	}
	if _, ok := ready(tk.C()); ok {
		t.Fatal("missed ticks were queued")
	}
	f.Advance(50 * time.Millisecond)
	if v, ok := ready(tk.C()); !ok || !v.Equal(t0.Add(400*time.Millisecond)) {
		t.Fatalf("tick at 400 ms: %v %v", ok, v)
	}
	tk.Stop()
	f.Advance(time.Second)
	if _, ok := ready(tk.C()); ok || f.Timers() != 0 {
		t.Error("a stopped ticker ticked or stayed set")
	}
}

func TestFakeAfterFuncInOrder(t *testing.T) {
	f := NewFake(t0)
	got := make(chan string, 3)
	f.AfterFunc(2*time.Second, func() { got <- "b" })
	f.AfterFunc(time.Second, func() { got <- "a" })
	s := f.AfterFunc(3*time.Second, func() { got <- "never" })
	s.Stop()
	f.Advance(time.Second)
	if x := <-got; x != "a" {
		t.Fatalf("first %q, want a", x)
	}
	f.Advance(5 * time.Second)
	if x := <-got; x != "b" {
		t.Fatalf("second %q, want b", x)
	}
	select {
	case x := <-got:
		t.Fatalf("a stopped AfterFunc ran: %q", x)
	case <-time.After(20 * time.Millisecond):
	}
	if f.Now() != t0.Add(6*time.Second) {
		t.Errorf("Now = %v", f.Now())
	}
}

func TestTimerSetWakesWaiter(t *testing.T) {
	f := NewFake(t0)
	set := f.TimerSet()
	go f.NewTimer(time.Second)
	select {
	case <-set:
	case <-time.After(30 * time.Second):
		t.Fatal("TimerSet not closed by NewTimer")
	}
}

func TestWithTimeout(t *testing.T) {
	f := NewFake(t0)
	ctx, cancel := WithTimeout(context.Background(), f, time.Second)
	defer cancel()
	child, cc := context.WithCancel(ctx)
	defer cc()
	if _, ok := ctx.Deadline(); ok {
		t.Error("the fake deadline leaks through Deadline")
	}
	f.Advance(999 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("ended early: %v", ctx.Err())
	}
	f.Advance(time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("not done at its timeout")
	}
	<-child.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) ||
		!errors.Is(context.Cause(child), context.DeadlineExceeded) {
		t.Fatalf("err %v, cause %v, child's cause %v: want DeadlineExceeded", ctx.Err(), context.Cause(ctx), context.Cause(child))
	}

	// Cancelled before its time: Canceled.
	ctx2, cancel2 := WithTimeout(context.Background(), f, time.Second)
	cancel2()
	if !errors.Is(ctx2.Err(), context.Canceled) {
		t.Errorf("cancelled: err %v", ctx2.Err())
	}
	if f.Timers() != 0 {
		t.Errorf("cancel left %d timers", f.Timers())
	}
	// The parent ending ends it, with the parent's error.
	p, pc := context.WithCancel(context.Background())
	ctx3, cancel3 := WithTimeout(p, f, time.Second)
	defer cancel3()
	pc()
	<-ctx3.Done()
	if !errors.Is(ctx3.Err(), context.Canceled) {
		t.Errorf("parent cancelled: err %v", ctx3.Err())
	}
	// Zero or negative: done at once.
	ctx4, cancel4 := WithTimeout(context.Background(), f, 0)
	defer cancel4()
	select {
	case <-ctx4.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a zero timeout is not done at once")
	}
}

func TestRealWithTimeoutIsTheStandardOne(t *testing.T) {
	ctx, cancel := WithTimeout(context.Background(), Real(), time.Hour)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Errorf("deadline %v %v", d, ok)
	}
	if Or(nil) != Real() {
		t.Error("Or(nil) is not the real clock")
	}
}
