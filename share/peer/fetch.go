package peer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer/sched"
	"github.com/kith-media/kith/share/sealed"
)

// Source is somewhere chunks of one content can be fetched from: a peer
// (Client.Source) or the directory's origin store (OriginSource).
type Source interface {
	// ID is the source's device ID (for the origin: the directory's ID).
	ID() identity.ID
	// Chunk returns ciphertext chunk i, reusing dst if it is big enough.
	// The fetcher may reuse the returned slice's array for later chunks
	// (a process-wide buffer pool): it must be dst's or new, never memory
	// the source keeps. The fetcher passes a nil dst for chunks of the
	// default size or less: a peer or the origin takes a buffer from that
	// pool once the answer comes, not while the request waits.
	Chunk(ctx context.Context, i int, dst []byte) ([]byte, error)
}

// Haver is implemented by sources that may hold only part of the content;
// the fetcher polls it. Sources without it are assumed complete.
type Haver interface {
	Have(ctx context.Context) (HaveInfo, error)
}

// HaveCarrier is implemented by partial sources whose chunk answers may
// carry their Have state (a peer's, HaveBitsHeader): the fetcher applies
// it as a poll's answer and does not poll a source while it answers
// chunks, which also learns what it gained without waiting for a poll.
type HaveCarrier interface {
	// ChunkHave is Source.Chunk that also returns the state carried (nil
	// when the answer carried none).
	ChunkHave(ctx context.Context, i int, dst []byte) ([]byte, *HaveInfo, error)
}

// HaveInfo is a partial source's state (GET /have).
type HaveInfo struct {
	Have     library.Bitmap // chunks held
	Fetching library.Bitmap // chunks being fetched from the origin now
	Complete bool           // every chunk held
	// Downloading: the source is itself downloading this content now, so it
	// takes its share of the origin's chunks.
	Downloading bool
	// Holds: the source holds Have polls (HaveWaiter) until it has a
	// chunk we want, so the next may be sent at once.
	Holds bool
}

// isOrigin reports whether s is an origin store (used last).
func isOrigin(s Source) bool {
	o, ok := s.(interface{ Origin() bool })
	return ok && o.Origin()
}

// Sink stores verified chunks; *library.Library implements it. WriteChunk
// must verify the chunk against the manifest and fail with an error
// wrapping library.ErrBadChunk when it does not match.
type Sink interface {
	WriteChunk(cid sealed.ContentID, i int, ct []byte) error
	Have(ctx context.Context, cid sealed.ContentID) (library.Bitmap, error)
	Flush(cid sealed.ContentID) error
	// RecordAll adds each delta's bytes to the ledger, all in one
	// transaction or none.
	RecordAll(ctx context.Context, ds []library.LedgerDelta) error
}

// ErrNoSources means every source was banned or dropped before the download completed.
var ErrNoSources = errors.New("no usable source left")

// FetchOptions configure a Fetcher.
type FetchOptions struct {
	Manifest *sealed.Manifest // required
	Sink     Sink             // required
	Sources  []Source         // peers (in order of preference) and origins
	// Self is this device's ID; with it, devices downloading the same
	// content together split the origin's chunks between them (rendezvous
	// hashing over the device IDs they see: the active peers and the
	// crowd given to SetCrowd).
	Self identity.ID
	// Demand, if set, tells whether other devices are downloading this
	// content from us right now (Server.LastPolled). Without a crowd
	// (SetCrowd), a device nobody downloads from leaves its share of origin
	// chunks to those that others do, so what comes from the origin spreads.
	Demand func() bool

	PerSource      int           // requests in flight per peer (default 4; at most 2 while 8 peers or more are usable)
	OriginInFlight int           // requests in flight to an origin (default 2)
	Timeout        time.Duration // longest a chunk request may take (default 20 s)
	MinTimeout     time.Duration // shortest request timeout (default 2 s); actual = clamp(8 x expected)
	StealAfter     time.Duration // a chunk slower than this (and 3 x its source's expected time) is also asked elsewhere (default 750 ms)
	HaveInterval   time.Duration // polling of partial sources (default 500 ms)
	// HaveTimeout bounds one Have poll (default 10 s). A poll is small and
	// never urgent, but one cut short closes its connection (HTTP/1.1) and
	// the next costs a TLS handshake: on a loaded machine a short timeout
	// turns slowness into handshakes, which load it more.
	HaveTimeout time.Duration
	// HaveWait is the longest a peer is asked to hold a Have poll until it
	// has a chunk we need (HaveWaiter; default 4 x HaveInterval, negative:
	// never). A held poll's timeout is HaveTimeout + HaveWait.
	HaveWait         time.Duration
	OriginDelay      time.Duration // a chunk a player waits for may go to the origin after OriginDelay/4 (default 10 s; see the package doc)
	MaxFailures      int           // consecutive errors before a source is dropped (default 5)
	ProgressInterval time.Duration // Progress events (default 250 ms)
	OnEvent          func(Event)   // called from the fetcher's goroutine; must not block
	Logger           *slog.Logger
	// Clock is what the scheduling rules above are timed on: steals,
	// request and poll timeouts, back-offs, polling, progress (nil: the
	// wall clock). Tests pass a clock.Fake to check the rules at their
	// exact thresholds.
	Clock clock.Clock
}

// EventKind tells what an Event reports.
type EventKind int

// Event kinds.
const (
	EventProgress EventKind = iota // periodic progress
	EventChunk                     // a chunk was verified and stored
	EventFault                     // a source was banned or dropped
	EventDone                      // the content is complete
)

// Event is a fetcher notification for progress bars and swarm views.
type Event struct {
	Kind      EventKind
	ContentID sealed.ContentID
	Chunk     int         // EventChunk, EventFault
	Source    identity.ID // EventChunk, EventFault
	Fault     *Fault      // EventFault
	Progress  Progress
}

// Progress summarizes a download.
type Progress struct {
	Have, Total int     // chunks
	Bytes       int64   // downloaded in this run
	Rate        float64 // bytes/s, smoothed
	Sources     []SourceStats
}

// SourceStats describe one source for the swarm view.
type SourceStats struct {
	ID       identity.ID
	Origin   bool
	Rate     float64 // bytes/s per request, smoothed
	Bytes    int64
	InFlight int
	State    string // "ok", "backoff", "banned", "dropped"
}

// Fault records a source that was banned (proved bad: a chunk failing
// verification, a wrong length, a wrong certificate) or dropped (too many
// errors or timeouts, or it refused us).
type Fault struct {
	Source identity.ID
	Chunk  int // -1 when not about one chunk
	Banned bool
	Err    error
}

type attempt = sched.Attempt

type result struct {
	a    *attempt
	data []byte
	buf  *[]byte
	have *HaveInfo // carried by the answer (HaveCarrier)
	err  error
}

type haveResult struct {
	src  *sched.Source
	info HaveInfo
	err  error
}

// Fetcher downloads one content from several sources at once, verifying
// every chunk and banning sources that send bad ones.
type Fetcher struct {
	o   FetchOptions
	m   *sealed.Manifest
	cid sealed.ContentID
	log *slog.Logger
	clk clock.Clock

	mu      sync.Mutex
	core    *sched.Core    // the decisions: which chunk from whom, and when
	origin  library.Bitmap // chunks being fetched from the origin now (OriginChunks)
	running bool

	results chan result
	haves   chan haveResult
	wake    chan struct{}
	size    int64     // the longest chunk's length (the first's)
	bufs    sync.Pool // buffers for chunks too long for chunkArena's (a manifest's chunk size above the default)
}

// OriginChunks returns a copy of the bitmap of chunks this fetcher is
// getting from the origin right now (a peer server advertises it in
// /have, so peers wait for those chunks instead of asking the origin).
func (f *Fetcher) OriginChunks() library.Bitmap {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(library.Bitmap(nil), f.origin...)
}

// NewFetcher checks the options; Run downloads.
func NewFetcher(o FetchOptions) (*Fetcher, error) {
	if o.Manifest == nil || o.Sink == nil {
		return nil, errors.New("fetcher: Manifest and Sink are required")
	}
	// The scheduling options' defaults are sched.New's, in one place;
	// read them back through f.core.Config().
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := o.Manifest
	f := &Fetcher{o: o, m: m, cid: m.ContentID(), log: o.Logger, clk: clock.Or(o.Clock), origin: library.NewBitmap(m.NumChunks()),
		core: sched.New(sched.Config{Chunks: m.NumChunks(),
			ChunkSize: func(i int) int64 { _, n := m.ChunkRange(i); return n },
			Self:      o.Self, Demand: o.Demand, PerSource: o.PerSource, OriginInFlight: o.OriginInFlight,
			MaxFailures: o.MaxFailures, Timeout: o.Timeout, MinTimeout: o.MinTimeout, StealAfter: o.StealAfter,
			HaveInterval: o.HaveInterval, HaveTimeout: o.HaveTimeout, HaveWait: o.HaveWait, OriginDelay: o.OriginDelay, Logger: o.Logger}),
		results: make(chan result, 64), haves: make(chan haveResult, 16), wake: make(chan struct{}, 1)}
	_, f.size = m.ChunkRange(0)
	f.bufs.New = func() any { b := make([]byte, f.size+1); return &b }
	for _, s := range o.Sources {
		f.addLocked(s)
	}
	return f, nil
}

// getBuf returns the buffer a request for one of our chunks starts with:
// nil for chunks of the default size or less (the source takes one of the
// process's shared pool when the answer comes: bodyBuf), one of this
// fetcher's own for longer ones.
func (f *Fetcher) getBuf() *[]byte {
	if f.size+1 > chunkBufSize {
		return f.bufs.Get().(*[]byte)
	}
	return nil
}

// putBuf gives the buffer a chunk was read into back.
func (f *Fetcher) putBuf(b *[]byte) {
	if b == nil {
		return
	}
	if f.size+1 > chunkBufSize {
		f.bufs.Put(b)
		return
	}
	putChunkBuf(b)
}

func (f *Fetcher) addLocked(s Source) {
	_, partial := s.(Haver)
	f.core.Add(s.ID(), isOrigin(s), partial, s)
}

// AddSource adds a source while running (a neighbour appeared).
func (f *Fetcher) AddSource(s Source) {
	f.mu.Lock()
	f.addLocked(s)
	f.mu.Unlock()
	f.poke()
}

// Prioritize asks for chunk i and those after it first (a player seeking or starting).
func (f *Fetcher) Prioritize(i int) {
	f.mu.Lock()
	f.core.Prioritize(i)
	f.mu.Unlock()
	f.poke()
}

// PrioritizeOffset is Prioritize for the chunk holding byte off of the sealed file.
func (f *Fetcher) PrioritizeOffset(off int64) { f.Prioritize(chunkAt(f.m, off)) }

func (f *Fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Faults lists the sources banned or dropped so far.
func (f *Fetcher) Faults() []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Fault
	for _, fl := range f.core.Faults() {
		out = append(out, Fault(fl))
	}
	return out
}

// Progress returns a snapshot of the download.
func (f *Fetcher) Progress() Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.progressLocked(f.clk.Now())
}

func (f *Fetcher) progressLocked(now time.Time) Progress {
	k := f.core
	p := Progress{Total: f.m.NumChunks(), Have: f.m.NumChunks() - k.Missing(), Bytes: k.Bytes(), Rate: k.Rate()}
	for _, st := range k.Stats(now) {
		p.Sources = append(p.Sources, SourceStats(st))
	}
	return p
}

func (f *Fetcher) emit(e Event) {
	if f.o.OnEvent != nil {
		e.ContentID = f.cid
		f.o.OnEvent(e)
	}
}
