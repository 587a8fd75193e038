package swarmsim

import (
	"testing"
	"time"
)

// TestSimulatedCrowd: a small crowd completes, and with the new algorithm
// the origin carries about one copy whatever the churn and free riders.
func TestSimulatedCrowd(t *testing.T) {
	for _, tc := range []struct {
		name        string
		c           Config
		maxOriginX  float64
		wantLeft    bool
		wantFinishX float64 // share of devices that must finish
	}{
		{"simultaneous", Config{N: 60, Size: 8 << 20, ResupplyInterval: 500 * time.Millisecond}, 1.2, false, 1},
		{"Poisson arrivals", Config{N: 60, Size: 8 << 20, Arrivals: 5 * time.Second}, 1.2, false, 1},
		{"churn and free riders", Config{N: 100, Size: 8 << 20, Churn: 0.1, FreeRiders: 0.3}, 1.5, true, 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Seed = 7
			r := Run(tc.c)
			t.Log(r)
			if r.OriginX > tc.maxOriginX {
				t.Errorf("origin carried %.2fx the size, want ≤ %.2f", r.OriginX, tc.maxOriginX)
			}
			if r.Stuck > 0 || float64(r.Finished) < tc.wantFinishX*float64(tc.c.N)-float64(r.Left) {
				t.Errorf("finished %d, left %d, stuck %d of %d", r.Finished, r.Left, r.Stuck, tc.c.N)
			}
			if tc.wantLeft != (r.Left > 0) {
				t.Errorf("left %d", r.Left)
			}
			if r.Median <= 0 || r.Median > r.P99 || r.P99 > r.All+time.Millisecond || r.All < r.Bound || r.PeerBound < r.Bound || r.All < r.PeerBound {
				t.Errorf("times out of order: median %s p99 %s all %s bound %s peers' bound %s", r.Median, r.P99, r.All, r.Bound, r.PeerBound)
			}
		})
	}
}

// TestStalledHolders: the first devices, stalled (announced, answering
// every chunk request busy), get first copies of the origin's parts and
// pass none on; the crowd still completes (their parts go out again as
// stuck), later and with more origin refusals than without them.
func TestStalledHolders(t *testing.T) {
	c := Config{N: 100, Size: 8 << 20, Churn: 0.1, FreeRiders: 0.3, Seed: 1}
	plain := Run(c)
	c.Stalled = 4
	r := Run(c)
	t.Log(plain)
	t.Log(r)
	if r.Stuck > 0 || r.Finished+r.Left != c.N {
		t.Errorf("finished %d, left %d, stuck %d of %d", r.Finished, r.Left, r.Stuck, c.N)
	}
	if r.OriginX > 1.5 {
		t.Errorf("origin carried %.2fx the size, want ≤ 1.5", r.OriginX)
	}
	if r.OriginBusy <= plain.OriginBusy || r.Median <= plain.Median {
		t.Errorf("with %d stalled holders: origin busy %d, median %s; without: %d, %s", c.Stalled, r.OriginBusy, r.Median, plain.OriginBusy, plain.Median)
	}
}

// TestFloodingHolder: a stalled device that also asks the origin for
// every other part, again and again (Config.Flood), to raise their
// refusal counts, does not hide the parts it holds back in a crowd of
// stuckCrowd or more: the directory counts each sharer once per part.
// Counting every refused read, the crowd of 200 took 2m37s (seed 1).
func TestFloodingHolder(t *testing.T) {
	c := Config{N: 200, Size: 8 << 20, Churn: 0.1, FreeRiders: 0.3, Stalled: 4, Flood: 1, Seed: 1}
	r := Run(c)
	t.Log(r)
	if r.Stuck > 0 || r.Finished+r.Left != c.N {
		t.Errorf("finished %d, left %d, stuck %d of %d", r.Finished, r.Left, r.Stuck, c.N)
	}
	if r.All > 30*time.Second {
		t.Errorf("with a flooding stalled holder the crowd took %s, want ≤ 30 s", r.All)
	}
}

func BenchmarkSim(b *testing.B) {
	for range b.N {
		Run(Config{N: 200, Size: 8 << 20, ResupplyInterval: 500 * time.Millisecond, OriginInFlight: 1, Seed: 1})
	}
}

// TestHungryRule: share.Node.resupply's hungry rule runs in the
// simulator on the real sched.Core.Unfed: over links slow enough that a
// device's peers have nothing it needs for a second (200 ms one way, a
// loaded machine's hop; over 20 ms no device of a simulated crowd is unfed
// that long, see Result.MaxUnfed), downloads have a round at once between
// the product's 5 s rounds and take extra peers, one a round, never beyond
// twice MaxPeers.
func TestHungryRule(t *testing.T) {
	r := Run(Config{N: 100, Size: 8 << 20, Latency: 200 * time.Millisecond, Seed: 7})
	t.Log(r)
	if r.HungryRounds == 0 || r.HungryPeers == 0 || r.HungryPeers > r.HungryRounds {
		t.Errorf("hungry rounds %d, extra peers %d (unfed rounds %d, max %s)", r.HungryRounds, r.HungryPeers, r.UnfedRounds, r.MaxUnfed)
	}
	if r.EarlyRounds == 0 {
		t.Errorf("no round before the clock's (hungry rounds %d): a hungry download waited for its next 5 s round", r.HungryRounds)
	}
	if r.Stuck > 0 || r.Finished != 100 {
		t.Errorf("finished %d, stuck %d", r.Finished, r.Stuck)
	}
}

// TestAdoptedBetweenRounds: in a crowd bigger than the directory's answer,
// a download takes the devices that dialled it between its 5 s resupply
// rounds too (share.Node.resupply), not only in them: every device dials
// only half its peers (pairs.Sampled) and the rest of its peers are those
// that dialled it.
func TestAdoptedBetweenRounds(t *testing.T) {
	r := Run(Config{N: 200, Size: 8 << 20, Seed: 1})
	t.Log(r)
	if r.AdoptedBetween == 0 || r.AdoptedBetween > r.Adopted {
		t.Errorf("adopted %d, %d of them between rounds", r.Adopted, r.AdoptedBetween)
	}
	if r.Stuck > 0 || r.Finished != 200 || r.OriginX > 1.2 {
		t.Errorf("finished %d, stuck %d, origin %.2fx", r.Finished, r.Stuck, r.OriginX)
	}
}

// TestFormingCrowdPairs: a crowd forming around a title (Poisson
// arrivals, the directory listing it whole) starts from its answers'
// order of arrival (directory.ArrivalRanks) and the real pair graph
// (pairs.Arrival): each download after the first starts ordered, the
// earlier ones adopt the later pairs that picked them, and the crowd
// opens fewer connections than a device's k peers each (before the
// simulator ran it: 3.8 a device for k = 4; the graph alone is about
// k/2, connect-backs to pollers add some). Its devices' upload slots are
// wide (64), so the contended rule, which adds pairs where slots are
// full, leaves the graph alone (TestContendedRule).
func TestFormingCrowdPairs(t *testing.T) {
	r := Run(Config{N: 40, Size: 8 << 20, Arrivals: 5 * time.Second, ResupplyInterval: 500 * time.Millisecond, Seed: 1, MaxUploads: 64})
	t.Log(r)
	if r.OrderedStarts != 39 || r.Adopted == 0 {
		t.Errorf("ordered starts %d (want 39), adopted %d", r.OrderedStarts, r.Adopted)
	}
	if r.ConnsPerDevice > 3.2 {
		t.Errorf("%.2f connections a device, want ≤ 3.2", r.ConnsPerDevice)
	}
	if r.Stuck > 0 || r.Finished != 40 {
		t.Errorf("finished %d, stuck %d", r.Finished, r.Stuck)
	}
	// From an older directory (v1: no ranks) the same crowd pairs by
	// pairs.Match and opens more connections.
	v1 := Run(Config{N: 40, Size: 8 << 20, Arrivals: 5 * time.Second, ResupplyInterval: 500 * time.Millisecond, Seed: 1, MaxUploads: 64, V1Directory: true})
	t.Log(v1)
	if v1.OrderedStarts != 0 || v1.Adopted != 0 || v1.ConnsPerDevice <= r.ConnsPerDevice || v1.Stuck > 0 {
		t.Errorf("v1 directory: ordered starts %d, adopted %d, %.2f conns/dev (v2 %.2f), stuck %d",
			v1.OrderedStarts, v1.Adopted, v1.ConnsPerDevice, r.ConnsPerDevice, v1.Stuck)
	}
}

// TestLastArrivalsPaired: on uplinks slower than the downlinks, a crowd
// arriving at once finishes together: the last arrivals, which the
// arrival graph leaves with only their own picks among busy early
// devices, pair among themselves once the crowd has stopped growing
// (pairs.Filled). Before: median 6.23 s, p99 11.72 s, fairness 0.64
// (the last 15 arrivals at 9.5-11.7 s); with it 4.46 s, 5.51 s, 0.94,
// and fewer connections (2.86 -> 2.40 a device).
func TestLastArrivalsPaired(t *testing.T) {
	r := Run(Config{N: 50, Size: 8 << 20, ResupplyInterval: 500 * time.Millisecond, OriginInFlight: 1, Seed: 1})
	t.Log(r)
	if r.Stuck > 0 || r.Finished != 50 {
		t.Fatalf("finished %d, stuck %d", r.Finished, r.Stuck)
	}
	if r.P99 > r.Median*3/2 || r.Fairness < 0.8 {
		t.Errorf("median %s, p99 %s (want within 1.5x), fairness %.2f (want >= 0.8)", r.Median, r.P99, r.Fairness)
	}
}

// TestContention: with Contention, the shared cap divides by 1 + c ×
// (devices downloading): a crowd on one machine takes longer, by up to
// that factor (less in its tail, as devices finish), and the origin
// carries the same.
func TestContention(t *testing.T) {
	harness := Config{N: 100, Size: 8 << 20, Shared: 600e6, Up: 1e9, Down: 1e9, OriginUp: 1e9,
		Latency: 100 * time.Microsecond, OriginInFlight: 1, Seed: 3}
	plain := Run(harness)
	harness.Contention = 0.004
	contended := Run(harness)
	t.Log(plain)
	t.Log(contended)
	if x := float64(contended.All) / float64(plain.All); x < 1.25 || x > 1.4 {
		t.Errorf("contended ÷ plain time %.3f, want 1.25–1.4 (1 + 0.004 × 100 at most)", x)
	}
	if contended.Bound != plain.Bound || contended.All < contended.Bound {
		t.Errorf("bound %s contended, %s plain: Contention only adds to the time (all %s)", contended.Bound, plain.Bound, contended.All)
	}
	if contended.OriginX > 1.2 || contended.Finished != harness.N {
		t.Errorf("contended: origin %.2fx, finished %d of %d", contended.OriginX, contended.Finished, harness.N)
	}
}

// TestUpUse: the upload use bins account for every byte the peers
// uploaded and never exceed what the sharers there could upload.
func TestUpUse(t *testing.T) {
	c := Config{N: 50, Size: 8 << 20, Churn: 0.1, FreeRiders: 0.3, Seed: 3, UseBin: 250 * time.Millisecond}
	r := Run(c)
	if len(r.UpUse) == 0 {
		t.Fatal("no upload use reported")
	}
	peak := 0.0
	for i, u := range r.UpUse {
		if u < 0 || u > 1+1e-9 {
			t.Errorf("bin %d: use %.4f, want within [0, 1]", i, u)
		}
		peak = max(peak, u)
	}
	if peak < 0.3 {
		t.Errorf("peak use %.2f: the crowd's uploads barely used", peak)
	}
	c.UseBin = 0
	if r2 := Run(c); r2.UpUse != nil || r2.Median != r.Median || r2.OriginBytes != r.OriginBytes {
		t.Errorf("the trace changed the run: median %s / %s, origin %d / %d", r2.Median, r.Median, r2.OriginBytes, r.OriginBytes)
	}
}

// TestContendedRule: with the product's upload slots, downloads whose
// peers answer busy for full slots take more peers at once (share.Node's
// contended rule) and the crowd finishes sooner than one whose slots
// never fill (64), where the rule never fires.
func TestContendedRule(t *testing.T) {
	slots := Run(Config{N: 50, Size: 8 << 20, Seed: 1})
	wide := Run(Config{N: 50, Size: 8 << 20, Seed: 1, MaxUploads: 64})
	t.Log(slots)
	t.Log(wide)
	if slots.ContendedRounds == 0 || wide.ContendedRounds != 0 {
		t.Errorf("contended rounds %d with 8 slots (want some), %d with 64 (want none)", slots.ContendedRounds, wide.ContendedRounds)
	}
	if slots.All >= wide.All || slots.ConnsPerDevice <= wide.ConnsPerDevice {
		t.Errorf("8 slots: all %s, %.2f conns/dev; 64: all %s, %.2f: want sooner with more pairs",
			slots.All, slots.ConnsPerDevice, wide.All, wide.ConnsPerDevice)
	}
	if slots.Stuck > 0 || slots.OriginX > 1.2 {
		t.Errorf("stuck %d, origin %.2fx", slots.Stuck, slots.OriginX)
	}
}
