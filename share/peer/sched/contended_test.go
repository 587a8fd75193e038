package sched

import (
	"testing"
	"time"
)

// TestContended: a peer's busy answer counts when it says its upload
// slots were full (Outcome.Slots); a busy answer for our own requests to
// it, and the origin's, do not.
func TestContended(t *testing.T) {
	const n = 8
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	k.Add("ORIGIN", true, false, nil)
	p := k.Add("P", false, true, nil)
	k.Begin(NewBitmap(n), t0)
	all := NewBitmap(n)
	for i := range n {
		all.Set(i)
	}
	k.HaveResult(p, HaveInfo{Have: all, Fetching: NewBitmap(n), Complete: true}, Outcome{}, t0)
	busy := func(src *Source, slots bool) {
		t.Helper()
		for at := t0; at.Before(t0.Add(time.Minute)); at = at.Add(time.Second) {
			as, _ := k.Schedule(at)
			for _, a := range as {
				if a.Src == src {
					k.Result(a, Outcome{Kind: Busy, RetryAfter: 200 * time.Millisecond, Slots: slots}, at)
					return
				}
				k.Result(a, Outcome{Kind: Canceled}, at)
			}
		}
		t.Fatal("the source was never asked")
	}
	busy(p, false)
	if got := k.Contended(); got != 0 {
		t.Fatalf("contended %d after a busy answer for our own requests, want 0", got)
	}
	busy(p, true)
	busy(p, true)
	if got := k.Contended(); got != 2 {
		t.Fatalf("contended %d after two slots-full answers, want 2", got)
	}

	// The origin alone (no peer to wait for) is asked at once.
	k = newCore(n, "ME")
	o := k.Add("ORIGIN", true, false, nil)
	k.Begin(NewBitmap(n), t0)
	busy(o, true)
	if got := k.Contended(); got != 0 {
		t.Fatalf("contended %d after the origin's busy answer, want 0", got)
	}
}
