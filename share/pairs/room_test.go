package pairs

import (
	"maps"
	"slices"
	"testing"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

func set(ids ...identity.ID) map[identity.ID]bool {
	m := map[identity.ID]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// TestRoom: a round takes new peers while the download has room, calls
// back a poller up to Cap, takes one peer beyond the room when hungry,
// never one it is connected to, and from an answer in order of arrival
// leaves downloads that are not its pairs to their own once it has its
// Picks.
func TestRoom(t *testing.T) {
	const k = 4 // Picks 2, Cap 8
	type take struct {
		id          identity.ID
		take, extra bool
	}
	for _, tc := range []struct {
		name   string
		room   *Room
		wants  bool
		takes  []take // in order; each taken one is counted (Took)
		hungry bool   // after
	}{
		{"room: new peers up to the limit, then none", NewRoom(k, 3, false, set("SEEN"), nil), true,
			[]take{{"SEEN", false, false}, {"A", true, false}, {"B", false, true}}, false},
		{"full, fed: the answer is only the crowd", NewRoom(k, k, false, nil, nil), false,
			[]take{{"A", false, true}}, false},
		{"full, hungry: one beyond the room a round", NewRoom(k, k, true, nil, nil), true,
			[]take{{"A", true, true}, {"B", false, true}}, false},
		{"hungry at Cap: not hungry", NewRoom(k, 2*k, true, nil, nil), false,
			[]take{{"A", false, true}}, false},
		{"a poller called back beyond the room", NewRoom(k, k, false, nil, set("P")), true,
			[]take{{"A", false, true}, {"P", true, false}}, false},
		{"a poller already connected: nothing to call back", NewRoom(k, k, false, set("P"), set("P")), false,
			[]take{{"P", false, false}}, false},
		{"a poller at Cap: not called back", NewRoom(k, 2*k, false, nil, set("P")), false,
			[]take{{"P", false, true}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.room
			if got := r.Wants(); got != tc.wants {
				t.Errorf("Wants %v, want %v", got, tc.wants)
			}
			for _, w := range tc.takes {
				take, extra := r.Take(w.id)
				if take != w.take || extra != w.extra {
					t.Errorf("Take(%s) = %v, %v; want %v, %v", w.id, take, extra, w.take, w.extra)
				}
				if take {
					r.Took(extra)
				}
			}
			if r.Hungry != tc.hungry {
				t.Errorf("hungry %v after, want %v", r.Hungry, tc.hungry)
			}
		})
	}

	// In order of arrival: below Picks any peer; from Picks on, a
	// download only if it is our pair or polls us; a complete holder
	// (not downloading) always, while there is room.
	r := NewRoom(k, 1, false, nil, set("POLLS"))
	r.Ordered, r.Paired, r.Downloading = true, set("PAIR"), set("D1", "D2", "PAIR", "POLLS")
	for _, w := range []take{{"D1", true, false}, {"D2", false, false}, {"HOLDER", true, false}, {"PAIR", true, false},
		{"POLLS", true, false}, {"D3", false, true}} {
		take, extra := r.Take(w.id)
		if take != w.take || extra != w.extra {
			t.Errorf("ordered, %d peers: Take(%s) = %v, %v; want %v, %v", r.Added, w.id, take, extra, w.take, w.extra)
		}
		if take {
			r.Took(extra)
		}
	}
}

// TestRound: a resupply round reads its answer into the Room: from the
// order of arrival the arrival graph (Filled's once the crowd has stopped
// growing) and the later pairs adopted; from a whole crowd, with room,
// Match's pairs first; without room, the order left alone; from a sample,
// the devices that dial us adopted.
func TestRound(t *testing.T) {
	cid := sealed.ContentID{1} // Order's first four are not all Match's pairs
	const k = 4
	ids, downloading, arrival := testCrowd(12, 6, 0)
	Order(cid, "self", ids, plainID) // as the callers order an answer's peers
	ordered := Answer{Ordered: true, Arrival: arrival, Downloading: downloading}

	var g Growth
	r := NewRoom(k, 1, false, nil, nil)
	if got := Round(r, cid, "self", slices.Clone(ids), plainID, never, ordered, &g); got != AdoptLater || !r.Ordered {
		t.Fatalf("ordered answer: %v, Ordered %v; want AdoptLater, Ordered", got, r.Ordered)
	}
	if want := Arrival(cid, "self", slices.Clone(ids), plainID, never, arrival, k); !maps.Equal(r.Paired, want) {
		t.Errorf("a growing crowd's pairs %v; want the arrival graph's %v", r.Paired, want)
	}
	r = NewRoom(k, 1, false, nil, nil)
	Round(r, cid, "self", slices.Clone(ids), plainID, never, ordered, &g) // the same crowd again: settled
	if want := Filled(cid, "self", slices.Clone(ids), plainID, never, arrival, k); !maps.Equal(r.Paired, want) {
		t.Errorf("a settled crowd's pairs %v; want Filled's %v", r.Paired, want)
	}

	whole := Answer{Downloading: downloading}
	peers := slices.Clone(ids)
	r = NewRoom(k, 1, false, nil, nil)
	if got := Round(r, cid, "self", peers, plainID, never, whole, &g); got != AdoptNone || r.Ordered {
		t.Fatalf("whole crowd: %v, Ordered %v; want AdoptNone", got, r.Ordered)
	}
	matched := Match(cid, "self", slices.Clone(ids), plainID, never, downloading, k)
	if len(matched) == 0 || slices.Equal(peers, ids) {
		t.Fatalf("with room, pairs %v and the order unchanged (%v): the test shows nothing", matched, peers)
	}
	for i, p := range peers[:len(matched)] {
		if !matched[p] {
			t.Errorf("with room, peer %d (%s) is not a pair, though pairs come first: %v", i, p, peers)
		}
	}
	peers = slices.Clone(ids)
	r = NewRoom(k, k, false, nil, nil)
	Round(r, cid, "self", peers, plainID, never, whole, &g)
	if !slices.Equal(peers, ids) {
		t.Errorf("without room the answer's order changed: %v", peers)
	}

	r = NewRoom(k, 1, false, nil, nil)
	if got := Round(r, cid, "self", slices.Clone(ids), plainID, never, Answer{Full: true, Downloading: downloading}, &g); got != AdoptDialled {
		t.Errorf("a sample: %v; want AdoptDialled", got)
	}
}
