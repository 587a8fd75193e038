package sched

import (
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// TestUnfed: a download whose peers have nothing it needs is unfed since
// its start, and stays so through the origin's declines (a Node then
// connects it to one more peer a round); a peer that has a chunk it
// needs ends it, and a chunk from a peer restarts its clock.
func TestUnfed(t *testing.T) {
	const n = 8
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	k.Add("ORIGIN", true, false, nil)
	p := k.Add("P", false, true, nil)
	k.SetCrowd([]identity.ID{"A", "B", "C", "D", "E", "F", "G"}) // we own few chunks, if any
	k.Begin(NewBitmap(n), t0)
	if d := k.Unfed(t0); d != 0 {
		t.Fatalf("unfed %v before any poll", d)
	}
	k.HaveResult(p, HaveInfo{Have: NewBitmap(n), Fetching: NewBitmap(n), Downloading: true}, Outcome{}, t0)
	now := t0
	declined := 0
	for range 40 {
		now = now.Add(100 * time.Millisecond)
		as, _ := k.Schedule(now)
		for _, a := range as {
			if a.Src != p && a.Src.Origin() {
				k.Result(a, Outcome{Kind: Declined, RetryAfter: 200 * time.Millisecond}, now)
				declined++
			}
		}
	}
	if declined == 0 {
		t.Fatal("the origin was never asked")
	}
	if d := k.Unfed(now); d != now.Sub(t0) {
		t.Fatalf("unfed %v after %d declines, want %v (since the start)", d, declined, now.Sub(t0))
	}
	// The peer gets chunk 3: we are being fed.
	have := NewBitmap(n)
	have.Set(3)
	k.HaveResult(p, HaveInfo{Have: have, Fetching: NewBitmap(n), Downloading: true}, Outcome{}, now)
	as, _ := k.Schedule(now)
	if d := k.Unfed(now); d != 0 {
		t.Fatalf("unfed %v while a peer has a chunk we need", d)
	}
	for _, a := range as {
		if a.Src == p {
			k.Result(a, Outcome{Kind: OK}, now)
		}
	}
	later := now.Add(3 * time.Second)
	k.Schedule(later)
	k.Schedule(later.Add(time.Second))
	if d := k.Unfed(later.Add(time.Second)); d != 4*time.Second {
		t.Fatalf("unfed %v after the peer's chunk, want 4s (since that chunk)", d)
	}
}
