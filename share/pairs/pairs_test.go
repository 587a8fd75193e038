package pairs

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

type peer struct {
	id   identity.ID
	near bool
}

func peerID(p peer) identity.ID          { return p.id }
func peerNear(p peer) bool               { return p.near }
func plainID(id identity.ID) identity.ID { return id }
func never(identity.ID) bool             { return false }

// TestArrivalAnyPeerType: the arrival graph depends only on the IDs and
// the order of arrival, not on the caller's peer type (share's Neighbour,
// the simulator's node): the same pairs over plain IDs as over a struct,
// and a close peer is kept in front, in its order, ahead of the pairs.
func TestArrivalAnyPeerType(t *testing.T) {
	cid := sealed.ContentID{7}
	var ids []identity.ID
	var ps []peer
	arrival := map[identity.ID]int{}
	for i := range 12 {
		id := identity.ID(fmt.Sprintf("dev-%02d", i))
		ids = append(ids, id)
		ps = append(ps, peer{id: id, near: i == 11})
		arrival[id] = i + 1 // all after self
		if i < 6 {
			arrival[id] = -(i + 1) // before self
		}
	}
	a := Arrival(cid, "self", slices.Clone(ids), plainID, never, arrival, 4)
	b := Arrival(cid, "self", ps, peerID, peerNear, arrival, 4)
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("pairs over IDs %v, over peers %v", a, b)
	}
	if ps[0].id != "dev-11" {
		t.Errorf("the close peer is not first: %v", ps[0])
	}
	for i, p := range ps[1 : 1+len(b)] {
		if !b[p.id] && p.id != "dev-11" {
			t.Errorf("pair not right after the close peer: %v at %d", p.id, i+1)
		}
	}
}

// TestStartAndLater: a download starts from its close peers, its pairs
// and complete holders (at most k), never a download that is not its
// pair; it adopts only the pairs that came after it and are not sources.
func TestStartAndLater(t *testing.T) {
	ps := []peer{{id: "before-paired"}, {id: "before"}, {id: "after-paired"}, {id: "complete"}, {id: "lan", near: true}}
	paired := map[identity.ID]bool{"before-paired": true, "after-paired": true}
	downloading := map[identity.ID]bool{"before-paired": true, "before": true, "after-paired": true, "lan": true}
	got := Start(ps, peerID, peerNear, paired, downloading, 3)
	if want := []peer{{id: "before-paired"}, {id: "after-paired"}, {id: "complete"}}; !slices.Equal(got, want) {
		t.Errorf("start %v, want %v", got, want)
	}
	arrival := map[identity.ID]int{"before-paired": -1, "before": -2, "after-paired": 4}
	seen := map[identity.ID]bool{}
	for id, want := range map[identity.ID]bool{"before-paired": false, "before": false, "after-paired": true, "complete": false} {
		if Later(id, paired, arrival, seen) != want {
			t.Errorf("Later(%s) = %v", id, !want)
		}
	}
	seen["after-paired"] = true
	if Later("after-paired", paired, arrival, seen) {
		t.Error("a pair already a source adopted again")
	}
}

// TestFilledPairsTheLast: in the arrival graph alone the last downloads
// have only their own Picks(k) pairs (nobody after them picks them);
// Filled pairs those below k among themselves, so that every download
// has k pairs (but at most one, left without a partner below k), every
// pair is computed by both ends alike, and Arrival's pairs are kept.
func TestFilledPairsTheLast(t *testing.T) {
	for _, n := range []int{2, 3, 8, 10, 50, 64} {
		for _, k := range []int{1, 2, 4, 5} {
			cid := sealed.ContentID{byte(n), byte(k)}
			ids := make([]identity.ID, n)
			for i := range ids {
				ids[i] = identity.ID(fmt.Sprintf("dev-%02d", i))
			}
			view := func(j int) ([]identity.ID, map[identity.ID]int) {
				var peers []identity.ID
				arrival := map[identity.ID]int{}
				for i, id := range ids {
					if i == j {
						continue
					}
					peers = append(peers, id)
					arrival[id] = i + 1
					if i < j {
						arrival[id] = -(i + 1)
					}
				}
				return peers, arrival
			}
			filled := make([]map[identity.ID]bool, n)
			var short []int // below k after the fill
			for j := range ids {
				peers, arrival := view(j)
				first := Arrival(cid, ids[j], slices.Clone(peers), plainID, never, arrival, k)
				filled[j] = Filled(cid, ids[j], peers, plainID, never, arrival, k)
				for id := range first {
					if !filled[j][id] {
						t.Fatalf("n=%d k=%d: %s lost its arrival pair %s", n, k, ids[j], id)
					}
				}
				if len(filled[j]) < min(k, n-1) {
					short = append(short, j)
				}
			}
			for j := range ids {
				for id := range filled[j] {
					i := slices.Index(ids, id)
					if !filled[i][ids[j]] {
						t.Fatalf("n=%d k=%d: %s pairs with %s, not the other way", n, k, ids[j], id)
					}
				}
			}
			for _, a := range short {
				for _, b := range short {
					if a != b && !filled[a][ids[b]] {
						t.Errorf("n=%d k=%d: %s and %s both below %d pairs after the fill, not paired", n, k, ids[a], ids[b], k)
					}
				}
			}
		}
	}
}

// TestGrowthSettles: a crowd has stopped growing once an answer ranks no
// more downloads than the one before; the first answer, or one naming
// a new arrival, has not.
func TestGrowthSettles(t *testing.T) {
	var g Growth
	two := map[identity.ID]int{"a": -1, "b": 2}
	three := map[identity.ID]int{"a": -1, "b": 2, "c": 3}
	for i, c := range []struct {
		arrival map[identity.ID]int
		want    bool
	}{{two, false}, {two, true}, {three, false}, {three, true}, {three, true}} {
		if got := g.Settled(c.arrival); got != c.want {
			t.Errorf("answer %d (%d ranked): settled %v, want %v", i, len(c.arrival), got, c.want)
		}
	}
}

// TestSampled: from a sample of a bigger crowd a download dials at most
// Picks(k) downloads, in the answer's order; complete holders and close
// peers fill the rest of its k as they come.
func TestSampled(t *testing.T) {
	downloading := map[identity.ID]bool{}
	var ps []peer
	for i := range 8 {
		id := identity.ID(fmt.Sprintf("dl-%d", i))
		downloading[id] = true
		ps = append(ps, peer{id: id})
	}
	ids := func(ps []peer) []identity.ID {
		var out []identity.ID
		for _, p := range ps {
			out = append(out, p.id)
		}
		return out
	}
	if got := ids(Sampled(ps, peerID, peerNear, downloading, 4)); !slices.Equal(got, []identity.ID{"dl-0", "dl-1"}) {
		t.Errorf("downloads only: took %v, want the first Picks(4) = 2", got)
	}
	mixed := []peer{{id: "dl-0"}, {id: "dl-1"}, {id: "dl-2"}, {id: "complete"}, {id: "lan", near: true}, {id: "complete-2"}}
	if got := ids(Sampled(mixed, peerID, peerNear, downloading, 4)); !slices.Equal(got, []identity.ID{"dl-0", "dl-1", "complete", "lan"}) {
		t.Errorf("mixed: took %v, want two downloads, then the complete holder and the close peer", got)
	}
	if got := Sampled(ps, peerID, peerNear, downloading, 0); len(got) != 0 {
		t.Errorf("k=0: took %v", got)
	}
}

// TestFirst: a download's start from each kind of answer. From the order
// of arrival it dials its pairs and no download that is not one; from a
// sample of a bigger crowd at most Picks(k) downloads (the rest of its k
// dial it); from a whole crowd without the order, its Match pairs first,
// k in all. A complete holder is never left out for being no pair.
func TestFirst(t *testing.T) {
	cid := sealed.ContentID{9}
	const k = 4
	ids, downloading, arrival := testCrowd(10, 4, 1) // dev-09 holds it whole
	countDL := func(ps []identity.ID) int {
		n := 0
		for _, p := range ps {
			if downloading[p] {
				n++
			}
		}
		return n
	}
	t.Run("ordered", func(t *testing.T) {
		peers := slices.Clone(ids)
		first, paired := First(cid, "self", peers, plainID, never, Answer{Ordered: true, Arrival: arrival, Downloading: downloading}, k)
		if len(paired) == 0 {
			t.Fatal("no pairs from an ordered answer")
		}
		for _, p := range first {
			if downloading[p] && !paired[p] {
				t.Errorf("dialled %s, a download that is not our pair (pairs %v)", p, paired)
			}
		}
		if !slices.Contains(first, "dev-09") && len(first) < k {
			t.Errorf("the complete holder left out: %v", first)
		}
		if want := Arrival(cid, "self", slices.Clone(ids), plainID, never, arrival, k); !maps.Equal(paired, want) {
			t.Errorf("pairs %v; want the arrival graph's %v", paired, want)
		}
	})
	t.Run("sample", func(t *testing.T) {
		first, paired := First(cid, "self", slices.Clone(ids), plainID, never, Answer{Full: true, Downloading: downloading}, k)
		if paired != nil || len(first) > k || countDL(first) > Picks(k) {
			t.Errorf("from a sample: %v (%d downloads, pairs %v); want at most %d downloads of %d, no pairs", first, countDL(first), paired, Picks(k), k)
		}
	})
	t.Run("whole crowd", func(t *testing.T) {
		peers := slices.Clone(ids)
		first, paired := First(cid, "self", peers, plainID, never, Answer{Downloading: downloading}, k)
		if len(first) != k || len(paired) == 0 {
			t.Fatalf("first %v pairs %v; want %d peers and our pairs", first, paired, k)
		}
		for i, p := range first[:min(k, len(paired))] {
			if !paired[p] {
				t.Errorf("peer %d (%s) is not a pair, though pairs come first: %v, pairs %v", i, p, first, paired)
			}
		}
	})
}

// testCrowd is an answer's n devices (dev-00, dev-01, ...) in the order of
// arrival, before of them ahead of us (ranks -before...-1, then 1, 2, ...),
// the last complete of them holding the title whole (no rank).
func testCrowd(n, before, complete int) (ids []identity.ID, downloading map[identity.ID]bool, arrival map[identity.ID]int) {
	downloading, arrival = map[identity.ID]bool{}, map[identity.ID]int{}
	for i := range n {
		id := identity.ID(fmt.Sprintf("dev-%02d", i))
		ids = append(ids, id)
		if i >= n-complete {
			continue
		}
		downloading[id] = true
		arrival[id] = i - before
		if arrival[id] >= 0 {
			arrival[id]++
		}
	}
	return ids, downloading, arrival
}
