package pairs

import (
	"slices"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// A forming crowd's first suppliers answers differ: each device's lists
// exactly the downloads announced before it (the directory records the
// announcement, then looks up), so pair graphs computed from them
// (Match) differed, and a third to a half of a crowd's connections
// were pairs only one end had picked (8 MiB N=50: 73-78 of 136-145).
// Asking again a round trip later, or waiting for the fuller list, costs
// the start time. The directory's v2 answer (directory.Supplier.Arrival)
// says in which order the listed downloads and the asker's own were first
// announced, and the first answer is then all a device needs: the pairs of
// every download before it are fixed by the answers those got, which
// listed exactly the downloads before each, so every device replays the
// same graph over the same prefix (Arrival) and adds its own picks.
// A device dials its picks among those before it, and the downloads after
// it that pick it dial it (it accepts them: Later).

// Picks is how many pairs a download picks among those announced
// before it (for k peers: half, rounded up): the others of its k come
// from later arrivals picking it. A crowd then opens about k/2
// connections a device. Picking k filled the early devices at once and
// left the later ones to each other: the graph became a chain (8 MiB
// N=50: 11 hops across, where a chunk an early device fetched from the
// origin needs a hop a Have poll to reach the next).
func Picks(k int) int { return (k + 1) / 2 }

// Cap is the most pairs a download is picked into (2k: what resupply
// connects back to, Server.Pollers). A cap of k left the crowd a chain
// as above (simulated N=50: 11 hops across; 2k: 5.5, as Match's graph;
// the earliest devices carry up to 2k pairs, the last k/2).
func Cap(k int) int { return 2 * k }

// Arrival returns self's pairs in the arrival pair graph of cid over
// the downloads of peers with a known place in the order of arrival
// (arrival: directory.Supplier.Arrival, negative before self) and puts
// them first, after the close peers (near: kept in front, in their
// order). The graph: in order of arrival, each download picks Picks(k)
// of those before it that have fewer than Cap(k) pairs, lowest Key
// first. The same for every device that knows the same downloads (each
// device's draw is its Draw), and a device's picks depend only on those
// before it: its first answer (the downloads announced before it) is
// enough to pick, and later answers, which name more, give the same
// picks to everyone before.
func Arrival[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool,
	arrival map[identity.ID]int, k int) map[identity.ID]bool {
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
		pid := id(p)
		if a := arrival[pid]; a != 0 && !in[pid] && len(nodes) < MaxMatched {
			in[pid] = true
			nodes = append(nodes, node{id: pid, at: 2 * max(a, -a)})
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
		nodes[i].draw = Draw(cid, nodes[i].id)
	}
	picks, limit := Picks(k), Cap(k)
	var chosen []int // the indices j picks
	for j := 1; j < len(nodes); j++ {
		chosen = chosen[:0]
		for len(chosen) < picks {
			best, bestKey := -1, uint64(0)
			for i := range j {
				if nodes[i].deg >= limit || slices.Contains(chosen, i) {
					continue
				}
				if key := Key(nodes[j].draw, nodes[i].draw); best < 0 || key < bestKey {
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
	pairsFirst(peers, id, near, matched)
	return matched
}

// Start is whom a download whose answer has the order of arrival
// connects to at its start: of peers (Arrival's order: close peers,
// pairs, the rest), at most k, leaving out the downloads that are not its
// pairs: those before it have their pairs, those after it pick their own
// (a download that is nobody's pair yet, the crowd's first, starts from
// the origin and complete holders, and the next arrivals pick it).
func Start[P any](peers []P, id func(P) identity.ID, near func(P) bool, paired, downloading map[identity.ID]bool, k int) []P {
	out := make([]P, 0, k)
	for _, p := range peers {
		if len(out) == k {
			break
		}
		if pid := id(p); near(p) || paired[pid] || !downloading[pid] {
			out = append(out, p)
		}
	}
	return out
}

// Later reports whether a download adopts p: one of its pairs (Arrival)
// that arrived after it and is not a source yet (seen). Such a pair dials
// us at its start and its connection carries our requests too
// (peer.WireProto2).
func Later(p identity.ID, paired map[identity.ID]bool, arrival map[identity.ID]int, seen map[identity.ID]bool) bool {
	return !seen[p] && paired[p] && arrival[p] > 0
}
