package share

import (
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/pairs"
	"github.com/kith-media/kith/share/sealed"
)

// The pair graphs and orders are share/pairs' (which the simulator,
// internal/swarmsim, runs too); these read a Neighbour for them.

// nbID and nbNear read a Neighbour for package pairs: its device ID, and
// whether it is close (found on the LAN or added by hand).
func nbID(p Neighbour) identity.ID { return p.ID }
func nbNear(p Neighbour) bool      { return p.LAN || p.Hand }

// pairOrder is pairs.Order: peers sorted by a rank both ends of each pair
// compute alike (pairRank), so a pair mostly picks each other.
func pairOrder(cid sealed.ContentID, self identity.ID, peers []Neighbour) {
	pairs.Order(cid, self, peers, nbID)
}

// pairRank is pairs.Rank: the rank of the pair (a, b) for cid.
func pairRank(cid sealed.ContentID, a, b identity.ID) [32]byte { return pairs.Rank(cid, a, b) }

// pairYield is how long a download waits for a peer it is paired with
// (matchFirst) or that picks it (picksUs), one downloading too and whose
// device ID is the smaller of the two, to connect, before it connects
// itself.
const pairYield = 500 * time.Millisecond

// maxMatched bounds the devices matchFirst pairs up (pairs.MaxMatched).
const maxMatched = pairs.MaxMatched

// matchFirst is pairs.Match: self's pairs in the crowd's pair graph for
// cid (among self and the peers downloading it, the same for every device
// that knows the same crowd), put first after the close peers.
func matchFirst(cid sealed.ContentID, self identity.ID, peers []Neighbour, downloading map[identity.ID]bool, k int) map[identity.ID]bool {
	return pairs.Match(cid, self, peers, nbID, nbNear, downloading, k)
}

// picksUs is pairs.PicksUs: whether peer, with the smaller ID, most
// likely picks self among its first k.
func picksUs(cid sealed.ContentID, self, peer identity.ID, all []Neighbour, k int) bool {
	return pairs.PicksUs(cid, self, peer, all, nbID, k)
}

// deviceDraw is pairs.Draw, pairKey pairs.Key (the graphs' draws and pair keys).
func deviceDraw(cid sealed.ContentID, id identity.ID) uint64 { return pairs.Draw(cid, id) }
func pairKey(x, y uint64) uint64                             { return pairs.Key(x, y) }
