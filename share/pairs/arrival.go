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

// Cap is the most peers a download takes in its resupply rounds (Room),
// those that dialled it included (2k: what resupply connects back to,
// Server.Pollers).
func Cap(k int) int { return 2 * k }

// PairCap is the most pairs a download is picked into in the arrival
// graph's first pass: one more than its k. At 2k (Cap) the earliest
// devices carried up to 2k pairs and the last k/2, so on uplinks slower
// than the crowd's downlinks a few early devices' upload was shared by
// up to 8 and the rest sat idle: in the simulator (2.5 MB/s up, 12.5
// MB/s down, 20 ms links, 4 seeds a cell, 8 MiB), a crowd all at once
// finished at a median of 5.54 / 5.74 / 5.98 s for N = 10 / 25 / 50
// against 4.52 / 4.40 / 4.59 s at k+1 (p99 6.56 / 6.45 / 7.15 against
// 5.21 / 5.29 / 5.61 s; upload fairness 0.70-0.72 against 0.81-0.86);
// arriving over 10 s, N=50 6.90 s against 4.78 (p99 12.47 against 9.60);
// with 10 % leaving and 30 % free riders, N=50 8.33 against 7.50. On the
// one machine of BenchmarkFlashCrowd, where CPU is what a connection
// costs, it changes nothing but the 64 MiB crowds' connections (N=50:
// 8.75 a device against 8.21). A cap of k made the graph a chain (each
// download picking among the last arrivals): 8 MiB N=50 took twice the
// Have polls there (25 a device against 13) and 10 % more CPU.
func PairCap(k int) int { return k + 1 }

// Arrival returns self's pairs in the arrival pair graph of cid over
// the downloads of peers with a known place in the order of arrival
// (arrival: directory.Supplier.Arrival, negative before self) and puts
// them first, after the close peers (near: kept in front, in their
// order). The graph: in order of arrival, each download picks Picks(k)
// of those before it that have fewer than PairCap(k) pairs, lowest Key
// first. The same for every device that knows the same downloads (each
// device's draw is its Draw), and a device's picks depend only on those
// before it: its first answer (the downloads announced before it) is
// enough to pick, and later answers, which name more, give the same
// picks to everyone before.
func Arrival[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool,
	arrival map[identity.ID]int, k int) map[identity.ID]bool {
	return arrivalGraph(cid, self, peers, id, near, arrival, k, false)
}

// Filled is Arrival with a second pass over the graph: the downloads
// left with fewer than k pairs pair among themselves (see arrivalGraph).
// For a download's resupply rounds once the crowd has stopped growing
// (Growth), not for its start: the pairs the pass adds depend on every
// download's place, so an answer that names fewer (a first answer) gives
// other ones.
func Filled[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool,
	arrival map[identity.ID]int, k int) map[identity.ID]bool {
	return arrivalGraph(cid, self, peers, id, near, arrival, k, true)
}

// Growth follows a forming crowd's order of arrival across a download's
// resupply rounds, for Filled: the second pass pairs the downloads below
// k, and while downloads keep arriving those are mostly the newest, which
// later arrivals will pick anyway; each new arrival changed the pass's
// pairs, and every download dialled its new ones (simulated 8 MiB N=40,
// Poisson over 5 s: 3.67 connections a device against 2.88 with the
// first pass alone). Once an answer ranks as many downloads as the
// round before, the crowd has stopped growing and the downloads still
// below k are its last ones, whose pairs no later arrival adds to (a
// download keeps its rank once complete, so the ranks shrink only when a
// device leaves or drops out of the answer's top slots, and a shrinking
// answer is not taken as settled until it holds still). The zero Growth
// is ready.
type Growth struct{ known int }

// Settled reports whether arrival (a suppliers answer's ranks) ranks as
// many downloads as the last answer given to Settled did.
func (g *Growth) Settled(arrival map[identity.ID]int) bool {
	settled := len(arrival) == g.known
	g.known = len(arrival)
	return settled
}

// arrivalGraph is Arrival, with the second pass if fill. In the first
// pass the last downloads get only their own Picks(k) pairs (nobody
// after them picks them), all among earlier downloads that carry up to
// PairCap(k) (at 2k, on uplinks slower than the crowd's downlinks, they
// shared those peers' upload with up to 2k others and finished last:
// simulated 8 MiB N=50 all at once, 2.5 MB/s up, p99 11.7 s against 6.2 s
// median; the last 15 arrivals at 9.5-11.7 s, the first 25 at
// 4.4-6.3 s; PairCap says what k+1 changed). The second
// pass pairs every download still below k, in order of arrival, with the
// others below k it is not paired with, lowest Key first, until it has k
// or none is left: every device that knows the same downloads computes
// the same pairs, so each is one connection, dialled by the later
// arrival as in the first pass (Later: the earlier one adopts it).
func arrivalGraph[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool,
	arrival map[identity.ID]int, k int, fill bool) map[identity.ID]bool {
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
	picks, limit := Picks(k), PairCap(k)
	var chosen []int // the indices j picks
	var edges [][2]int
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
			edges = append(edges, [2]int{best, j})
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
	if fill {
		edge := make([]bool, len(nodes)*len(nodes)) // edge[i*len+j]: i and j are pairs
		for _, e := range edges {
			edge[e[0]*len(nodes)+e[1]], edge[e[1]*len(nodes)+e[0]] = true, true
		}
		for j := range nodes {
			for nodes[j].deg < k {
				best, bestKey := -1, uint64(0)
				for i := range nodes {
					if i == j || nodes[i].deg >= k || edge[j*len(nodes)+i] {
						continue
					}
					if key := Key(nodes[j].draw, nodes[i].draw); best < 0 || key < bestKey {
						best, bestKey = i, key
					}
				}
				if best < 0 {
					break
				}
				edge[j*len(nodes)+best], edge[best*len(nodes)+j] = true, true
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

// Sampled is whom a download connects to at its start from an answer
// that lists a sample of a crowd bigger than an answer holds
// (directory.MaxSuppliers; each asker gets its own sample, so no two
// devices compute the same pair graph from theirs): of peers (in Order,
// close peers first), at most k, of which at most Picks(k) are downloads
// (close peers and complete holders are taken as they come). The others
// of its k are the downloads that pick it from their own samples: each
// device dials Picks(k), so about as many dial it, and it takes those as
// sources over their connections (Pollers: share.Node.resupply). Dialling
// k from each sample made every such pair one only one end had picked,
// each device opening k connections where k/2 carry the same
// (simulated 8 MiB N=200, all at once: 3.81 connections a device, and
// 2.86 so; BenchmarkFlashCrowd's 3.72, 3.08 so). The devices that dial
// it also join a download's sources beyond its own picks (up to 2k), so
// the crowd's graph is better connected than k picks from each sample
// made it: simulated with 10 % leaving mid-download and 30 % free riders,
// N=1,000: median 9.9 -> 8.1 s, p99 14.9 -> 11.7 s, upload fairness
// 0.70 -> 0.86; N=10,000: median 13.0 -> 9.1 s, p99 19.1 -> 11.4 s,
// fairness 0.58 -> 0.84, origin 1.12 -> 1.09 copies.
func Sampled[P any](peers []P, id func(P) identity.ID, near func(P) bool, downloading map[identity.ID]bool, k int) []P {
	out := make([]P, 0, k)
	dl := 0
	for _, p := range peers {
		if len(out) == k {
			break
		}
		switch {
		case near(p) || !downloading[id(p)]:
			out = append(out, p)
		case dl < Picks(k):
			dl++
			out = append(out, p)
		}
	}
	return out
}

// Answer is what the pairing reads of one suppliers answer
// (directory.Crowd): whether it carries the whole crowd's order of
// arrival (Ordered) or is a sample of a crowd bigger than an answer
// (Full), the order, and the devices it lists downloading the title.
type Answer struct {
	Ordered, Full bool
	Arrival       map[identity.ID]int
	Downloading   map[identity.ID]bool
}

// First is whom a download connects to at its start, of its answer's
// peers (in Order, close peers first), k at most, as share.Node.fetch and
// internal/swarmsim both start: from an answer with the order of arrival,
// its pairs in the Arrival graph and no download that is not one
// (Start); from a sample of a bigger crowd, Sampled's; else its Match
// pairs first, then the rest in order. paired is its pairs (nil from a
// sample: each device there picks from its own).
func First[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool, a Answer, k int) (first []P, paired map[identity.ID]bool) {
	switch {
	case a.Ordered:
		paired = Arrival(cid, self, peers, id, near, a.Arrival, k)
		return Start(peers, id, near, paired, a.Downloading, k), paired
	case a.Full:
		return Sampled(peers, id, near, a.Downloading, k), nil
	}
	paired = Match(cid, self, peers, id, near, a.Downloading, k)
	return peers[:min(len(peers), k)], paired
}
