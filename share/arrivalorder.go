package share

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// A forming crowd's first suppliers answers differ: each device's lists
// exactly the downloads announced before it (the directory records the
// announcement, then looks up), so pair graphs computed from them
// (matchFirst) differed, and a third to a half of a crowd's connections
// were pairs only one end had picked (8 MiB N=50: 73-78 of 136-145).
// Asking again a round trip later, or waiting for the fuller list, costs
// the start time. The directory's v2 answer (directory.Supplier.Arrival)
// says in which order the listed downloads and the asker's own were first
// announced, and the first answer is then all a device needs: the pairs of
// every download before it are fixed by the answers those got, which
// listed exactly the downloads before each, so every device replays the
// same graph over the same prefix (arrivalPairs) and adds its own picks.
// A device dials its picks among those before it, and the downloads after
// it that pick it dial it (it accepts them: resupply adopts them).

// arrivalPicks is how many pairs a download picks among those announced
// before it (for k peers: half, rounded up): the others of its k come
// from later arrivals picking it. A crowd then opens about k/2
// connections a device. Picking k filled the early devices at once and
// left the later ones to each other: the graph became a chain (8 MiB
// N=50: 11 hops across, where a chunk an early device fetched from the
// origin needs a hop a Have poll to reach the next).
func arrivalPicks(k int) int { return (k + 1) / 2 }

// arrivalCap is the most pairs a download is picked into (2k: what
// resupply connects back to, Server.Pollers). A cap of k left the crowd a
// chain as above (simulated N=50: 11 hops across; 2k: 5.5, as matchFirst's
// graph; the earliest devices carry up to 2k pairs, the last k/2).
func arrivalCap(k int) int { return 2 * k }

// arrivalPairs returns self's pairs in the arrival pair graph of cid over
// the downloads of peers with a known place in the order of arrival
// (arrival: directory.Supplier.Arrival, negative before self) and puts
// them first, after the close peers (LAN, added by hand: kept in front,
// in their order). The graph: in order of arrival, each download picks
// arrivalPicks(k) of those before it that have fewer than arrivalCap(k)
// pairs, lowest pairKey first. The same for every device that knows the
// same downloads (each device's draw is its deviceDraw), and a device's
// picks depend only on those before it: its first answer (the downloads
// announced before it) is enough to pick, and later answers, which name
// more, give the same picks to everyone before.
func arrivalPairs(cid sealed.ContentID, self identity.ID, peers []Neighbour, arrival map[identity.ID]int, k int) map[identity.ID]bool {
	type node struct {
		id   identity.ID
		at   int // twice the rank in the order of arrival; self's is odd
		draw uint64
		deg  int
	}
	// Close peers are in the graph too: the others do not know them as
	// close, and replay them.
	nodes := []node{{id: self}}
	in := map[identity.ID]bool{self: true}
	for _, p := range peers {
		if a := arrival[p.ID]; a != 0 && !in[p.ID] && len(nodes) < maxMatched {
			in[p.ID] = true
			nodes = append(nodes, node{id: p.ID, at: 2 * max(a, -a)})
			if a < 0 {
				nodes[0].at = max(nodes[0].at, 2*-a+1) // after every download before it
			}
		}
	}
	matched := map[identity.ID]bool{}
	if len(nodes) < 2 || k <= 0 {
		return matched
	}
	slices.SortFunc(nodes, func(a, b node) int { return a.at - b.at })
	for i := range nodes {
		nodes[i].draw = deviceDraw(cid, nodes[i].id)
	}
	picks, limit := arrivalPicks(k), arrivalCap(k)
	var chosen []int // the indices j picks
	for j := 1; j < len(nodes); j++ {
		chosen = chosen[:0]
		for len(chosen) < picks {
			best, bestKey := -1, uint64(0)
			for i := range j {
				if nodes[i].deg >= limit || slices.Contains(chosen, i) {
					continue
				}
				if key := pairKey(nodes[j].draw, nodes[i].draw); best < 0 || key < bestKey {
					best, bestKey = i, key
				}
			}
			if best < 0 {
				break
			}
			chosen = append(chosen, best)
			nodes[best].deg++
			nodes[j].deg++
			switch {
			case nodes[j].id == self:
				matched[nodes[best].id] = true
			case nodes[best].id == self:
				matched[nodes[j].id] = true
			}
		}
	}
	near := func(p Neighbour) bool { return p.LAN || p.Hand }
	slices.SortStableFunc(peers, func(x, y Neighbour) int {
		rank := func(p Neighbour) int {
			switch {
			case near(p):
				return 0
			case matched[p.ID]:
				return 1
			}
			return 2
		}
		return rank(x) - rank(y)
	})
	return matched
}

// arrivalStart is whom a download whose answer has the order of arrival
// connects to at its start: of peers (arrivalPairs' order: close peers,
// pairs, the rest), at most k, leaving out the downloads that are not its
// pairs: those before it have their pairs, those after it pick their own
// (a download that is nobody's pair yet, the crowd's first, starts from
// the origin and complete holders, and the next arrivals pick it).
func arrivalStart(peers []Neighbour, paired, downloading map[identity.ID]bool, k int) []Neighbour {
	out := make([]Neighbour, 0, k)
	for _, p := range peers {
		if len(out) == k {
			break
		}
		if p.LAN || p.Hand || paired[p.ID] || !downloading[p.ID] {
			out = append(out, p)
		}
	}
	return out
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
		if seen[p.ID] || !paired[p.ID] || arrival[p.ID] <= 0 {
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
