package sched

import (
	"encoding/binary"
	"hash/fnv"
	"math/bits"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// peerCovers reports whether a usable peer has chunk i or is fetching it,
// or may have it (covered, computed once per Schedule).
func (k *Core) peerCovers(i int) bool { return k.coverAll || k.cover.Has(i) }

// covered computes peerCovers' answers for every chunk (the sources'
// holdings do not change while Schedule runs): a bitmap of the chunks a
// usable peer has or is fetching, and whether one may hold anything: a
// complete peer, or peers not heard from yet (their first Have poll not
// answered; a failure or a busy answer tells nothing they hold either)
// while fewer than half of our partial peers have been heard from. The
// origin asks peerCovers of every chunk on every pick: one pass over the
// sources per chunk cost a crowd's fetcher more than its chunk picks.
//
// The half: a 64 MiB crowd of 50 (16 peers each, every first poll a new
// connection's handshake at both ends and a lookup of the caller) got not
// one chunk, not even from the origin, for its first ~4.5 s on a loaded
// machine, each device waiting for the slowest of its 16 peers' first
// answers. Once half have answered and hold none of a chunk, the origin
// may be asked for it (still only for this device's own chunks: the
// unheard peers keep the download from counting as starved, and the
// origin's budget declines a chunk it handed out already). The wait
// follows the crowd's progress, not a clock. Legacy waits for all.
func (k *Core) covered() {
	if len(k.cover) != (k.c.Chunks+7)/8 {
		k.cover = NewBitmap(k.c.Chunks)
	}
	clear(k.cover)
	k.coverAll, k.unheard = false, false
	heard, unheard := 0, 0
	for _, s := range k.srcs {
		if s.origin || s.banned || s.dropped {
			continue
		}
		if s.partial && !s.known && !s.answered {
			unheard++
			continue
		}
		if s.partial {
			heard++
		}
		if s.have == nil || k.coverAll {
			k.coverAll = true
			continue // complete: has everything
		}
		for j := range min(len(k.cover), len(s.have)) {
			k.cover[j] |= s.have[j]
		}
		for j := range min(len(k.cover), len(s.fetching)) {
			k.cover[j] |= s.fetching[j]
		}
	}
	k.unheard = unheard > 0
	if k.unheard && (k.c.Legacy || heard < unheard) {
		k.coverAll = true
	}
}

// eligible reports whether source s may take chunk i now (no attempt running).
func (k *Core) eligible(s *Source, i int, now time.Time) bool {
	if !k.need.Has(i) || k.busy.Has(i) || !s.has(i) {
		return false
	}
	if !s.origin {
		return true
	}
	return k.originMay(i, now)
}

// originMay reports whether the origin may be asked for chunk i: the
// origin is the supplier of last resort, so a chunk goes to it only when
// no reachable peer has it or is getting it, and then either this device
// owns it among its crowd (the crowd splits the origin's chunks), or the
// reachable peers have had nothing for us for two rounds of Have polls
// (the crowd is not bringing it), or a player waits for it. The origin's
// own budget (directory.OriginBudget) has the last word: a chunk it
// declined waits for the time it named.
func (k *Core) originMay(i int, now time.Time) bool {
	if k.c.Legacy {
		return k.originMayLegacy(i, now)
	}
	if d := k.declined[i]; !d.IsZero() && now.Before(d) {
		return false
	}
	if k.prio >= 0 && i >= k.prio && i < k.prio+2*k.c.PerSource && now.Sub(k.since[i]) >= k.c.OriginDelay/4 {
		return true // a player is waiting for it
	}
	if k.peerCovers(i) {
		return false // a peer has it or is getting it: wait for it
	}
	if k.starved(now) {
		return true // the crowd we reach is not bringing it
	}
	if k.c.Demand != nil && len(k.crowd) == 0 && k.activePeers() && !k.c.Demand() {
		// Peers download it too, but nobody takes from us: leave the origin
		// to those others take from. Not with a crowd (SetCrowd): its
		// members count us as an owner, so our share would be a hole.
		return false
	}
	return k.mineChunk(i)
}

// originMayLegacy is the rule before issue 13: after fixed multiples of
// OriginDelay the origin is asked regardless of the crowd.
func (k *Core) originMayLegacy(i int, now time.Time) bool {
	delay := k.c.OriginDelay
	if k.prio >= 0 && i >= k.prio && i < k.prio+2*k.c.PerSource && now.Sub(k.since[i]) >= delay/4 {
		return true // a player is waiting for it
	}
	if now.Sub(k.lastPeerChunk) >= 3*delay && now.Sub(k.since[i]) >= 3*delay {
		return true // the peers are stalled
	}
	if k.peerCovers(i) {
		return false // a peer has it or is getting it: wait for it
	}
	if now.Sub(k.since[i]) >= 6*delay {
		return true // safety net: its owner never fetched it
	}
	if k.c.Demand != nil && len(k.crowd) == 0 && k.activePeers() && !k.c.Demand() {
		return false
	}
	return k.mineChunk(i)
}

// starved reports whether the reachable peers have had nothing this
// download needs for at least two Have-poll rounds (observeStarvation
// keeps starvedSince). A Have round is the slowest of our polls.
func (k *Core) starved(now time.Time) bool {
	return !k.starvedSince.IsZero() && now.Sub(k.starvedSince) >= 2*k.slowestPoll()
}

// slowestPoll is the longest poll interval among the live partial peers:
// two of those rounds let every peer tell us what it got.
func (k *Core) slowestPoll() time.Duration {
	d := k.c.HaveInterval
	for _, s := range k.srcs {
		if s.partial && !s.banned && !s.dropped {
			d = max(d, k.pollEvery(s))
		}
	}
	return d
}

// observeStarvation notes whether any peer can give us something now: a
// request to a peer in flight, or a needed chunk a live peer holds, is
// fetching, or may hold (its first Have poll not answered yet), using
// covered's bitmap; revived reports that starving revived dropped peers.
func (k *Core) observeStarvation(now time.Time) (revived bool) {
	fed := k.unheard // a peer not heard from yet may hold anything, until its first poll is answered
	for _, s := range k.srcs {
		if fed {
			break
		}
		fed = !s.origin && !s.banned && !s.dropped && s.inflight > 0
	}
	for j := range k.need {
		if fed {
			break
		}
		c := k.cover[j]
		if k.coverAll {
			c = 0xff
		}
		fed = k.need[j]&c != 0
	}
	switch {
	case fed:
		k.starvedSince = time.Time{}
	case k.starvedSince.IsZero():
		k.starvedSince = now
	case !k.c.Legacy && k.starved(now):
		return k.revive(now)
	}
	return false
}

// revive gives the peers dropped for errors (not banned) another chance
// before a starved download turns to the origin for chunks it does not
// own: on a loaded machine or a congested link a crowd member's errors
// are often passing, and the origin is the last resort. One more failure
// drops a revived peer again (no second fault is reported). revived
// reports whether one was.
func (k *Core) revive(now time.Time) (revived bool) {
	for _, s := range k.srcs {
		if s.origin || s.banned || !s.dropped || now.Sub(s.droppedAt) < 2*k.c.HaveInterval {
			continue
		}
		revived = true
		s.dropped, s.fails, s.until = false, k.c.MaxFailures-1, now
		s.polling, s.lastPoll = false, time.Time{}
		k.mine = nil // the crowd changed
		k.starvedSince = now
	}
	return revived
}

// availability counts, per chunk this download still needs, the live
// peers that hold it (pick reads no other: the chunks it weighs are
// needed). Counting the chunks we hold too cost a crowd's fetcher more
// than its picks, most of all near the end of a download.
func (k *Core) availability() []int {
	if cap(k.avail) < k.c.Chunks {
		k.avail = make([]int, k.c.Chunks)
	}
	av := k.avail[:k.c.Chunks]
	clear(av)
	for _, s := range k.srcs {
		if s.origin || s.banned || s.dropped {
			continue
		}
		for j, b := range k.need { // the set bits only (a bitmap's bits past the last chunk are not chunks)
			if s.have != nil { // nil: complete
				if j >= len(s.have) {
					break
				}
				b &= s.have[j]
			}
			for ; b != 0; b &= b - 1 {
				if i := j*8 + bits.TrailingZeros8(b); i < len(av) {
					av[i]++
				}
			}
		}
	}
	return av
}

// pick chooses the next chunk for s: the player's window first; then the
// rarest among our peers of those s may give (so a crowd spreads every
// chunk, and none hangs on one holder), ties broken onward from a random
// start (the origin's start is random per pick).
func (k *Core) pick(s *Source, now time.Time) int {
	n := k.c.Chunks
	if k.prio >= 0 {
		for i := k.prio; i < n && i < k.prio+4*k.c.PerSource; i++ {
			if k.eligible(s, i, now) {
				return i
			}
		}
	}
	start := k.start
	if k.prio >= 0 {
		start = k.prio
	} else if s.origin {
		start = k.rnd.IntN(n)
	}
	if k.prio >= 0 || s.origin || k.avail == nil || k.c.Legacy {
		for j := 0; j < n; j++ {
			i := (start + j) % n
			if k.eligible(s, i, now) {
				return i
			}
		}
		return -1
	}
	// A peer may take a chunk needed, not in flight, that it holds: look
	// at those bits only, a byte at a time, onward from start.
	best, bestAv := -1, 0
	scan := func(lo, hi int) {
		for i := lo; i < hi; {
			b := k.need[i/8] &^ k.busy[i/8]
			if s.have != nil {
				if i/8 >= len(s.have) {
					return // a bitmap of another length holds nothing further
				}
				b &= s.have[i/8]
			}
			if b >>= i % 8; b == 0 {
				i = (i/8 + 1) * 8
				continue
			}
			if i += bits.TrailingZeros8(b); i >= hi {
				return
			}
			if best < 0 || k.avail[i] < bestAv {
				best, bestAv = i, k.avail[i]
			}
			i++
		}
	}
	scan(start, n)
	scan(0, start)
	return best
}

// steal finds a chunk in flight elsewhere that is taking too long and
// that s could deliver instead (at most two attempts per chunk). The
// origin steals only for a player waiting.
func (k *Core) steal(s *Source, now time.Time) int {
	best, bestAge := -1, time.Duration(0)
	for _, i := range k.stale {
		as := k.attempts[i]
		if len(as) != 1 || as[0].Src == s || !s.has(i) {
			continue
		}
		if s.origin && k.c.Legacy && k.peerCovers(i) && now.Sub(k.since[i]) < k.c.OriginDelay {
			continue
		}
		if s.origin && !k.c.Legacy && !(k.prio >= 0 && i >= k.prio && i < k.prio+2*k.c.PerSource) {
			continue
		}
		a := as[0]
		size := k.c.ChunkSize(i)
		age := now.Sub(a.Start)
		limit := max(k.c.StealAfter, 3*a.Src.expected(size))
		if age < limit {
			continue
		}
		// Do not steal for a source expected to be even slower.
		if e := s.expected(size); e > 0 && e > limit*2 {
			continue
		}
		if age > bestAge || (age == bestAge && i < best) {
			best, bestAge = i, age
		}
	}
	return best
}

// stealable lists, once per Schedule, the chunks steal may consider: one
// attempt running for StealAfter or longer (the least a steal waits).
// Attempts Schedule launches are younger; steal checks again that a
// chunk still has one attempt.
func (k *Core) stealable(now time.Time) {
	k.stale = k.stale[:0]
	for i, as := range k.attempts {
		if len(as) == 1 && now.Sub(as[0].Start) >= k.c.StealAfter {
			k.stale = append(k.stale, i)
		}
	}
}

// activePeers reports whether a usable peer downloads this content too.
func (k *Core) activePeers() bool {
	for _, s := range k.srcs {
		if !s.origin && !s.banned && !s.dropped && s.active {
			return true
		}
	}
	return false
}

// mineChunk reports whether this device is the one of its crowd that
// should fetch chunk i from the origin: rendezvous hashing over itself,
// its active peers and the crowd, so devices that see the same crowd
// split the origin's chunks instead of each taking them all.
func (k *Core) mineChunk(i int) bool {
	if k.c.Self == "" {
		return true
	}
	if k.mine == nil {
		k.mine = make([]int8, k.c.Chunks)
		k.idle = map[identity.ID]bool{}
		for _, s := range k.srcs {
			if !s.origin && (s.banned || s.dropped || (s.known && !s.active)) {
				k.idle[s.id] = true
			}
		}
	}
	if v := k.mine[i]; v != 0 {
		return v == 1
	}
	mine := k.owner(i)
	k.mine[i] = 2
	if mine {
		k.mine[i] = 1
	}
	return mine
}

// owner computes mineChunk's answer.
func (k *Core) owner(i int) bool {
	best := Rendezvous(k.c.Self, i)
	for _, s := range k.srcs {
		if !s.origin && !k.idle[s.id] && s.active && Rendezvous(s.id, i) < best {
			return false
		}
	}
	for _, id := range k.crowd {
		if !k.idle[id] && Rendezvous(id, i) < best {
			return false
		}
	}
	return true
}

// Rendezvous is the hash that splits the origin's chunks: the device whose
// Rendezvous(id, i) is lowest owns chunk i.
func Rendezvous(id identity.ID, i int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h.Write(b[:])
	return h.Sum64()
}
