package pairs

import (
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Room is one resupply round's choice of the directory's suppliers to
// connect to, made alike by share.Node.resupply and internal/swarmsim:
// new peers while the download has fewer than Limit live ones, a device
// that downloads from us (a poller) we take nothing from yet, up to
// Cap(Limit), and, for a hungry download (its peers have not fed it for
// sched.HungryAfter), one peer beyond that room a round, up to
// Cap(Limit). From an answer with the order of arrival (Ordered), a
// download that is not our pair (Paired) is dialled only while we have
// fewer than Picks(Limit) peers or it polls us: its own pairs fill it.
//
// Round fills Ordered, Paired and Downloading from the round's answer once
// the caller has ordered it; the caller adds the peers it adopts meanwhile
// to Added, and tells Took of each connection Take agreed to that it made.
type Room struct {
	Limit int // the download's peers (sched.Peers)
	// Added: its live peers (dropped and banned ones leave room) and the
	// picks still waiting for their peer to connect.
	Added       int
	Hungry      bool                 // one peer beyond the room this round (NewRoom)
	Seen        map[identity.ID]bool // connected to already (and self)
	Pollers     map[identity.ID]bool // devices downloading from us now
	Ordered     bool                 // the answer carries the order of arrival
	Paired      map[identity.ID]bool // our pairs in its arrival graph
	Downloading map[identity.ID]bool // the answer's devices downloading the title
}

// NewRoom starts a round for a download with limit peers, added of them
// live, hungry when its peers have not fed it long enough (its caller's
// rule); it is hungry in the round only below Cap(limit).
func NewRoom(limit, added int, hungry bool, seen, pollers map[identity.ID]bool) *Room {
	return &Room{Limit: limit, Added: added, Hungry: hungry && added < Cap(limit), Seen: seen, Pollers: pollers}
}

// Wants reports whether the round takes any new peer: the download has
// room, is hungry, or a poller we take nothing from can be called back.
// A round that wants none uses the answer only for its crowd.
func (r *Room) Wants() bool {
	if r.Added < r.Limit || r.Hungry {
		return true
	}
	if r.Added >= Cap(r.Limit) {
		return false
	}
	for id := range r.Pollers {
		if !r.Seen[id] {
			return true
		}
	}
	return false
}

// Take reports whether the round connects to supplier id, and whether it
// would be the hungry round's one peer beyond the room (extra).
func (r *Room) Take(id identity.ID) (take, extra bool) {
	extra = r.Added >= r.Limit && !(r.Pollers[id] && r.Added < Cap(r.Limit))
	switch {
	case r.Seen[id]:
		return false, extra
	case extra:
		return r.Hungry && r.Added < Cap(r.Limit), true
	case r.Ordered && r.Downloading[id] && !r.Paired[id] && !r.Pollers[id] && r.Added >= Picks(r.Limit):
		return false, false
	}
	return true, false
}

// Took counts a connection Take agreed to: one more peer, and the round's
// extra one ends its hunger.
func (r *Room) Took(extra bool) {
	r.Added++
	if extra {
		r.Hungry = false
	}
}

// Adopt is whom a resupply round adopts as sources besides the suppliers
// Room takes from the answer (Round says which).
type Adopt int

const (
	AdoptNone Adopt = iota
	// AdoptLater: our pairs (Room.Paired) that arrived after us and are
	// not sources yet (Later). Each dials us at its start.
	AdoptLater
	// AdoptDialled: from a sample of a bigger crowd, the devices that
	// dialled us (Room.Pollers), up to Cap(Room.Limit).
	AdoptDialled
)

// Round reads a resupply round's answer into r, as share.Node.resupply and
// internal/swarmsim both do, and says whom the round adopts. From an
// answer with the order of arrival, r.Paired is the arrival graph's pairs
// (Filled's once the crowd has stopped growing: g), and the later pairs
// are adopted. From a whole crowd without the order, with room for peers,
// Match puts our pairs first in peers, as at the start. From a sample of
// a bigger crowd, the devices that dial us are adopted.
func Round[P any](r *Room, cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool, a Answer, g *Growth) Adopt {
	r.Ordered, r.Downloading = a.Ordered, a.Downloading
	switch {
	case a.Ordered:
		if g.Settled(a.Arrival) {
			r.Paired = Filled(cid, self, peers, id, near, a.Arrival, r.Limit)
		} else {
			r.Paired = Arrival(cid, self, peers, id, near, a.Arrival, r.Limit)
		}
		return AdoptLater
	case r.Added < r.Limit && !a.Full:
		Match(cid, self, peers, id, near, a.Downloading, r.Limit)
	case a.Full:
		return AdoptDialled
	}
	return AdoptNone
}
