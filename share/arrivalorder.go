package share

import (
	"context"
	"sync/atomic"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/pairs"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// A forming crowd pairs by the order of arrival the directory's v2
// answer carries (pairs.Arrival says how): a device dials its picks among
// those before it, and the downloads after it that pick it dial it (it
// accepts them: adoptLater).

// arrivalPicks is pairs.Picks: how many pairs a download picks among
// those announced before it.
func arrivalPicks(k int) int { return pairs.Picks(k) }

// arrivalCap is pairs.PairCap: the most pairs a download is picked into.
func arrivalCap(k int) int { return pairs.PairCap(k) }

// arrivalPairs is pairs.Arrival: self's pairs in the arrival pair graph
// of cid, put first after the close peers.
func arrivalPairs(cid sealed.ContentID, self identity.ID, peers []Neighbour, arrival map[identity.ID]int, k int) map[identity.ID]bool {
	return pairs.Arrival(cid, self, peers, nbID, nbNear, arrival, k)
}

// arrivalFilled is pairs.Filled: arrivalPairs with the downloads left
// below k paired among themselves, for resupply rounds once the crowd has
// stopped growing (pairs.Growth).
func arrivalFilled(cid sealed.ContentID, self identity.ID, peers []Neighbour, arrival map[identity.ID]int, k int) map[identity.ID]bool {
	return pairs.Filled(cid, self, peers, nbID, nbNear, arrival, k)
}

// adoptLater takes as sources our pairs (arrivalPairs) that arrived after
// us and are not sources yet: each dials us at its start, and its
// connection carries our requests too (peer.WireProto2); one that has not
// yet is waited for (pairYield), then dialled. It returns how many it took
// (counted in waiting until they join).
func (n *Node) adoptLater(ctx context.Context, m *sealed.Manifest, ft *peer.Fetcher, peers []Neighbour, paired map[identity.ID]bool,
	arrival map[identity.ID]int, seen map[identity.ID]bool, waiting *atomic.Int32) int {
	took := 0
	for _, p := range peers {
		if !pairs.Later(p.ID, paired, arrival, seen) {
			continue
		}
		c, err := n.peerFor(p)
		if err != nil {
			continue
		}
		seen[p.ID] = true
		took++
		if p.Relay != "" { // through a relay, HTTP/1.1: its connection carries nothing of ours
			ft.AddSource(c.Source(m))
			continue
		}
		waiting.Add(1)
		go func() {
			c.AwaitPeer(ctx, pairYield)
			if ctx.Err() == nil {
				ft.AddSource(c.Source(m))
			}
			waiting.Add(-1)
		}()
	}
	return took
}
