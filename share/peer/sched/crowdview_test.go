package sched

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// TestCrowdView: an answer below the limit is the crowd; full answers are
// remembered for Memory, a member named complete leaves at once, and the
// view is bounded.
func TestCrowdView(t *testing.T) {
	ids := func(from, to int) []identity.ID {
		var out []identity.ID
		for i := from; i < to; i++ {
			out = append(out, identity.ID(fmt.Sprintf("d%03d", i)))
		}
		return out
	}
	t0 := time.Unix(1000, 0)
	v := CrowdView{Memory: 3 * time.Second}
	if got := v.Update(t0, ids(0, 5), nil, false); !slices.Equal(got, ids(0, 5)) {
		t.Fatalf("whole answer: %v", got)
	}
	if got := v.Update(t0.Add(time.Second), ids(5, 10), nil, false); !slices.Equal(got, ids(5, 10)) {
		t.Fatalf("a whole answer replaces the view: %v", got)
	}
	sorted := func(ids []identity.ID) []identity.ID { slices.Sort(ids); return ids }
	got := sorted(v.Update(t0.Add(2*time.Second), ids(10, 15), nil, true))
	if !slices.Equal(got, ids(5, 15)) {
		t.Fatalf("a full answer adds to the view: %v", got)
	}
	got = sorted(v.Update(t0.Add(4500*time.Millisecond), ids(15, 20), ids(12, 13), true))
	if want := slices.Concat(ids(10, 12), ids(13, 20)); !slices.Equal(got, want) {
		t.Fatalf("members last named 2.5 s before stay, those of 3.5 s before and the one named complete leave: %v, want %v", got, want)
	}
	got = v.Update(t0.Add(8*time.Second), ids(20, 21), nil, true)
	if !slices.Equal(got, ids(20, 21)) {
		t.Fatalf("all expired but the last named: %v", got)
	}
	for i := range 3 {
		v.Update(t0.Add(9*time.Second), ids(i*MaxCrowdView, (i+1)*MaxCrowdView), nil, true)
	}
	if n := len(v.last); n != MaxCrowdView {
		t.Fatalf("view of %d members, want at most %d", n, MaxCrowdView)
	}
}

// TestCrowdViewOwners: a crowd four times an answer's limit, each device
// answered its own random sample every round; the devices that think they
// own a chunk (lowest Rendezvous of their view) fall from about four a
// chunk with the last answer alone to about one with the view.
func TestCrowdViewOwners(t *testing.T) {
	const n, limit, chunks, rounds = 200, 50, 32, 6
	crowd := make([]identity.ID, n)
	for i := range crowd {
		crowd[i] = identity.ID(fmt.Sprintf("device-%03d", i))
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	owners := func(memory time.Duration) float64 {
		views := make([]CrowdView, n)
		known := make([][]identity.ID, n)
		t0 := time.Unix(1000, 0)
		for r := range rounds {
			for d := range n {
				sample := make([]identity.ID, 0, limit)
				for _, j := range rnd.Perm(n)[:limit+1] {
					if j != d && len(sample) < limit {
						sample = append(sample, crowd[j])
					}
				}
				views[d].Memory = memory
				known[d] = views[d].Update(t0.Add(time.Duration(r)*time.Second), sample, nil, true)
			}
		}
		total := 0
		for i := range chunks {
			for d := range n {
				mine := Rendezvous(crowd[d], i)
				own := true
				for _, id := range known[d] {
					if Rendezvous(id, i) < mine {
						own = false
						break
					}
				}
				if own {
					total++
				}
			}
		}
		return float64(total) / chunks
	}
	last, view := owners(0), owners(CrowdMemoryRounds*time.Second)
	t.Logf("owners a chunk: %.2f with the last answer, %.2f with the view", last, view)
	if last < 3 || view > 1.5 {
		t.Fatalf("owners a chunk: %.2f with the last answer (want about 4), %.2f with the view (want at most 1.5)", last, view)
	}
}
