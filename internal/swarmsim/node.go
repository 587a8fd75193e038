package swarmsim

import (
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/pairs"
	"github.com/kith-media/kith/share/peer/sched"
)

// node is one simulated device: the real sched.Core deciding, the
// simulator doing its I/O.
type node struct {
	s         *sim
	id        identity.ID
	freeRider bool // announces nothing, refuses every request
	stalled   bool // announced, answers every chunk request busy (Config.Stalled)
	flooder   bool // stalled, and asks the origin for the other parts again and again (Config.Flood)
	churner   bool // leaves when it holds leaveAt chunks
	leaveAt   int
	arrive    time.Duration
	arrival   uint32 // the directory's arrival counter (its place in holders, from 1; 0: not announced)

	started, finished, gone bool
	doneAt, goneAt          time.Duration
	announced               bool

	have       sched.Bitmap
	nhave      int
	fromOrigin sched.Bitmap // being fetched from the origin (its /have's second bitmap)
	core       *sched.Core
	seen       map[identity.ID]bool // suppliers connected to (and itself)
	view       sched.CrowdView      // the crowd across suppliers answers (as share.Node)
	added      int
	growth     pairs.Growth  // its crowd's order of arrival across rounds
	rounds     *sched.Rounds // its resupply rounds (as share.Node's)
	full       bool          // its last answer was a sample of a bigger crowd

	uploads   int
	perPeer   map[identity.ID]int
	downFlows int
	upFree    time.Duration // when its uplink is next idle
	downFree  time.Duration
	upBytes   int64
	pollers   map[identity.ID]time.Duration
	held      []*heldPoll // Have polls it holds (peer.Server's awaitWanted)

	pumpQueued bool
	// contended: the tick found ContendedAfter slots-full answers since
	// the round at contendedAt (sched.Core.Contended) and gave a round.
	contended   bool
	contendedAt int
	tickAt      time.Duration // the next tick pump, 0 when none
}

// online reports whether the directory lists n as a holder now.
func (n *node) online() bool {
	return n.announced && (!n.gone || n.s.now-n.goneAt < n.s.c.AnnounceTTL)
}

func (n *node) start() {
	s := n.s
	n.started = true
	s.downloading++
	n.seen = map[identity.ID]bool{n.id: true}
	n.view = sched.CrowdView{Memory: sched.CrowdMemoryRounds * s.c.ResupplyInterval}
	if !n.freeRider {
		n.announced = true
		s.holders = append(s.holders, n)
		n.arrival = uint32(len(s.holders))
	}
	ans := n.suppliers(true)
	k := sched.Peers(s.c.MaxPeers, s.chunks)
	peers := ans.peers
	// share.Node.fetch's start (pairs.First; the later pairs it would
	// wait a moment for, pairYield, are taken at once).
	if s.c.Legacy {
		peers = peers[:min(len(peers), k)]
	} else {
		peers, _ = pairs.First(contentID, n.id, peers, nodeID, notNear,
			pairs.Answer{Ordered: ans.Ordered(), Full: ans.Full, Arrival: ans.Arrival, Downloading: ans.downloading}, k)
		if ans.Ordered() {
			s.orderedStarts++
		}
	}
	n.core = sched.New(sched.Config{Chunks: s.chunks, ChunkSize: s.chunkSize, Self: n.id, Legacy: s.c.Legacy,
		OriginInFlight: s.c.OriginInFlight, HaveInterval: s.c.HaveInterval, HaveWait: s.c.HaveWait,
		Rand: rand.New(rand.NewPCG(s.rnd.Uint64(), s.rnd.Uint64())), Logger: discard})
	for _, p := range peers {
		n.connect(p)
	}
	n.core.Add(originID, true, false, nil)
	n.core.SetCrowd(ans.crowd)
	n.core.Begin(sched.NewBitmap(s.chunks), s.t())
	n.pump()
	n.rounds = sched.NewRounds(s.t(), ans.Full && !s.c.Legacy, s.c.ResupplyInterval)
	n.full = ans.Full
	s.at(n.wait(), n.tick)
	if n.flooder && n.announced {
		s.at(time.Second, n.flood)
	}
}

// tick is share.Node.resupply's wait between rounds (sched.Rounds): a
// round by the clock, or at once for a hungry download (Legacy: by the
// clock only, the hungry rule after two rounds).
func (n *node) tick() {
	s := n.s
	if n.finished || n.gone {
		return
	}
	unfed := n.core.Unfed(s.t())
	if s.c.Legacy {
		unfed = 0 // no hungry rounds
	}
	// The contended rule (share.Node.resupply): ContendedAfter slots-full
	// answers since the last round give a round at once. The live peers
	// are counted only then, as share.Node does, not at every tick.
	n.contended = !s.c.Legacy && n.core.Contended()-n.contendedAt >= sched.ContendedAfter && n.roomLeft()
	due, early := n.rounds.Due(s.t(), unfed)
	if !due && n.contended && n.rounds.Early(s.t()) {
		due, early = true, true
		s.contendedRounds++
	}
	if due {
		if early {
			s.earlyRounds++
		}
		n.resupply()
	} else if n.full && !s.c.Legacy {
		n.countLive()
		before := s.adopted
		n.adoptPollers(n.pollersNow(), sched.Peers(s.c.MaxPeers, s.chunks))
		s.adoptedBetween += s.adopted - before
		n.poke()
	}
	s.at(n.wait(), n.tick)
}

// wait is how long tick sleeps: sched.Rounds.Wait (Legacy: until the
// clock's round, with no hungry rounds to look for).
func (n *node) wait() time.Duration {
	if n.s.c.Legacy {
		return n.rounds.Next().Sub(n.s.t())
	}
	return n.rounds.Wait(n.s.t())
}

// answer is what share.Node.supplied reads of a suppliers answer: the
// crowd (directory.ReadCrowd), the peers to pick from and the view of the
// crowd across answers.
type answer struct {
	directory.Crowd
	peers       []*node // in pairs.Order (shuffled for Legacy)
	crowd       []identity.ID
	downloading map[identity.ID]bool // Crowd.Downloads
}

// nodeID and notNear read a node for package pairs (no LAN in the simulation).
func nodeID(p *node) identity.ID { return p.id }
func notNear(*node) bool         { return false }

// suppliers is the directory's answer for n: the peers (as share.Node
// orders them, when it picks), the crowd (incomplete holders, across
// answers as share.Node sees it), and the order of arrival of those
// listed (directory.ArrivalRanks over the announcements' order, when the
// directory knows the whole crowd: at most maxCandidates holders).
func (n *node) suppliers(pick bool) answer {
	s := n.s
	const maxCandidates = 1000 // directory's
	var cands []directory.Candidate
	salt := s.rnd.Uint64()
	h := s.holders
	start := 0
	if !s.c.Legacy && len(h) > 0 {
		start = int(salt % uint64(len(h)))
	}
	for j := 0; j < len(h) && len(cands) < maxCandidates; j++ {
		p := h[(start+j)%len(h)]
		if p == n || !p.online() {
			continue
		}
		cands = append(cands, directory.Candidate{Device: p.id, Complete: p.finished, Load: p.uploads, Addrs: []string{"sim:1"}})
	}
	var sups []directory.Supplier
	if s.c.Legacy {
		sups = legacyRank(cands, s.c.MaxSuppliers)
	} else {
		sups = directory.RankSuppliers(cands, &directory.Device{ID: n.id}, "", nil, s.c.MaxSuppliers, salt)
		if len(h) <= maxCandidates && n.arrival != 0 && !s.c.V1Directory { // the directory's lookup: no order for a sample
			arrivals := make([]uint32, len(sups)) // the announcements' places
			for i, sp := range sups {
				arrivals[i] = s.byID[sp.Device].arrival
			}
			directory.ArrivalRanks(sups, arrivals, n.arrival)
		}
	}
	a := answer{Crowd: directory.ReadCrowd(sups, n.id, s.c.MaxSuppliers)}
	a.downloading = a.Downloads()
	a.crowd = a.Downloading
	if pick {
		for _, sp := range sups {
			a.peers = append(a.peers, s.byID[sp.Device])
		}
	}
	if s.c.Legacy {
		s.rnd.Shuffle(len(a.peers), func(i, j int) { a.peers[i], a.peers[j] = a.peers[j], a.peers[i] })
	} else {
		pairs.Order(contentID, n.id, a.peers, nodeID)
		a.crowd = n.view.Update(s.t(), a.Downloading, a.Complete, a.Full) // share.Node's view of the crowd across answers
	}
	return a
}

// legacyRank is the directory's ranking before issue 13 (no LAN or RTT
// in the simulation): load, then complete before partial, then device ID;
// every asker gets the same top.
func legacyRank(cands []directory.Candidate, limit int) []directory.Supplier {
	slices.SortFunc(cands, func(a, b directory.Candidate) int {
		switch {
		case a.Load != b.Load:
			return a.Load - b.Load
		case a.Complete != b.Complete:
			if a.Complete {
				return -1
			}
			return 1
		case a.Device < b.Device:
			return -1
		}
		return 1
	})
	var out []directory.Supplier
	for _, c := range cands[:min(len(cands), limit)] {
		out = append(out, directory.Supplier{Device: c.Device, Complete: c.Complete, Load: c.Load})
	}
	return out
}

// resupply is share.Node.resupply: re-ask the directory, refresh the
// crowd, connect to new suppliers (up to MaxPeers live ones), to crowd
// members that poll us (up to twice MaxPeers) and, from an answer with
// the order of arrival, adopt the later downloads that picked us
// (pairs.Later) and dial no download that is not our pair unless it
// polls us or our pairs failed us; and one more peer a round to a
// download its peers have not fed for sched.HungryAfter (the hungry rule).
// tick calls it.
func (n *node) resupply() {
	s := n.s
	if n.finished || n.gone {
		return
	}
	n.countLive()
	limit := sched.Peers(s.c.MaxPeers, s.chunks)
	// The hungry rule: a download its peers have not fed for
	// sched.HungryAfter (sched.Core.Unfed) takes one more peer a round,
	// whatever its room.
	unfed := n.core.Unfed(s.t())
	after := sched.HungryAfter
	if s.c.Legacy {
		after = 2 * s.c.ResupplyInterval
	}
	pollers := n.pollersNow()
	n.contendedAt = n.core.Contended()
	room := pairs.NewRoom(limit, n.added, unfed >= after || n.contended, n.seen, pollers)
	s.noteUnfed(unfed, room.Hungry)
	pick := room.Wants()
	ans := n.suppliers(pick)
	n.full = ans.Full
	n.core.SetCrowd(ans.crowd)
	if !pick {
		return
	}
	adopt := pairs.AdoptNone
	if s.c.Legacy {
		room.Downloading = ans.downloading
	} else {
		adopt = pairs.Round(room, contentID, n.id, ans.peers, nodeID, notNear,
			pairs.Answer{Ordered: ans.Ordered(), Full: ans.Full, Arrival: ans.Arrival, Downloading: ans.downloading}, &n.growth)
	}
	switch adopt {
	case pairs.AdoptLater:
		for _, p := range ans.peers {
			if pairs.Later(p.id, room.Paired, ans.Arrival, n.seen) {
				n.connect(p)
				s.adopted++
			}
		}
	case pairs.AdoptDialled:
		n.adoptPollers(pollers, limit)
	}
	room.Added = n.added // with the adopted
	for _, p := range ans.peers {
		take, extra := room.Take(p.id)
		if !take {
			continue
		}
		if extra {
			s.hungryPeers++
		}
		n.connect(p)
		room.Took(extra)
	}
	n.poke()
}

// roomLeft counts the live peers (countLive) and reports whether the
// download has fewer than pairs.Cap of them.
func (n *node) roomLeft() bool {
	n.countLive()
	return n.added < pairs.Cap(sched.Peers(n.s.c.MaxPeers, n.s.chunks))
}

// countLive sets added to the live peers (dropped ones leave room), as
// share.Node counts them.
func (n *node) countLive() {
	n.added = 0
	for _, st := range n.core.Stats(n.s.t()) {
		if !st.Origin && st.State != "dropped" && st.State != "banned" {
			n.added++
		}
	}
}

// pollersNow is the devices that polled us in the last two rounds, or
// hold a poll of ours now (share.Node.pollers).
func (n *node) pollersNow() map[identity.ID]bool {
	s := n.s
	pollers := map[identity.ID]bool{}
	for id, polled := range n.pollers {
		if s.now-polled < 2*s.c.ResupplyInterval {
			pollers[id] = true
		}
	}
	for _, h := range n.held {
		pollers[h.n.id] = true
	}
	return pollers
}

// adoptPollers is share.Node.adoptDialled: the pollers (connected to us)
// become sources, up to twice MaxPeers, in ID order.
func (n *node) adoptPollers(pollers map[identity.ID]bool, limit int) {
	s := n.s
	for _, id := range slices.Sorted(maps.Keys(pollers)) {
		if n.added >= pairs.Cap(limit) {
			break
		}
		if p := s.byID[id]; !n.seen[id] && p != nil && !p.gone {
			n.connect(p)
			s.adopted++
		}
	}
}

// connect takes p as a source; a pair whose other end took us already
// is one connection (peer.WireProto2 carries both ways).
func (n *node) connect(p *node) {
	n.seen[p.id] = true
	n.added++
	n.core.Add(p.id, false, true, p)
	n.s.pair(n, p)
}

// poke runs the fetcher loop soon (once however many events ask).
func (n *node) poke() {
	if n.pumpQueued || n.finished || n.gone {
		return
	}
	n.pumpQueued = true
	n.s.at(0, func() { n.pumpQueued = false; n.pump() })
}

// pump is one turn of peer.Fetcher.Run's loop: Schedule, then polls.
func (n *node) pump() {
	s := n.s
	if n.finished || n.gone {
		return
	}
	now := s.t()
	launch, alive := n.core.Schedule(now)
	if !alive {
		n.leave() // no source left: it gives up
		return
	}
	for _, a := range launch {
		n.request(a)
	}
	for _, src := range n.core.Polls(now) {
		n.poll(src)
	}
	if n.tickAt <= s.now { // the fetcher's 100 ms ticker
		n.tickAt = s.now + 100*time.Millisecond
		s.at(100*time.Millisecond, func() {
			n.tickAt = 0
			n.pump()
		})
	}
}

// poll asks a peer for its /have; with the core's Want, the peer holds
// the poll until it has one of those chunks, is complete, or HaveWait ran
// out (peer.Server's held polls).
func (n *node) poll(src *sched.Source) {
	s := n.s
	p := src.Ref.(*node)
	want := n.core.Want(src)
	s.polls++
	s.at(s.c.Latency, func() {
		if p.gone || !p.started || p.freeRider {
			s.at(s.c.Latency, func() {
				if !n.gone {
					fl := n.core.HaveResult(src, sched.HaveInfo{}, sched.Outcome{Kind: sched.Refused}, s.t())
					_ = fl
					n.poke()
				}
			})
			return
		}
		p.pollers[n.id] = s.now
		if want != nil && !p.finished && !intersects(p.have, want) {
			h := &heldPoll{n: n, src: src, want: want}
			p.held = append(p.held, h)
			s.at(n.core.Config().HaveWait, func() { p.answer(h) })
			return
		}
		p.answer(&heldPoll{n: n, src: src})
	})
}

// heldPoll is a Have poll a node holds.
type heldPoll struct {
	n        *node // the poller
	src      *sched.Source
	want     sched.Bitmap
	answered bool
}

// answer sends h its /have answer now (once).
func (p *node) answer(h *heldPoll) {
	s, n := p.s, h.n
	if h.answered {
		return
	}
	h.answered = true
	p.held = slices.DeleteFunc(p.held, func(x *heldPoll) bool { return x == h })
	if p.gone {
		s.at(s.c.Latency, func() {
			if !n.gone {
				n.core.HaveResult(h.src, sched.HaveInfo{}, sched.Outcome{Kind: sched.Failed}, s.t())
				n.poke()
			}
		})
		return
	}
	p.pollers[n.id] = s.now
	info := sched.HaveInfo{Have: slices.Clone(p.have), Fetching: slices.Clone(p.fromOrigin),
		Complete: p.finished, Downloading: !p.finished, Holds: !s.c.Legacy}
	s.at(s.c.Latency, func() {
		if !n.gone {
			n.core.HaveResult(h.src, info, sched.Outcome{}, s.t())
			n.poke()
		}
	})
}

// gained answers the polls p holds that wanted chunk i (every one when p
// completed or left).
func (p *node) gained(i int) {
	for _, h := range slices.Clone(p.held) {
		if p.finished || p.gone || h.want.Has(i) {
			p.answer(h)
		}
	}
}

// holds reports whether n holds a poll of device id now.
func (n *node) holds(id identity.ID) bool {
	for _, h := range n.held {
		if h.n.id == id {
			return true
		}
	}
	return false
}

// intersects reports whether a and b share a chunk.
func intersects(a, b sched.Bitmap) bool {
	for i := range min(len(a), len(b)) {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

// leave takes n out of the crowd now. Its holding is gone from the
// directory at once (holds), as a device that stops sharing announces
// (or withdraws), and the origin budget is told so (Announced).
func (n *node) leave() {
	s := n.s
	if n.started && !n.finished && !n.gone {
		s.downloading--
	}
	n.gone, n.goneAt = true, s.now
	if s.budget != nil {
		s.budget.Announced(n.id, nil, s.t())
	}
}
