package swarmsim

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer/sched"
	"github.com/kith-media/kith/share/sealed"
)

// Config describes one simulated crowd; zero fields take the defaults
// noted (the product's own defaults where it has them).
type Config struct {
	N          int           // devices wanting the title
	Size       int64         // title size in bytes
	ChunkSize  int64         // default sealed.DefaultChunkSize
	Arrivals   time.Duration // 0: all at once; else Poisson arrivals spread over about this long
	Churn      float64       // share of devices that leave mid-download
	FreeRiders float64       // share of devices that never upload
	// Stalled: the first Stalled devices (in ID order: with all arriving
	// at once, the first to ask the origin, so they get its first copies)
	// announce the title, download it and answer Have polls, but answer
	// every chunk request busy: a loaded or sleeping machine, the case
	// the origin budget's stuck rule is for. A free rider among them
	// stays one.
	Stalled int
	// Flood: the first Flood of the stalled devices also ask the origin,
	// every 200 ms from a second after they start, for every part they did
	// not get from it (node.flood): refusals meant to raise the other
	// parts' counts and hide the parts they hold back.
	Flood    int
	Up, Down float64 // per-device bandwidth, bytes/s (default 2.5 MB/s up, 12.5 MB/s down)
	OriginUp float64 // origin store upload, bytes/s (default 125 MB/s)
	// Shared caps all transfers together (bytes/s): one machine's CPU
	// running the whole crowd, as the flash-crowd test harness does. 0: none.
	Shared float64
	// Contention, with Shared: each device downloading at once adds this
	// share to the CPU a byte costs, so the cap is Shared ÷ (1 +
	// Contention × downloading). The harness's devices share one
	// machine's cores and caches, and its CPU a device grows with the
	// crowd (8 MiB, session 23: 31 ms at N=50, 45 at N=200, 60-78 at
	// N=500); fitted on its N=50 and N=500 (0.0023-0.0040), this
	// predicts its N=200 within 8 % (swarm.md in docs/notes/2026-12-01).
	// 0: a byte costs the same however many download.
	Contention float64
	Latency    time.Duration // one way, per link (default 20 ms)

	MaxPeers          int           // default share.DefaultMaxPeers (16)
	MaxSuppliers      int           // default directory.MaxSuppliers (50)
	ResupplyInterval  time.Duration // default share.DefaultResupplyInterval (5 s)
	AnnounceTTL       time.Duration // default directory.DefaultAnnounceTTL (90 s)
	MaxUploads        int           // upload slots a device (default peer.DefaultMaxUploads, 8)
	MaxUploadsPerPeer int           // default 4
	OriginInFlight    int           // default 2
	HaveInterval      time.Duration // default 500 ms
	// HaveWait: how long a peer holds a Have poll until it has a chunk
	// the poller wants (sched.Config.HaveWait: default 4 x HaveInterval;
	// negative: polls are answered at once, as before held polls).
	HaveWait time.Duration

	// Legacy runs the algorithm before issue 13: fixed-delay origin
	// fallbacks in the fetcher (sched.Config.Legacy), the directory's old
	// deterministic ranking (load, complete, ID; the same top for every
	// asker), no origin budget.
	Legacy bool
	// V1Directory: the directory answers the suppliers v1 (no order of
	// arrival: an older directory, or an older client), so a forming
	// crowd pairs by pairs.Match as before session 14's arrival pairs.
	V1Directory bool
	Seed        uint64
	Limit       time.Duration // virtual time limit (default 2 h)
	// UseBin, if set, has Result.UpUse report the sharers' upload use in
	// bins of this length.
	UseBin time.Duration
}

func (c *Config) defaults() {
	setF := func(p *float64, v float64) {
		if *p <= 0 {
			*p = v
		}
	}
	setI := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = sealed.DefaultChunkSize
	}
	setF(&c.Up, 2.5e6)
	setF(&c.Down, 12.5e6)
	setF(&c.OriginUp, 125e6)
	setD(&c.Latency, 20*time.Millisecond)
	setI(&c.MaxPeers, 16)
	setI(&c.MaxSuppliers, directory.MaxSuppliers)
	setD(&c.ResupplyInterval, 5*time.Second)
	setD(&c.AnnounceTTL, directory.DefaultAnnounceTTL)
	setI(&c.MaxUploads, 8)
	setI(&c.MaxUploadsPerPeer, 4)
	setI(&c.OriginInFlight, 2)
	setD(&c.HaveInterval, 500*time.Millisecond)
	setD(&c.Limit, 2*time.Hour)
}

// Result is what one Run measured.
type Result struct {
	Config
	Chunks      int
	OriginBytes int64   // delivered by the origin (as the fetchers' ledgers count it)
	OriginX     float64 // OriginBytes ÷ Size
	OriginBusy  int64   // origin reads answered "busy, ask your peers"
	Finished    int     // devices that completed (churners excluded)
	Left        int     // churners that left
	Stuck       int     // devices neither finished nor left at the end
	// Completion times of the finishers, from each one's arrival; All:
	// from the first arrival to the last completion.
	Median, P99, All time.Duration
	// Bound is the bandwidth bound: the longer of one title over a
	// device's download link and every device's copy over all uploads
	// together (origin and sharers, or the shared cap).
	Bound time.Duration
	// PeerBound is the bandwidth bound of what the peers carried: the
	// bytes the finishers received from others than the origin (their
	// copies less all the origin sent) over every sharer's upload
	// together, or Bound if that is longer. Bound lets the origin upload
	// at full speed throughout; a crowd whose origin keeps to its budget
	// (about one copy) has the peers' uploads carry the rest, and cannot
	// finish sooner than this.
	PeerBound time.Duration
	// UpUse (Config.UseBin) is, for each bin from the first arrival,
	// the bytes the peers uploaded in it (the chunks answered in full,
	// spread over their time on the sender's uplink) over what the
	// sharers there could have (Up each, from its arrival until it
	// left): where the crowd's uploads idle, at its start, middle or end.
	UpUse []float64
	// Fairness is Jain's index of upload bytes over the sharers that
	// finished (1: all uploaded alike); MaxUpX the most one uploaded ÷ Size.
	Fairness, MaxUpX float64
	// PollsPerDevice is the Have polls sent per device (held or not).
	PollsPerDevice float64
	// ConnsPerDevice is the pairs of devices where one took the other
	// as a source, per device: the crowd's connections (mutual
	// handshakes) if each pair is one connection both ways.
	ConnsPerDevice float64
	// The hungry rule (share.Node.resupply): resupply rounds that found
	// the download unfed (sched.Core.Unfed > 0), that found it unfed for
	// sched.HungryAfter (the rule due; Legacy: two rounds), the extra peers it
	// took, and the
	// longest Unfed any round saw.
	UnfedRounds, HungryRounds, HungryPeers int64
	MaxUnfed                               time.Duration
	// EarlyRounds is the rounds a hungry or contended download had
	// before its clock's next; ContendedRounds those of them the
	// contended rule gave (sched.ContendedAfter slots-full answers).
	EarlyRounds, ContendedRounds int64
	// OrderedStarts is the downloads that started from an answer with the
	// order of arrival (pairs.Arrival: a forming crowd the directory
	// lists whole), Adopted the later pairs they adopted (pairs.Later)
	// and, in a crowd bigger than an answer, the devices that polled them
	// (share.Node.adoptDialled); AdoptedBetween those of them taken between
	// resupply rounds.
	OrderedStarts, Adopted, AdoptedBetween int64
	Events                                 int64
	Wall                                   time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("N=%d size=%dMiB churn=%.0f%% free=%.0f%% legacy=%v: origin %.2fx (busy %d), finished %d left %d stuck %d, median %s p99 %s all %s, bound %s (peers %s), fairness %.2f maxup %.1fx, %.1f polls/dev, %.2f conns/dev, unfed rounds %d (max %s) hungry %d (+%d peers, %d early), contended %d, ordered starts %d adopted %d (%d between rounds), %d events in %s",
		r.N, r.Size>>20, r.Churn*100, r.FreeRiders*100, r.Legacy, r.OriginX, r.OriginBusy, r.Finished, r.Left, r.Stuck,
		r.Median.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.All.Round(time.Millisecond), r.Bound.Round(time.Millisecond), r.PeerBound.Round(time.Millisecond),
		r.Fairness, r.MaxUpX, r.PollsPerDevice, r.ConnsPerDevice, r.UnfedRounds, r.MaxUnfed.Round(time.Millisecond),
		r.HungryRounds, r.HungryPeers, r.EarlyRounds, r.ContendedRounds, r.OrderedStarts, r.Adopted, r.AdoptedBetween, r.Events, r.Wall.Round(time.Millisecond))
}

type event struct {
	at  time.Duration
	seq int64
	fn  func()
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// originID is the origin store's ID as the fetchers see it.
const originID = identity.ID("ORIGIN")

type sim struct {
	c      Config
	rnd    *rand.Rand
	now    time.Duration
	base   time.Time
	q      queue
	seq    int64
	events int64
	chunks int

	nodes   []*node
	byID    map[identity.ID]*node
	holders []*node // announced devices, in announcement order (the directory's bucket)
	budget  *directory.OriginBudget

	originFlows int
	flows       int           // all transfers running
	originFree  time.Duration // when the origin's uplink is next idle
	sharedFree  time.Duration // when the shared cap is next idle
	downloading int           // devices started and neither finished nor gone (Config.Contention)
	originBytes int64
	originBusy  int64
	polls       int64                  // Have polls sent
	pairs       map[[2]identityID]bool // connections: pairs where one end took the other
	// The hungry rule's evidence (Result.Unfed...).
	unfedRounds, hungryRounds, hungryPeers int64
	earlyRounds, contendedRounds           int64
	orderedStarts, adopted                 int64 // starts from an answer with the order of arrival; later pairs adopted
	adoptedBetween                         int64 // adopted between rounds
	maxUnfed                               time.Duration
	outcomes                               [8]int64  // by sched.Kind
	upBins                                 []float64 // bytes peers uploaded, by Config.UseBin from time 0
}

func (s *sim) at(d time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.q, &event{at: s.now + d, seq: s.seq, fn: fn})
}

// pair notes the connection between a and b (once, whoever took whom).
func (s *sim) pair(a, b *node) {
	k := [2]identityID{a.id, b.id}
	if k[1] < k[0] {
		k[0], k[1] = k[1], k[0]
	}
	s.pairs[k] = true
}

// noteUnfed counts a resupply round's Unfed (sched.Core.Unfed) and
// whether the hungry rule was due.
func (s *sim) noteUnfed(d time.Duration, hungry bool) {
	if d > 0 {
		s.unfedRounds++
	}
	if hungry {
		s.hungryRounds++
	}
	s.maxUnfed = max(s.maxUnfed, d)
}

func (s *sim) t() time.Time { return s.base.Add(s.now) }

func (s *sim) chunkSize(i int) int64 {
	if i == s.chunks-1 {
		if r := s.c.Size % s.c.ChunkSize; r != 0 {
			return r
		}
	}
	return s.c.ChunkSize
}

// Run simulates one crowd.
func Run(c Config) Result {
	c.defaults()
	wall := time.Now()
	s := &sim{c: c, rnd: rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)), base: time.Unix(1_700_000_000, 0),
		chunks: int((c.Size + c.ChunkSize - 1) / c.ChunkSize), byID: map[identity.ID]*node{}, pairs: map[[2]identityID]bool{}}
	if !c.Legacy {
		s.budget = &directory.OriginBudget{}
	}
	perm := s.rnd.Perm(c.N)
	var at float64
	for k := range c.N {
		n := &node{s: s, id: identity.ID(fmt.Sprintf("D%05d", k)), have: sched.NewBitmap(s.chunks),
			fromOrigin: sched.NewBitmap(s.chunks), perPeer: map[identity.ID]int{}, pollers: map[identity.ID]time.Duration{}}
		n.stalled = k < c.Stalled
		n.flooder = n.stalled && k < c.Flood
		// perm decides roles independently of arrival order.
		switch r := float64(perm[k]) / float64(c.N); {
		case r < c.FreeRiders:
			n.freeRider = true
		case r < c.FreeRiders+c.Churn:
			n.churner = true
			n.leaveAt = 1 + s.rnd.IntN(max(1, s.chunks-1)) // mid-download
		}
		if c.Arrivals > 0 {
			n.arrive = time.Duration(at * float64(c.Arrivals))
			at += s.rnd.ExpFloat64() / float64(c.N)
		}
		s.nodes = append(s.nodes, n)
		s.byID[n.id] = n
		s.at(n.arrive, n.start)
	}
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(*event)
		if e.at > c.Limit {
			break
		}
		s.now = e.at
		s.events++
		e.fn()
		if s.events%4096 == 0 && s.allDone() {
			break
		}
	}
	return s.result(time.Since(wall))
}

func (s *sim) allDone() bool {
	for _, n := range s.nodes {
		if !n.finished && !n.gone {
			return false
		}
	}
	return true
}

func (s *sim) result(wall time.Duration) Result {
	if os.Getenv("SWARMSIM_DEBUG") != "" {
		fmt.Fprintln(os.Stderr, "outcomes OK,Canceled,Bad,Busy,NotHeld,Refused,Failed,Declined:", s.outcomes)
		for _, n := range s.nodes[:3] {
			fmt.Fprintln(os.Stderr, n.id, "arrive", n.arrive, "done", n.doneAt, "peers", n.added, n.core.Stats(s.t()))
		}
	}
	r := Result{Config: s.c, Chunks: s.chunks, OriginBytes: s.originBytes, OriginBusy: s.originBusy, Events: s.events, Wall: wall,
		PollsPerDevice: float64(s.polls) / float64(max(1, len(s.nodes))),
		ConnsPerDevice: float64(len(s.pairs)) / float64(max(1, len(s.nodes))),
		UnfedRounds:    s.unfedRounds, HungryRounds: s.hungryRounds, HungryPeers: s.hungryPeers, MaxUnfed: s.maxUnfed,
		EarlyRounds: s.earlyRounds, ContendedRounds: s.contendedRounds,
		OrderedStarts: s.orderedStarts, Adopted: s.adopted, AdoptedBetween: s.adoptedBetween}
	r.OriginX = float64(s.originBytes) / float64(s.c.Size)
	var times []time.Duration
	var ups []float64
	first := time.Duration(math.MaxInt64)
	sharers := 0
	for _, n := range s.nodes {
		first = min(first, n.arrive)
		if !n.freeRider {
			sharers++
		}
		switch {
		case n.finished:
			r.Finished++
			times = append(times, n.doneAt-n.arrive)
			r.All = max(r.All, n.doneAt)
			if !n.freeRider {
				ups = append(ups, float64(n.upBytes))
				r.MaxUpX = max(r.MaxUpX, float64(n.upBytes)/float64(s.c.Size))
			}
		case n.gone:
			r.Left++
		default:
			r.Stuck++
		}
	}
	r.All -= first
	if len(times) > 0 {
		slices.Sort(times)
		r.Median = times[len(times)/2]
		r.P99 = times[min(len(times)-1, len(times)*99/100)]
	}
	var sum, sq float64
	for _, u := range ups {
		sum += u
		sq += u * u
	}
	if sq > 0 {
		r.Fairness = sum * sum / (float64(len(ups)) * sq)
	}
	size := float64(s.c.Size)
	bound := size / s.c.Down
	supply := s.c.OriginUp + float64(sharers)*s.c.Up
	if s.c.Shared > 0 { // uncontended: Contention only adds to the time
		supply = min(supply, s.c.Shared)
	}
	bound = max(bound, float64(s.c.N)*size/supply)
	r.Bound = time.Duration(bound * float64(time.Second))
	peers := bound
	if sharers > 0 {
		peers = max(peers, (float64(r.Finished)*size-float64(s.originBytes))/(float64(sharers)*s.c.Up))
	}
	r.PeerBound = time.Duration(peers * float64(time.Second))
	if bin := s.c.UseBin; bin > 0 {
		r.UpUse = s.upUse(first, bin)
	}
	return r
}

type identityID = identity.ID

// contentID names the simulated title for the origin budget.
var contentID = sealed.ContentID{0x51, 0x4d}

// uploaded counts n bytes a peer's uplink carried over [from, to) in the
// bins of Config.UseBin (set).
func (s *sim) uploaded(n int64, from, to time.Duration) {
	bin := s.c.UseBin
	if to <= from {
		return
	}
	rate := float64(n) / float64(to-from)
	for t := from; t < to; {
		i := int(t / bin)
		end := min(to, time.Duration(i+1)*bin)
		for len(s.upBins) <= i {
			s.upBins = append(s.upBins, 0)
		}
		s.upBins[i] += rate * float64(end-t)
		t = end
	}
}

// upUse is Result.UpUse: the bins from the one of the first arrival.
func (s *sim) upUse(first, bin time.Duration) []float64 {
	var out []float64
	for i := int(first / bin); i < len(s.upBins); i++ {
		lo, hi := time.Duration(i)*bin, time.Duration(i+1)*bin
		var capacity float64 // byte-seconds the sharers could upload in the bin
		for _, n := range s.nodes {
			if n.freeRider {
				continue
			}
			until := hi
			if n.gone {
				until = min(until, n.goneAt)
			}
			if on := until - max(lo, n.arrive); on > 0 {
				capacity += on.Seconds() * s.c.Up
			}
		}
		use := 0.0
		if capacity > 0 {
			use = s.upBins[i] / capacity
		}
		out = append(out, use)
	}
	return out
}
