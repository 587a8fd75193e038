package pairs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Order sorts peers for self's download of cid by a rank both ends of
// each pair compute alike: the SHA-256 of the content ID and the two device
// IDs (the smaller first). Each device of a crowd connects to the first
// MaxPeers of its order, so when A picks B, B's order most likely has A
// near the front too: the two download from each other over the
// connections each opens, instead of A downloading from B while B
// downloads from others and connects back to A later (Server.Pollers) —
// a second mutual handshake for the pair. A shuffle picked each peer at
// random: at 64 MiB, 50 devices opened 25.8 connections each for 16
// peers, 10 of them connect-backs. The rank depends on the content, so
// different titles make different peer graphs, and is as spread as a
// shuffle over the devices of a crowd. Unlike a shuffle it is predictable:
// an enrolled device that holds the content can make keys until one ranks
// near the front of a given peer's order, which buys it one of that
// peer's MaxPeers slots; its chunks are verified like anyone's, and a
// peer that gives nothing is dropped and replaced (Node.resupply).
func Order[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID) {
	if len(peers) < 2 {
		return
	}
	// Ranked once each, beside their peer: a big crowd's device orders up
	// to directory.MaxSuppliers peers every resupply round.
	type ranked struct {
		r [32]byte
		i int
	}
	rs := make([]ranked, len(peers))
	for i, p := range peers {
		rs[i] = ranked{Rank(cid, self, id(p)), i}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return bytes.Compare(a.r[:], b.r[:]) })
	sorted := make([]P, len(peers))
	for k, r := range rs {
		sorted[k] = peers[r.i]
	}
	copy(peers, sorted)
}

// Rank is the rank of the pair (a, b) for cid: the same for (b, a).
func Rank(cid sealed.ContentID, a, b identity.ID) [32]byte {
	if b < a {
		a, b = b, a
	}
	// Hashed from one buffer on the stack (two IDs of identity.IDLen and
	// the content fit): converting each ID to bytes for a hash.Hash
	// allocated, 50 times a round for a big crowd's device.
	var buf [256]byte
	in := append(append(append(append(buf[:0], cid[:]...), a...), 0), b...)
	return sha256.Sum256(in)
}

// MaxMatched bounds the devices Match and Arrival pair up (the directory
// names at most directory.MaxSuppliers): Match's work grows with their
// square.
const MaxMatched = 64

// Match puts first, after the close peers (near: kept in front, in their
// order), the peers self is paired with in the crowd's pair graph for
// cid, and returns them. The graph is the same for every device that
// knows the same crowd: among self and the peers downloading cid
// (downloading; a complete holder picks nobody), every pair taken in Key
// order and kept while neither end has k pairs yet. Each device then
// connects to its pairs first, and its pairs to it: a pair is one
// connection carrying both ways (peer.WireProto2), one mutual handshake,
// and a crowd whose devices each take k peers opens about k/2 connections
// a device. Each device taking the first k of its own Order (as before)
// paired A with B while B's first k left A out, then A's connection was
// one B did not need for its own picks: a crowd of 10 (k=4) opened 2.7
// connections a device, of 50 about 3.1, all distinct pairs (a probe
// counted none dialled twice). A device left with fewer than k pairs (its
// candidates' slots went to better-ranked pairs) takes the rest in Order
// as before. Older versions pick by Order alone: with them a pair is as
// likely mutual as before. Only for a suppliers answer that lists the
// whole crowd: each device of a bigger crowd gets its own sample, and
// picks the first of its Order (PicksUs).
func Match[P any](cid sealed.ContentID, self identity.ID, peers []P, id func(P) identity.ID, near func(P) bool,
	downloading map[identity.ID]bool, k int) map[identity.ID]bool {
	ids := []identity.ID{self}
	in := map[identity.ID]bool{self: true}
	for _, p := range peers {
		if pid := id(p); !near(p) && downloading[pid] && !in[pid] && len(ids) < MaxMatched {
			in[pid] = true
			ids = append(ids, pid)
		}
	}
	matched := map[identity.ID]bool{}
	if len(ids) < 2 || k <= 0 {
		return matched
	}
	// One draw per device and a cheap symmetric mix per pair: ranking
	// each of the up to 1,275 pairs of a full answer by Rank (a SHA-256
	// each) and sorting them cost 0.6-1.3 ms a call at load, half a
	// handshake. Edges are packed as the pair's key (high bits) and the
	// two indices (6 bits each, MaxMatched = 64) and sorted as integers.
	draws := make([]uint64, len(ids))
	for i, id := range ids {
		draws[i] = Draw(cid, id)
	}
	es := make([]uint64, 0, len(ids)*(len(ids)-1)/2)
	for a := range ids {
		for b := a + 1; b < len(ids); b++ {
			es = append(es, Key(draws[a], draws[b])&^0xfff|uint64(a)<<6|uint64(b))
		}
	}
	slices.Sort(es)
	deg := make([]int, len(ids))
	for _, e := range es {
		a, b := int(e>>6&63), int(e&63)
		if deg[a] >= k || deg[b] >= k {
			continue
		}
		deg[a]++
		deg[b]++
		if a == 0 { // self is ids[0], always the smaller index
			matched[ids[b]] = true
		}
		if deg[0] >= k {
			break // the rest cannot pair self
		}
	}
	pairsFirst(peers, id, near, matched)
	return matched
}

// pairsFirst sorts peers stably: the close ones, then matched, then the
// rest.
func pairsFirst[P any](peers []P, id func(P) identity.ID, near func(P) bool, matched map[identity.ID]bool) {
	rank := func(p P) int {
		switch {
		case near(p):
			return 0
		case matched[id(p)]:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(peers, func(x, y P) int { return rank(x) - rank(y) })
}

// PicksUs reports whether peer, downloading cid too and with a device ID
// smaller than self's, most likely picks self among its first k peers:
// self ranks among the k first of peer's Order, as far as self knows
// peer's suppliers (its own, all, with self in place of peer). Two
// devices that pick each other start at about the same moment, and each
// connecting would make two connections (two mutual handshakes) for the
// pair, where one carries both ways (peer.WireProto2): the device with
// the smaller ID connects, the other waits for it a moment.
func PicksUs[P any](cid sealed.ContentID, self, peer identity.ID, all []P, id func(P) identity.ID, k int) bool {
	if peer >= self {
		return false
	}
	mine := Rank(cid, peer, self)
	ahead := 0
	for _, x := range all {
		xid := id(x)
		if xid == peer || xid == self {
			continue
		}
		r := Rank(cid, peer, xid)
		if slices.Compare(r[:], mine[:]) < 0 {
			if ahead++; ahead >= k {
				return false
			}
		}
	}
	return true
}

// Draw is id's draw for cid in the pair graphs (Match, Arrival): the
// first 8 bytes of SHA-256 of the content and the ID, as every device of
// this version computes it.
func Draw(cid sealed.ContentID, id identity.ID) uint64 {
	var buf [256]byte
	sum := sha256.Sum256(append(append(buf[:0], cid[:]...), id...))
	return binary.BigEndian.Uint64(sum[:8])
}

// Key ranks a pair in the pair graphs from its ends' draws, the same
// either way round (splitmix64's finalizer over both).
func Key(x, y uint64) uint64 {
	if y < x {
		x, y = y, x
	}
	z := x*0x9e3779b97f4a7c15 + y
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
