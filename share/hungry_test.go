package share

import (
	"testing"
	"time"
)

// TestRoundDue: a resupply round comes by the clock, or at once for a
// download unfed for hungryAfter, but not within calm (a second after the
// last round, or a busy directory's wait).
func TestRoundDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	next := t0.Add(DefaultResupplyInterval)
	calm := t0.Add(hungryAfter)
	for _, c := range []struct {
		name  string
		now   time.Time
		unfed time.Duration
		want  bool
	}{
		{"fed, before the clock's round", t0.Add(2 * time.Second), 0, false},
		{"fed, the clock's round", next, 0, true},
		{"starved, within calm", t0.Add(hungryAfter / 2), hungryAfter, false},
		{"starved after calm", calm, hungryAfter, true},
		{"unfed less than hungryAfter", t0.Add(3 * time.Second), hungryAfter - time.Millisecond, false},
		{"starved, the clock's round", next.Add(time.Second), hungryAfter, true},
	} {
		if got := roundDue(c.now, next, calm, c.unfed); got != c.want {
			t.Errorf("%s: roundDue = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestHungryWait: hungry rounds come a second apart at first, then further
// apart while they do not help (1, 2, 4 s), never further than the clock's
// rounds.
func TestHungryWait(t *testing.T) {
	every := DefaultResupplyInterval
	for streak, want := range []time.Duration{hungryAfter, 2 * hungryAfter, 4 * hungryAfter, every, every} {
		if got := hungryWait(streak, every); got != want {
			t.Errorf("hungryWait(%d, %s) = %s, want %s", streak, every, got, want)
		}
	}
	if got := hungryWait(100, every); got != every {
		t.Errorf("hungryWait(100) = %s, want %s", got, every)
	}
	if got := hungryWait(0, 500*time.Millisecond); got != 500*time.Millisecond {
		t.Errorf("with 500 ms rounds, hungryWait(0) = %s, want the round", got)
	}
}
