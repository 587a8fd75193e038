package sched

import (
	"testing"
	"time"
)

// TestNoPollWithNothingToWaitFor: a source that holds Have polls is not
// polled while every chunk we lack that it might gain has a request
// running elsewhere (the poll could only end at its wait, or when the
// download ends, cancelled), and is polled again as soon as one has not
// (a request failed).
func TestNoPollWithNothingToWaitFor(t *testing.T) {
	const n = 4
	t0 := time.Unix(0, 0)
	k := newCore(n, "ME")
	p := k.Add("P", false, true, nil)
	q := k.Add("Q", false, true, nil)
	k.Begin(NewBitmap(n), t0)
	if polls := k.Polls(t0); len(polls) != 2 {
		t.Fatalf("first polls %v, want both", polls)
	}
	hp, hq := NewBitmap(n), NewBitmap(n)
	hp.Set(0)
	hp.Set(1)
	hq.Set(2)
	hq.Set(3)
	k.HaveResult(p, HaveInfo{Have: hp, Fetching: NewBitmap(n), Downloading: true, Holds: true}, Outcome{}, t0)
	k.HaveResult(q, HaveInfo{Have: hq, Fetching: NewBitmap(n), Downloading: true, Holds: true}, Outcome{}, t0)
	as, _ := k.Schedule(t0)
	if len(as) != 4 {
		t.Fatalf("scheduled %d requests, want all 4 chunks", len(as))
	}
	if polls := k.Polls(t0); len(polls) != 0 {
		t.Fatalf("polled %v while each answers chunk requests", polls)
	}
	var fromQ []*Attempt
	for _, a := range as {
		if a.Src == p {
			k.Result(a, Outcome{Kind: OK}, t0)
		} else {
			fromQ = append(fromQ, a)
		}
	}
	if w := k.Want(p); w == nil || !none(w) {
		t.Fatalf("want of P %08b, want none: chunks 2 and 3 are asked of Q", w)
	}
	if polls := k.Polls(t0); len(polls) != 0 {
		t.Fatalf("polled %v with nothing to wait for", polls)
	}
	k.Result(fromQ[0], Outcome{Kind: Failed}, t0)
	if polls := k.Polls(t0); len(polls) != 1 || polls[0] != p {
		t.Fatalf("polls %v after chunk %d failed at Q, want P (it may gain it)", polls, fromQ[0].Chunk)
	}
	if w := k.Want(p); !w.Has(fromQ[0].Chunk) || w.Has(fromQ[1].Chunk) {
		t.Fatalf("want of P %08b, want chunk %d alone", w, fromQ[0].Chunk)
	}
}

// none reports whether b names no chunk.
func none(b Bitmap) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
