package pairs

import (
	"fmt"
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
