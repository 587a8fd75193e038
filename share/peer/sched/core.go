package sched

import (
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// Config sets a Core's content shape and its tuning; zero values take the
// defaults documented on share/peer.FetchOptions.
type Config struct {
	Chunks    int               // number of chunks (required)
	ChunkSize func(i int) int64 // size of chunk i (required)
	// Self is this device's ID (splits the origin's chunks among a crowd).
	Self identity.ID
	// Demand, if set, tells whether other devices download this content
	// from this one right now.
	Demand func() bool

	PerSource      int
	OriginInFlight int
	MaxFailures    int
	Timeout        time.Duration
	MinTimeout     time.Duration
	StealAfter     time.Duration
	HaveInterval   time.Duration
	HaveTimeout    time.Duration
	HaveWait       time.Duration
	OriginDelay    time.Duration

	// Legacy selects the fallbacks before issue 13 (the origin asked after
	// fixed multiples of OriginDelay; peers' chunks taken in file order from
	// a random start), for the swarm simulator's before/after comparison.
	Legacy bool

	Rand   *rand.Rand // chunk start points; nil: a randomly seeded one
	Logger *slog.Logger
}

// Source is one place chunks come from, as the Core sees it.
type Source struct {
	// Ref is the driver's handle for this source (the Core never reads it).
	Ref any

	id        identity.ID
	origin    bool
	partial   bool   // has a Have to poll
	have      Bitmap // nil: everything
	fetching  Bitmap
	inflight  int
	rate      float64
	bytes     int64
	fails     int
	until     time.Time
	banned    bool
	dropped   bool
	faulted   bool // a drop was reported (a revived source's next one is not)
	droppedAt time.Time
	polling   bool
	waits     bool // it holds Have polls (its last answer's HaveInfo.Holds): ask again once it answers no chunks
	stale     int  // Have answers in a row that brought no new chunk (polled less often)
	known     bool // a Have answer arrived (until then it may hold anything)
	answered  bool // a Have poll ended, answered or not
	active    bool // downloading this content itself (shares the origin's chunks)
	lastPoll  time.Time
}

// ID is the source's device ID.
func (s *Source) ID() identity.ID { return s.id }

// Origin reports whether s is an origin store.
func (s *Source) Origin() bool { return s.origin }

// Bytes is how much s delivered.
func (s *Source) Bytes() int64 { return s.bytes }

func (s *Source) usable(now time.Time) bool { return !s.banned && !s.dropped && !now.Before(s.until) }
func (s *Source) has(i int) bool            { return s.have == nil || s.have.Has(i) }

// expected is how long one chunk of n bytes should take from s.
func (s *Source) expected(n int64) time.Duration {
	if s.rate <= 0 {
		return 0
	}
	return time.Duration(float64(n) / s.rate * float64(time.Second))
}

// Attempt is one chunk request Schedule decided on.
type Attempt struct {
	Src     *Source
	Chunk   int
	Start   time.Time
	Timeout time.Duration // the longest the request may take
	// Cancel, set by the driver, aborts the request (a duplicate won).
	Cancel func()
}

// HaveInfo is a partial source's state (its /have answer).
type HaveInfo struct {
	Have, Fetching Bitmap
	Complete       bool
	Downloading    bool
	Holds          bool // the source holds Have polls: the next may be sent at once, with Want
}

// Kind classifies how a request ended.
type Kind int

// Request outcomes.
const (
	OK       Kind = iota
	Canceled      // we cancelled it (won elsewhere, shutting down)
	Bad           // the source proved bad (chunk failed verification, protocol broken): ban
	Busy          // the source is at its limits; try again after RetryAfter
	NotHeld       // the source does not have the chunk (our view was stale)
	Refused       // the source refuses us: drop
	Failed        // any other error or a timeout: back off, drop after MaxFailures
	// Declined: the origin handed this chunk to the crowd already ("busy,
	// ask your peers"); not asked for it again before RetryAfter.
	Declined
)

// Outcome is how a request (or a Have poll) ended.
type Outcome struct {
	Kind       Kind
	RetryAfter time.Duration // Busy
	// Slots: Busy because the source's upload slots were full (others
	// fill its uplink), not because of our own requests to it.
	Slots bool
	Err   error // for faults and logs
}

// Fault records a source that was banned or dropped.
type Fault struct {
	Source identity.ID
	Chunk  int // -1 when not about one chunk
	Banned bool
	Err    error
}

// SourceStats describe one source.
type SourceStats struct {
	ID       identity.ID
	Origin   bool
	Rate     float64
	Bytes    int64
	InFlight int
	State    string // "ok", "backoff", "banned", "dropped"
}

// Core holds one download's scheduling state.
type Core struct {
	c   Config
	rnd *rand.Rand
	log *slog.Logger

	srcs     []*Source
	need     Bitmap
	missing  int
	attempts map[int][]*Attempt
	busy     Bitmap // chunks with an attempt running (the keys of attempts)
	since    []time.Time
	prio     int
	start    int
	faults   []Fault
	bytes    int64
	rate     float64
	// lastPeerChunk is when a peer last delivered a chunk (origin fallback).
	lastPeerChunk time.Time
	// slotsBusy counts the busy answers from peers whose upload slots
	// were full (Outcome.Slots): Contended.
	slotsBusy int
	// crowd lists the other devices downloading this content that this one
	// may not be connected to (SetCrowd); mine caches, per chunk, whether
	// this device owns it among the crowd (0 not yet known, 1 yes, 2 no);
	// nil when the crowd changed. idle: connected peers that take no share
	// (not downloading, banned or dropped), computed with mine.
	crowd []identity.ID
	mine  []int8
	idle  map[identity.ID]bool
	// crowdSet: the members of crowd, each with the mark of the SetCrowd
	// that last named it (crowdMark counts the calls).
	crowdSet  map[identity.ID]uint64
	crowdMark uint64
	// declined: until when the origin asked us not to ask it for a chunk
	// (it handed the chunk to the crowd already).
	declined []time.Time
	// starvedSince: since when no peer had anything for us (zero: fed).
	starvedSince time.Time
	avail        []int // availability(), per Schedule
	// cover and coverAll: what peerCovers answers, per Schedule (covered);
	// unheard: a peer's first Have poll is not answered yet; stale: the
	// chunks steal may take, per Schedule (stealable).
	cover             Bitmap
	coverAll, unheard bool
	stale             []int
}

// With crowdPeers usable peers or more, each is asked for at most
// crowdPerSource chunks at a time (PerSource applies below that: one
// LAN neighbour alone gets PerSource).
const (
	crowdPeers     = 8
	crowdPerSource = 2
)

// Peers is how many peers a download of a title of chunks chunks connects
// to, given the limit its node sets (share.Options.MaxPeers): no more than
// one per ChunksPerPeer chunks, and at least MinPeers. Each peer is a
// mutual-TLS handshake at both ends, which costs about as much CPU as
// moving a megabyte through TLS and the chunk check: a crowd of 8 MiB
// titles (32 chunks) with 16 peers each spent more CPU on handshakes than
// on the bytes.
func Peers(limit, chunks int) int { return min(limit, max(MinPeers, chunks/ChunksPerPeer)) }

// ChunksPerPeer and MinPeers shape Peers.
const (
	ChunksPerPeer = 8
	MinPeers      = 4
)

// New returns a Core for c with every chunk needed until Begin says otherwise.
func New(c Config) *Core {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.PerSource <= 0 {
		c.PerSource = 4
	}
	if c.OriginInFlight <= 0 {
		c.OriginInFlight = 2
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	def(&c.Timeout, 20*time.Second)
	def(&c.MinTimeout, 2*time.Second)
	def(&c.StealAfter, 750*time.Millisecond)
	def(&c.HaveInterval, 500*time.Millisecond)
	def(&c.HaveTimeout, 10*time.Second)
	if c.HaveWait == 0 {
		c.HaveWait = 4 * c.HaveInterval
	}
	def(&c.OriginDelay, 10*time.Second)
	k := &Core{c: c, rnd: c.Rand, log: c.Logger, attempts: map[int][]*Attempt{},
		since: make([]time.Time, c.Chunks), declined: make([]time.Time, c.Chunks), prio: -1, busy: NewBitmap(c.Chunks)}
	if k.rnd == nil {
		k.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	if c.Chunks > 0 {
		k.start = k.rnd.IntN(c.Chunks)
	}
	return k
}

// Config returns the configuration with its defaults filled in.
func (k *Core) Config() Config { return k.c }

// Add adds a source (an origin, or a peer; partial: it answers Have polls)
// and returns it, or nil when a source with that ID and kind is there.
func (k *Core) Add(id identity.ID, origin, partial bool, ref any) *Source {
	for _, x := range k.srcs {
		if x.id == id && x.origin == origin {
			return nil
		}
	}
	k.mine = nil // the crowd may change
	s := &Source{Ref: ref, id: id, origin: origin}
	if partial && !origin {
		s.partial = true
		s.have = NewBitmap(k.c.Chunks)
	}
	k.srcs = append(k.srcs, s)
	return s
}

// Sources lists every source added, in order.
func (k *Core) Sources() []*Source { return k.srcs }

// Begin starts the download: every chunk not in have is needed from now.
func (k *Core) Begin(have Bitmap, now time.Time) {
	n := k.c.Chunks
	k.need = NewBitmap(n)
	k.missing = 0
	k.lastPeerChunk = now
	for i := 0; i < n; i++ {
		if !have.Has(i) {
			k.need.Set(i)
			k.missing++
			k.since[i] = now
		}
	}
}

// Unfed is how long the peers have brought this download nothing (since
// its last chunk from a peer, or Begin) while none of them has or is
// fetching a chunk it needs; 0 while one has (they are bringing it one).
// The origin's declines do not end it (they restart the starvation's
// clock: starved), so a download cut off from the crowd's chunks (peers
// that picked each other, none of which got a first copy) keeps growing
// it.
func (k *Core) Unfed(now time.Time) time.Duration {
	if k.starvedSince.IsZero() {
		return 0
	}
	return now.Sub(k.lastPeerChunk)
}

// Contended is how many times a peer has answered this download busy
// because its upload slots were full (Outcome.Slots): its uplink is
// shared by other downloads, so ours gets a part of it. share.Node takes
// one more peer for a download that counts ContendedAfter more since its
// last round (sched.Rounds). The harness's crowd, one account's devices,
// is never held to slots, so only crowds of strangers see it.
func (k *Core) Contended() int { return k.slotsBusy }

// ContendedAfter is how many slots-full answers since a download's last
// resupply round give it one more peer at once (share.Node's contended
// rule). In the simulator (8 MiB, its default links, medians of seeds
// 1-3), the crowd all done with the rule against without: N=10 4.15 s
// against 5.09, N=50 4.67 against 5.39, N=200 4.86 against 5.39, N=1,000
// with 10 % churn and 30 % free riders 7.56 against 8.66, at 3.3-5.5
// connections a device against 1.7-3.6; 64 MiB crowds within 3 %.
const ContendedAfter = 4

// Missing is how many chunks are still needed.
func (k *Core) Missing() int { return k.missing }

// Bytes is how much was downloaded in this run.
func (k *Core) Bytes() int64 { return k.bytes }

// Rate is the smoothed download rate in bytes/s.
func (k *Core) Rate() float64 { return k.rate }

// Faults lists the sources banned or dropped so far.
func (k *Core) Faults() []Fault { return append([]Fault(nil), k.faults...) }

// Prioritize asks for chunk i and those after it first.
func (k *Core) Prioritize(i int) {
	if i >= 0 && i < k.c.Chunks {
		k.prio = i
	}
}

// SetCrowd replaces the crowd: the other devices downloading this content.
// A download is told its crowd every resupply round, and a big crowd's
// is mostly the same members (sched.CrowdView keeps them across answers,
// up to MaxCrowdView): then nothing changes, and the ownership answers
// (mine) stay, where each round made a set of up to MaxCrowdView members
// and dropped them (a tenth of a 200-device crowd's resupply CPU, and
// the next picks hashed every member against every chunk again).
func (k *Core) SetCrowd(ids []identity.ID) {
	if k.crowdSet == nil {
		k.crowdSet = make(map[identity.ID]uint64, len(ids))
	}
	// Each call stamps the members it names with a new mark: a member
	// stamped already is named twice; one not in the set is new.
	k.crowdMark++
	mark := k.crowdMark
	same, n := true, 0
	for _, id := range ids {
		if id == "" || id == k.c.Self {
			continue
		}
		m, ok := k.crowdSet[id]
		if ok && m == mark {
			continue
		}
		same = same && ok
		k.crowdSet[id] = mark
		n++
	}
	if same && n == len(k.crowd) {
		return // as many members, all of them members before: the same crowd
	}
	crowd := make([]identity.ID, 0, n)
	for _, id := range ids {
		if k.crowdSet[id] == mark && id != "" && id != k.c.Self {
			crowd = append(crowd, id)
			k.crowdSet[id] = mark + 1 // listed (a repeat is not listed again)
		}
	}
	for id, m := range k.crowdSet {
		if m != mark+1 {
			delete(k.crowdSet, id) // not named this time
		}
	}
	k.crowdMark++ // every mark so far is at most this one: the next call's is new
	k.crowd, k.mine = crowd, nil
}

// Stats describes every source at now.
func (k *Core) Stats(now time.Time) []SourceStats {
	out := make([]SourceStats, 0, len(k.srcs))
	for _, s := range k.srcs {
		st := "ok"
		switch {
		case s.banned:
			st = "banned"
		case s.dropped:
			st = "dropped"
		case now.Before(s.until):
			st = "backoff"
		}
		out = append(out, SourceStats{ID: s.id, Origin: s.origin, Rate: s.rate, Bytes: s.bytes, InFlight: s.inflight, State: st})
	}
	return out
}

// Polls returns the partial sources whose Have poll is due and marks them
// polling; the driver answers each with HaveResult, and asks a source
// whose Want is not nil to hold the poll (for up to HaveWait) until it
// has one of those chunks. A source that held its last poll is asked
// again as soon as it answers none of our chunk requests (their answers
// carry its state) and there is a chunk to wait for (one we need, are not
// fetching, and do not know it holds): it tells us of a chunk when it has
// it, not at our next round, and a poll that could only end at its wait
// (every chunk we lack in flight, as at a download's end) is not sent.
// The driver calls Schedule first: a source just asked for a chunk is not
// polled beside it.
func (k *Core) Polls(now time.Time) []*Source {
	var out []*Source
	for _, s := range k.srcs {
		if !s.partial || s.polling || !s.usable(now) {
			continue
		}
		if s.waits {
			if s.inflight > 0 || !k.wants(s) {
				continue
			}
		} else if now.Sub(s.lastPoll) < k.pollEvery(s) {
			continue
		}
		s.polling, s.lastPoll = true, now
		out = append(out, s)
	}
	return out
}

// HaveResult applies a Have poll's answer (out.Kind OK) or failure.
func (k *Core) HaveResult(s *Source, info HaveInfo, out Outcome, now time.Time) *Fault {
	s.polling, s.answered = false, true
	s.waits = out.Kind == OK && info.Holds && k.c.HaveWait > 0 && !k.c.Legacy
	if out.Kind != OK {
		return k.fail(s, -1, out, now)
	}
	if !s.known || s.active != info.Downloading {
		k.mine = nil // the crowd changed
	}
	if s.known && s.active == info.Downloading && !gained(s.have, info.Have) && !s.waits {
		s.stale++ // a held poll that ran out cost one request per wait: no slowing down
	} else {
		s.stale = 0
	}
	s.known, s.active = true, info.Downloading
	s.have, s.fetching = info.Have, info.Fetching
	if info.Complete {
		s.have, s.fetching, s.partial = nil, nil, false
	}
	return nil
}

// Carried applies a Have state that came with one of s's chunk answers
// (a peer's answer carries it) as HaveResult applies a poll's answer, and
// puts s's next poll off by a full interval: a source that keeps answering
// chunks is not polled. A poll in flight still ends with HaveResult. An
// answer that brings nothing new does not slow s's polling (stale counts
// polls, which cost a request; a carried state costs none).
func (k *Core) Carried(s *Source, info HaveInfo, now time.Time) {
	if !s.partial || s.banned {
		return
	}
	if !s.known || s.active != info.Downloading {
		k.mine = nil // the crowd changed
	}
	if !s.known || gained(s.have, info.Have) {
		s.stale = 0
	}
	s.known, s.answered, s.active = true, true, info.Downloading
	s.have, s.fetching = info.Have, info.Fetching
	if info.Complete {
		s.have, s.fetching, s.partial = nil, nil, false
	}
	s.lastPoll = now
}

// pollEvery is how often partial source s is polled: every HaveInterval
// while its answers bring new chunks, up to 4 x less often while they do
// not (a big crowd's polls cost its members CPU for nothing).
func (k *Core) pollEvery(s *Source) time.Duration {
	if s.waits {
		return k.c.HaveInterval // it answers when it gains something we need: a round is an interval
	}
	return k.c.HaveInterval * time.Duration(1+min(s.stale, 3))
}

// Want is the bitmap a Have poll of s asks it to hold the poll for: the
// chunks this download needs, is not fetching already, and does not know
// s has. Nil (a poll answered at once) until s answered a first poll, so
// the download knows at once what its peers hold.
func (k *Core) Want(s *Source) Bitmap {
	if !s.partial || !s.known || k.c.HaveWait <= 0 || k.c.Legacy {
		return nil
	}
	w := append(Bitmap(nil), k.need...)
	for i := range k.attempts {
		w.Clear(i)
	}
	for j := range min(len(w), len(s.have)) {
		w[j] &^= s.have[j]
	}
	return w
}

// wants reports whether Want(s) would name a chunk: one this download
// needs, has no request for, and does not know s holds.
func (k *Core) wants(s *Source) bool {
	for j, b := range k.need {
		b &^= k.busy[j]
		if j < len(s.have) {
			b &^= s.have[j]
		}
		if b != 0 {
			return true
		}
	}
	return false
}

// gained reports whether now holds a chunk before did not.
func gained(before, now Bitmap) bool {
	for i := range now {
		var b byte
		if i < len(before) {
			b = before[i]
		}
		if now[i]&^b != 0 {
			return true
		}
	}
	return false
}

// ordered returns the usable sources, fastest peers first, origins last.
func (k *Core) ordered(now time.Time) []*Source {
	out := make([]*Source, 0, len(k.srcs))
	for _, s := range k.srcs {
		if s.usable(now) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].origin != out[b].origin {
			return !out[a].origin
		}
		ra, rb := out[a].rate, out[b].rate
		if ra == 0 || rb == 0 { // unknown speed: keep the given order (probe it)
			return false
		}
		return ra > rb*1.5
	})
	return out
}

// Schedule gives every source with a free slot a chunk to fetch and
// returns the new attempts, for the driver to launch. alive is false when
// every source is banned or dropped and nothing is in flight: the download
// cannot finish.
func (k *Core) Schedule(now time.Time) (launch []*Attempt, alive bool) {
	for _, s := range k.srcs {
		if !s.banned && !s.dropped {
			alive = true
		}
	}
	if !alive && len(k.attempts) == 0 {
		return nil, false
	}
	k.covered()
	if k.observeStarvation(now) {
		k.covered() // revived peers count again
	}
	k.stealable(now)
	k.avail = k.availability()
	srcs := k.ordered(now)
	peers := 0
	for _, s := range srcs {
		if !s.origin {
			peers++
		}
	}
	for _, s := range srcs {
		limit := k.c.PerSource
		switch {
		case s.origin:
			limit = k.c.OriginInFlight
		case peers >= crowdPeers && !k.c.Legacy:
			// Among many peers, two requests each keep plenty in flight
			// (and were two HTTP/1.1 connections, when each was one; over
			// HTTP/2 they share the pair's connection).
			limit = min(limit, crowdPerSource)
		}
		for s.inflight < limit {
			i := k.pick(s, now)
			if i < 0 {
				i = k.steal(s, now)
			}
			if i < 0 {
				break
			}
			launch = append(launch, k.launch(s, i, now))
		}
	}
	return launch, true
}

func (k *Core) launch(s *Source, i int, now time.Time) *Attempt {
	a := &Attempt{Src: s, Chunk: i, Start: now, Timeout: k.timeout(s, k.c.ChunkSize(i))}
	k.attempts[i] = append(k.attempts[i], a)
	k.busy.Set(i)
	s.inflight++
	return a
}

func (k *Core) timeout(s *Source, size int64) time.Duration {
	if s.rate <= 0 {
		return k.c.Timeout / 2 // unknown speed: be patient (steals cover slowness)
	}
	t := 8 * s.expected(size)
	return min(max(t, k.c.MinTimeout), k.c.Timeout)
}
