package sched

import (
	"slices"
	"testing"
	"time"
)

const every = 5 * time.Second // the product's rounds (share.DefaultResupplyInterval)

// A round comes by the clock, or at once for a download unfed for
// HungryAfter, but not within HungryAfter of the last round.
func TestRoundsDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	after := NewRounds(t0.Add(-FirstRound), false, every)
	if due, early := after.Due(t0, 0); !due || early {
		t.Fatalf("the first round: due %v early %v", due, early)
	}
	for _, c := range []struct {
		name  string
		now   time.Time
		unfed time.Duration
		due   bool
	}{
		{"fed, before the clock's round", t0.Add(2 * time.Second), 0, false},
		{"fed, the clock's round", t0.Add(every), 0, true},
		{"starved, within HungryAfter of the last", t0.Add(HungryAfter / 2), HungryAfter, false},
		{"starved, HungryAfter after the last", t0.Add(HungryAfter), HungryAfter, true},
		{"unfed less than HungryAfter", t0.Add(3 * time.Second), HungryAfter - time.Millisecond, false},
		{"starved, the clock's round", t0.Add(every + time.Second), HungryAfter, true},
	} {
		r := *after
		due, early := r.Due(c.now, c.unfed)
		if due != c.due || early != (c.due && c.now.Before(t0.Add(every))) {
			t.Errorf("%s: due %v early %v, want due %v", c.name, due, early, c.due)
		}
	}
}

// Hungry rounds come a second apart at first, then further apart while
// they do not help (1, 2, 4 s), never further than the clock's rounds;
// a fed download's streak starts again.
func TestRoundsHungryStreak(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rounds := func(unfed func(at time.Duration) time.Duration, until time.Duration) []time.Duration {
		r := NewRounds(t0.Add(-FirstRound), false, every) // its first round at 0
		var out []time.Duration
		for at := time.Duration(0); at <= until; at += 100 * time.Millisecond {
			if due, _ := r.Due(t0.Add(at), unfed(at)); due {
				out = append(out, at)
			}
		}
		return out
	}
	starved := func(time.Duration) time.Duration { return time.Hour }
	if got, want := rounds(starved, 22*time.Second), []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second,
		12 * time.Second, 17 * time.Second, 22 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("starved: rounds at %v, want %v", got, want)
	}
	fed := func(time.Duration) time.Duration { return 0 }
	if got, want := rounds(fed, 10*time.Second), []time.Duration{0, 5 * time.Second, 10 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("fed: rounds at %v, want %v", got, want)
	}
	// Fed once at 3.5 s: the streak starts again, so the round at 7 s (the
	// wait the 3 s round set) is its first hungry one, and the next comes
	// 2 s later, not 5.
	once := func(at time.Duration) time.Duration {
		if at == 3500*time.Millisecond {
			return 0
		}
		return time.Hour
	}
	if got, want := rounds(once, 10*time.Second), []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 9 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("fed at 3.5 s: rounds at %v, want %v", got, want)
	}
	// Rounds a second apart or less have no room for hungry ones.
	r := NewRounds(t0.Add(-FirstRound), false, 500*time.Millisecond)
	r.Due(t0, time.Hour)
	if due, _ := r.Due(t0.Add(400*time.Millisecond), time.Hour); due {
		t.Error("with 500 ms rounds, a hungry round 400 ms after the last")
	}
}

// Wait sleeps until the clock's round, and no longer than HungryAfter/2
// (nor the round): a hungry download is looked at twice a HungryAfter.
// Until puts every round off, hungry ones too.
func TestRoundsWaitUntil(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRounds(t0, false, every)
	if w := r.Wait(t0); w != FirstRound {
		t.Errorf("before the first round: wait %v, want FirstRound", w)
	}
	if w := NewRounds(t0, true, every).Wait(t0); w != HungryAfter/2 {
		t.Errorf("from a sample, before its first round (SampledFirstRound): wait %v, want HungryAfter/2", w)
	}
	if next := NewRounds(t0, true, every).Next(); !next.Equal(t0.Add(SampledFirstRound)) {
		t.Errorf("from a sample: first round at %v, want SampledFirstRound", next.Sub(t0))
	}
	if next := NewRounds(t0, true, 200*time.Millisecond).Next(); !next.Equal(t0.Add(200 * time.Millisecond)) {
		t.Errorf("with 200 ms rounds, from a sample: first round at %v, want the round", next.Sub(t0))
	}
	if w := r.Wait(t0.Add(time.Second)); w != 0 {
		t.Errorf("past the round: wait %v", w)
	}
	r.Due(t0.Add(100*time.Millisecond), 0)
	if w := r.Wait(t0.Add(100 * time.Millisecond)); w != HungryAfter/2 {
		t.Errorf("after a round: wait %v, want HungryAfter/2", w)
	}
	if w := NewRounds(t0, true, 200*time.Millisecond).Wait(t0); w != 200*time.Millisecond {
		t.Errorf("with 200 ms rounds: wait %v", w)
	}
	busy := t0.Add(8 * time.Second)
	r.Until(busy)
	if due, _ := r.Due(busy.Add(-time.Millisecond), time.Hour); due {
		t.Error("a hungry round before a busy directory's wait ended")
	}
	if due, _ := r.Due(busy, 0); !due || !r.Next().Equal(busy.Add(every)) {
		t.Errorf("at the wait's end: due %v, next round %v", due, r.Next().Sub(t0))
	}
}

// An early round (the contended rule's) comes no sooner than HungryAfter
// after the last round, and puts the clock's next round Every after it.
func TestRoundsEarly(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRounds(t0.Add(-FirstRound), false, every)
	if due, _ := r.Due(t0, 0); !due {
		t.Fatal("the first round is not due")
	}
	if r.Early(t0.Add(HungryAfter / 2)) {
		t.Error("an early round within HungryAfter of the last")
	}
	at := t0.Add(HungryAfter)
	if !r.Early(at) {
		t.Fatal("no early round HungryAfter after the last")
	}
	if got := r.Next(); !got.Equal(at.Add(every)) {
		t.Errorf("the clock's next round at %v, want %v", got.Sub(t0), at.Add(every).Sub(t0))
	}
	if r.Early(at.Add(HungryAfter / 2)) {
		t.Error("a second early round within HungryAfter of the first")
	}
	if due, _ := r.Due(at.Add(every-time.Millisecond), 0); due {
		t.Error("the clock's round came before Every after the early one")
	}
}
