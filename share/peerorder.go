package share

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// pairOrder sorts peers for self's download of cid by a rank both ends of
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
func pairOrder(cid sealed.ContentID, self identity.ID, peers []Neighbour) {
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
		rs[i] = ranked{pairRank(cid, self, p.ID), i}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return bytes.Compare(a.r[:], b.r[:]) })
	sorted := make([]Neighbour, len(peers))
	for k, r := range rs {
		sorted[k] = peers[r.i]
	}
	copy(peers, sorted)
}

// pairRank is the rank of the pair (a, b) for cid: the same for (b, a).
func pairRank(cid sealed.ContentID, a, b identity.ID) [32]byte {
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

// pairYield is how long a download waits for a peer it picked, one that
// picks it too and whose device ID is the smaller of the two, to connect
// (picksUs), before it connects itself.
const pairYield = 500 * time.Millisecond

// picksUs reports whether peer, downloading cid too and with a device ID
// smaller than self's, most likely picks self among its first k peers:
// self ranks among the k first of peer's pairOrder, as far as self knows
// peer's suppliers (its own, all, with self in place of peer). Two
// devices that pick each other start at about the same moment, and each
// connecting would make two connections (two mutual handshakes) for the
// pair, where one carries both ways (peer.WireProto2): the device with
// the smaller ID connects, the other waits for it a moment (pairYield).
func picksUs(cid sealed.ContentID, self, peer identity.ID, all []Neighbour, k int) bool {
	if peer >= self {
		return false
	}
	mine := pairRank(cid, peer, self)
	ahead := 0
	for _, x := range all {
		if x.ID == peer || x.ID == self {
			continue
		}
		r := pairRank(cid, peer, x.ID)
		if slices.Compare(r[:], mine[:]) < 0 {
			if ahead++; ahead >= k {
				return false
			}
		}
	}
	return true
}
