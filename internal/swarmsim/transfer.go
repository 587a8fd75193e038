package swarmsim

import (
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/kith-media/kith/share/peer/sched"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// transfer is one chunk request in flight.
type transfer struct {
	n      *node
	a      *sched.Attempt
	from   *node // nil: the origin
	flow   bool  // bandwidth held
	closed bool
	// holds: the link reservations (queue, when its share is through,
	// its length), handed back when the transfer ends early.
	holds []hold
	// carried: the source's Have state its answer carries (a peer
	// server's HaveBitsHeader, set as it starts to answer); nil for the
	// origin and the legacy algorithm.
	carried *sched.HaveInfo
}

type hold struct {
	free     *time.Duration
	end, dur time.Duration
}

// request sends attempt a: the request reaches the source after one
// latency, the source answers (refusal, busy, or the chunk at the rate
// the links allow), the answer arrives one latency later.
func (n *node) request(a *sched.Attempt) {
	s := n.s
	tr := &transfer{n: n, a: a}
	if a.Src.Origin() {
		n.fromOrigin.Set(a.Chunk)
	} else {
		tr.from = a.Src.Ref.(*node)
	}
	a.Cancel = func() { s.at(0, func() { tr.end(sched.Outcome{Kind: sched.Canceled}) }) }
	s.at(a.Timeout, func() { tr.end(sched.Outcome{Kind: sched.Failed}) })
	s.at(s.c.Latency, tr.arrive)
}

// arrive is the request reaching its source.
func (tr *transfer) arrive() {
	s, n, a := tr.n.s, tr.n, tr.a
	if tr.closed {
		return
	}
	size := s.chunkSize(a.Chunk)
	if tr.from == nil {
		if s.budget != nil {
			if ok, retry := s.admit(n, a.Chunk); !ok {
				s.originBusy++
				s.at(s.c.Latency, func() { tr.end(sched.Outcome{Kind: sched.Declined, RetryAfter: retry}) })
				return
			}
		}
		s.originFlows++
		done := tr.occupy(&s.originFree, size, s.c.OriginUp)
		tr.flowing(done)
		return
	}
	var out sched.Kind = sched.OK
	slots := false // Busy for the sender's full upload slots (peer.BusyHeader)
	p := tr.from
	switch {
	case p.gone || !p.started:
		out = sched.Failed // connection refused
	case p.freeRider:
		out = sched.Refused
	case !p.have.Has(a.Chunk):
		out = sched.NotHeld
	case p.stalled:
		out = sched.Busy
	case p.perPeer[n.id] >= s.c.MaxUploadsPerPeer:
		out = sched.Busy
	case p.uploads >= s.c.MaxUploads:
		out, slots = sched.Busy, true
	}
	if out != sched.OK {
		s.at(s.c.Latency, func() { tr.end(sched.Outcome{Kind: out, RetryAfter: 200 * time.Millisecond, Slots: slots}) })
		return
	}
	p.uploads++
	p.perPeer[n.id]++
	if !s.c.Legacy {
		tr.carried = &sched.HaveInfo{Have: slices.Clone(p.have), Fetching: slices.Clone(p.fromOrigin),
			Complete: p.finished, Downloading: !p.finished}
	}
	tr.flowing(tr.occupy(&p.upFree, size, s.c.Up))
}

// occupy queues size bytes on a sender's uplink (free: when it is next
// idle) and on the shared cap, each a FIFO at its own rate, and returns
// when the last of them is through.
func (tr *transfer) occupy(free *time.Duration, size int64, rate float64) time.Duration {
	s := tr.n.s
	done := tr.through(free, size, rate)
	if s.c.Shared > 0 {
		done = max(done, tr.through(&s.sharedFree, size, s.c.Shared/(1+s.c.Contention*float64(s.downloading))))
	}
	return done
}

func (tr *transfer) through(f *time.Duration, size int64, rate float64) time.Duration {
	d := time.Duration(float64(size) / rate * float64(time.Second))
	*f = max(*f, tr.n.s.now) + d
	tr.holds = append(tr.holds, hold{free: f, end: *f, dur: d})
	return *f
}

// flowing holds the transfer's slots until done (plus the answer's
// latency), also queuing it on the receiver's downlink.
func (tr *transfer) flowing(done time.Duration) {
	s, n := tr.n.s, tr.n
	size := s.chunkSize(tr.a.Chunk)
	done = max(done, tr.through(&n.downFree, size, s.c.Down))
	n.downFlows++
	s.flows++
	tr.flow = true
	s.at(done-s.now+s.c.Latency, func() {
		if p := tr.from; p != nil && p.gone {
			tr.end(sched.Outcome{Kind: sched.Failed}) // it left mid-transfer
			return
		}
		tr.end(sched.Outcome{Kind: sched.OK})
	})
}

// release gives the transfer's bandwidth back.
func (tr *transfer) release() {
	if !tr.flow {
		return
	}
	tr.flow = false
	s, n := tr.n.s, tr.n
	for _, h := range tr.holds { // a transfer cut short hands back what it did not use
		if left := min(h.dur, h.end-s.now); left > 0 {
			*h.free = max(s.now, *h.free-left)
		}
	}
	n.downFlows--
	s.flows--
	if tr.from == nil {
		s.originFlows--
	} else {
		p := tr.from
		p.uploads--
		p.perPeer[n.id]--
	}
}

// end delivers the transfer's outcome to the fetcher, once.
func (tr *transfer) end(out sched.Outcome) {
	if tr.closed {
		return
	}
	tr.closed = true
	tr.release()
	s, n, a := tr.n.s, tr.n, tr.a
	if tr.from == nil {
		n.fromOrigin.Clear(a.Chunk)
	}
	if n.gone {
		return
	}
	if out.Kind == sched.OK {
		if tr.from == nil {
			s.originBytes += s.chunkSize(a.Chunk)
		} else {
			tr.from.upBytes += s.chunkSize(a.Chunk)
			if s.c.UseBin > 0 {
				h := tr.holds[0] // the sender's uplink (occupy's first)
				s.uploaded(s.chunkSize(a.Chunk), h.end-h.dur, h.end)
			}
		}
	}
	s.outcomes[out.Kind]++
	if out.Kind == sched.OK && tr.carried != nil { // as peer.Fetcher.handle: the carried state, then the result
		n.core.Carried(a.Src, *tr.carried, s.t())
	}
	done, others, _ := n.core.Result(a, out, s.t())
	for _, x := range others {
		x.Cancel()
	}
	if done {
		n.have.Set(a.Chunk)
		n.nhave++
		switch {
		case n.churner && n.nhave >= n.leaveAt:
			n.leave()
			n.gained(a.Chunk)
			return
		case n.nhave == s.chunks:
			n.finished, n.doneAt = true, s.now
			s.downloading--
			n.gained(a.Chunk)
			return
		}
		n.gained(a.Chunk)
	}
	n.poke()
}

// admit asks the directory's origin budget for n's read of chunk i.
func (s *sim) admit(n *node, i int) (bool, time.Duration) {
	others, seeded, crowd := false, false, 0
	for _, h := range s.holders {
		if h != n && h.online() {
			others, seeded = true, seeded || h.finished
			crowd++
		}
	}
	holds := func(id identityID) bool { h := s.byID[id]; return h != nil && h.online() && !h.gone }
	return s.budget.Admit(contentID, s.c.Size, int64(i)*s.c.ChunkSize, s.chunkSize(i), n.id, others, seeded, n.announced && !n.gone, crowd, holds, s.t())
}

// floodEvery is how often a flooding device (Config.Flood) asks.
const floodEvery = 200 * time.Millisecond

// flood is a flooding device asking the origin for every part it did not
// get from it, outside its fetcher: what is refused raises those parts'
// refusal counts, what is given counts in the origin's bytes (and the
// part is one more it holds back).
func (n *node) flood() {
	s := n.s
	if n.gone || s.budget == nil {
		return
	}
	for i := range s.chunks {
		if n.fromOrigin.Has(i) {
			continue
		}
		if ok, _ := s.admit(n, i); ok {
			n.fromOrigin.Set(i)
			s.originBytes += s.chunkSize(i)
		} else {
			s.originBusy++
		}
	}
	s.at(floodEvery, n.flood)
}
