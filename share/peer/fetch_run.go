package peer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/kith-media/kith/share/library"
)

// Run downloads every missing chunk and returns when the content is
// complete and durable, when ctx ends, or with ErrNoSources.
func (f *Fetcher) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.running {
		f.mu.Unlock()
		return errors.New("fetcher: already running")
	}
	f.running = true
	f.mu.Unlock()
	have, err := f.o.Sink.Have(ctx, f.cid)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", f.cid, err)
	}
	n := f.m.NumChunks()
	f.mu.Lock()
	f.need = library.NewBitmap(n)
	now := time.Now()
	f.lastPeerChunk = now
	for i := 0; i < n; i++ {
		if !have.Has(i) {
			f.need.Set(i)
			f.missing++
			f.since[i] = now
		}
	}
	f.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		f.mu.Lock()
		for _, s := range f.srcs {
			if s.bytes > 0 {
				if err := f.o.Sink.Record(context.Background(), s.id, f.cid, library.Down, s.bytes); err != nil {
					f.log.Warn("fetcher: ledger", "err", err)
				}
			}
		}
		f.mu.Unlock()
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Time{}
	for {
		f.mu.Lock()
		if f.missing == 0 {
			f.mu.Unlock()
			break
		}
		now := time.Now()
		f.pollLocked(ctx, &wg, now)
		err := f.scheduleLocked(ctx, &wg, now)
		var p *Progress
		if now.Sub(lastProgress) >= f.o.ProgressInterval {
			lastProgress = now
			pr := f.progressLocked(now)
			p = &pr
		}
		f.mu.Unlock()
		if err != nil {
			return err
		}
		if p != nil {
			f.emit(Event{Kind: EventProgress, Progress: *p})
		}
		select {
		case r := <-f.results:
			if err := f.handle(r); err != nil {
				return err
			}
		case h := <-f.haves:
			f.mu.Lock()
			h.src.polling = false
			if h.err == nil {
				if !h.src.known || h.src.active != h.info.Downloading {
					f.mine = nil // the crowd changed
				}
				h.src.known, h.src.active = true, h.info.Downloading
				h.src.have, h.src.fetching = h.info.Have, h.info.Fetching
				if h.info.Complete {
					h.src.have, h.src.fetching, h.src.haver = nil, nil, nil
				}
			} else {
				f.failLocked(h.src, -1, h.err, time.Now())
			}
			f.mu.Unlock()
		case <-f.wake:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("fetching %s: %w", f.cid, ctx.Err())
		}
	}
	if err := f.o.Sink.Flush(f.cid); err != nil {
		return fmt.Errorf("fetching %s: %w", f.cid, err)
	}
	f.mu.Lock()
	p := f.progressLocked(time.Now())
	f.mu.Unlock()
	f.emit(Event{Kind: EventDone, Progress: p})
	return nil
}

// pollLocked starts Have polls of partial sources that are due.
func (f *Fetcher) pollLocked(ctx context.Context, wg *sync.WaitGroup, now time.Time) {
	for _, s := range f.srcs {
		if s.haver == nil || s.polling || !s.usable(now) || now.Sub(s.lastPoll) < f.o.HaveInterval {
			continue
		}
		s.polling, s.lastPoll = true, now
		wg.Add(1)
		go func(s *srcState, h Haver) {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, f.o.MinTimeout)
			defer cancel()
			hi, err := h.Have(pctx)
			select {
			case f.haves <- haveResult{src: s, info: hi, err: err}:
			case <-ctx.Done():
			}
		}(s, s.haver)
	}
}

// ordered returns the usable sources, fastest peers first, origins last.
func (f *Fetcher) orderedLocked(now time.Time) []*srcState {
	out := make([]*srcState, 0, len(f.srcs))
	for _, s := range f.srcs {
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

// scheduleLocked gives every source with a free slot a chunk to fetch.
func (f *Fetcher) scheduleLocked(ctx context.Context, wg *sync.WaitGroup, now time.Time) error {
	alive := false
	for _, s := range f.srcs {
		if !s.banned && !s.dropped {
			alive = true
		}
	}
	if !alive && len(f.attempts) == 0 {
		return fmt.Errorf("fetching %s: %w (%d chunks missing)", f.cid, ErrNoSources, f.missing)
	}
	for _, s := range f.orderedLocked(now) {
		limit := f.o.PerSource
		if s.origin {
			limit = f.o.OriginInFlight
		}
		for s.inflight < limit {
			i := f.pickLocked(s, now)
			if i < 0 {
				i = f.stealLocked(s, now)
			}
			if i < 0 {
				break
			}
			f.launchLocked(ctx, wg, s, i, now)
		}
	}
	return nil
}

// peerCovers reports whether a usable peer has chunk i or is fetching it.
func (f *Fetcher) peerCoversLocked(i int, now time.Time) bool {
	for _, s := range f.srcs {
		if s.origin || s.banned || s.dropped {
			continue
		}
		if (s.haver != nil && !s.known) || s.has(i) || (s.fetching != nil && s.fetching.Has(i)) {
			return true
		}
	}
	return false
}

// eligible reports whether source s may take chunk i now (no attempt running).
func (f *Fetcher) eligibleLocked(s *srcState, i int, now time.Time) bool {
	if !f.need.Has(i) || len(f.attempts[i]) > 0 || !s.has(i) {
		return false
	}
	if !s.origin {
		return true
	}
	delay := f.o.OriginDelay
	if f.prio >= 0 && i >= f.prio && i < f.prio+2*f.o.PerSource && now.Sub(f.since[i]) >= delay/4 {
		return true // a player is waiting for it
	}
	if now.Sub(f.lastPeerChunk) >= 3*delay && now.Sub(f.since[i]) >= 3*delay {
		return true // the peers are stalled
	}
	if f.peerCoversLocked(i, now) {
		return false // a peer has it or is getting it: wait for it
	}
	if now.Sub(f.since[i]) >= 6*delay {
		return true // safety net: its owner never fetched it
	}
	if f.o.Demand != nil && len(f.crowd) == 0 && f.activePeersLocked() && !f.o.Demand() {
		// Peers download it too, but nobody takes from us: leave the origin
		// to those others take from. Not with a crowd (SetCrowd): its
		// members count us as an owner, so our share would be a hole.
		return false
	}
	return f.mineLocked(i)
}

// pickLocked chooses the next chunk for s: the player's window first, then
// onward from a random start (so a crowd spreads over the file); the
// origin picks at random among what it may fetch.
func (f *Fetcher) pickLocked(s *srcState, now time.Time) int {
	n := f.m.NumChunks()
	if f.prio >= 0 {
		for i := f.prio; i < n && i < f.prio+4*f.o.PerSource; i++ {
			if f.eligibleLocked(s, i, now) {
				return i
			}
		}
	}
	start := f.start
	if f.prio >= 0 {
		start = f.prio
	} else if s.origin {
		start = rand.IntN(n)
	}
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if f.eligibleLocked(s, i, now) {
			return i
		}
	}
	return -1
}

// stealLocked finds a chunk in flight elsewhere that is taking too long and
// that s could deliver instead (at most two attempts per chunk).
func (f *Fetcher) stealLocked(s *srcState, now time.Time) int {
	best, bestAge := -1, time.Duration(0)
	for i, as := range f.attempts {
		if len(as) != 1 || as[0].src == s || !s.has(i) {
			continue
		}
		if s.origin && f.peerCoversLocked(i, now) && now.Sub(f.since[i]) < f.o.OriginDelay {
			continue
		}
		a := as[0]
		_, size := f.m.ChunkRange(i)
		age := now.Sub(a.start)
		limit := max(f.o.StealAfter, 3*a.src.expected(size))
		if age < limit {
			continue
		}
		// Do not steal for a source expected to be even slower.
		if e := s.expected(size); e > 0 && e > limit*2 {
			continue
		}
		if age > bestAge {
			best, bestAge = i, age
		}
	}
	return best
}

func (f *Fetcher) timeoutLocked(s *srcState, size int64) time.Duration {
	if s.rate <= 0 {
		return f.o.Timeout / 2 // unknown speed: be patient (steals cover slowness)
	}
	t := 8 * s.expected(size)
	return min(max(t, f.o.MinTimeout), f.o.Timeout)
}

func (f *Fetcher) launchLocked(ctx context.Context, wg *sync.WaitGroup, s *srcState, i int, now time.Time) {
	_, size := f.m.ChunkRange(i)
	actx, cancel := context.WithTimeout(ctx, f.timeoutLocked(s, size))
	a := &attempt{src: s, i: i, start: now, cancel: cancel}
	f.attempts[i] = append(f.attempts[i], a)
	s.inflight++
	if s.origin {
		f.o.Sink.SetFetching(f.cid, i, true)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := f.bufs.Get().(*[]byte)
		data, err := s.s.Chunk(actx, i, *buf)
		if err == nil && int64(len(data)) != size {
			err = fmt.Errorf("chunk %d from %s: %w: %d bytes, want %d", i, s.id.Short(), ErrMisbehaving, len(data), size)
		}
		if err == nil {
			*buf = data[:cap(data)][:0]
			// Verify and store here, in parallel: the sink hashes the chunk.
			err = f.o.Sink.WriteChunk(f.cid, i, data)
			if err != nil && !errors.Is(err, library.ErrBadChunk) {
				err = &storeError{err}
			}
		}
		select {
		case f.results <- result{a: a, data: data, buf: buf, err: err}:
		case <-ctx.Done():
		}
	}()
}

// storeError is a local failure to store a verified chunk (disk full...).
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// handle applies one request's result.
func (f *Fetcher) handle(r result) error {
	a := r.a
	defer func() { a.cancel() }()
	now := time.Now()
	f.mu.Lock()
	s := a.src
	s.inflight--
	as := f.attempts[a.i]
	for k, x := range as {
		if x == a {
			as = append(as[:k], as[k+1:]...)
			break
		}
	}
	if len(as) == 0 {
		delete(f.attempts, a.i)
	} else {
		f.attempts[a.i] = as
	}
	if s.origin {
		f.o.Sink.SetFetching(f.cid, a.i, false)
	}
	var se *storeError
	if errors.As(r.err, &se) {
		f.mu.Unlock()
		f.bufs.Put(r.buf)
		return fmt.Errorf("fetching %s: storing chunk %d: %w", f.cid, a.i, se.err)
	}
	var ev []Event
	if r.err == nil {
		_, size := f.m.ChunkRange(a.i)
		d := now.Sub(a.start)
		if d <= 0 {
			d = time.Microsecond
		}
		inst := float64(size) / d.Seconds()
		if s.rate == 0 {
			s.rate = inst
		} else {
			s.rate = 0.7*s.rate + 0.3*inst
		}
		s.fails = 0
		if !s.origin {
			f.lastPeerChunk = now
		}
		s.bytes += size
		f.bytes += size
		f.rate = 0.9*f.rate + 0.1*inst*float64(max(1, len(f.srcs)))
		if f.need.Has(a.i) {
			f.need.Clear(a.i)
			f.missing--
			ev = append(ev, Event{Kind: EventChunk, Chunk: a.i, Source: s.id})
		}
		for _, x := range as { // the race is won: cancel the others
			x.cancel()
		}
	} else if f.need.Has(a.i) {
		if len(as) == 0 {
			f.since[a.i] = now
		}
		if e := f.failLocked(s, a.i, r.err, now); e != nil {
			ev = append(ev, *e)
		}
	}
	f.mu.Unlock()
	f.bufs.Put(r.buf)
	for _, e := range ev {
		f.emit(e)
	}
	return nil
}

// failLocked applies an error from source s (about chunk i, or -1) and
// returns a fault event if the source was banned or dropped.
func (f *Fetcher) failLocked(s *srcState, i int, err error, now time.Time) *Event {
	var st *StatusError
	switch {
	case s.banned || s.dropped:
		return nil
	case errors.Is(err, context.Canceled):
		return nil // we cancelled it (won elsewhere, or shutting down)
	case errors.Is(err, library.ErrBadChunk) || errors.Is(err, ErrMisbehaving):
		s.banned = true
		f.mine = nil // the crowd changed
		fl := Fault{Source: s.id, Chunk: i, Banned: true, Err: err}
		f.faults = append(f.faults, fl)
		f.log.Warn("fetcher: source banned", "source", s.id, "chunk", i, "err", err)
		return &Event{Kind: EventFault, Chunk: i, Source: s.id, Fault: &fl}
	case errors.As(err, &st) && st.Status == http.StatusServiceUnavailable:
		s.until = now.Add(max(st.RetryAfter, 50*time.Millisecond))
		return nil
	case errors.As(err, &st) && st.Status == http.StatusNotFound && s.have != nil && i >= 0:
		s.have.Clear(i) // our view of its bitmap was stale
		return nil
	case errors.As(err, &st) && st.Status == http.StatusForbidden:
		s.dropped = true
	default:
		s.fails++
		// The last source standing gets more patience (a slow link is
		// better than none); it is dropped only after 4x the failures.
		if s.fails >= f.o.MaxFailures && (f.othersAliveLocked(s) || s.fails >= 4*f.o.MaxFailures) {
			s.dropped = true
		} else {
			s.until = now.Add(time.Duration(1<<min(s.fails, 6)) * 50 * time.Millisecond)
		}
	}
	if !s.dropped {
		return nil
	}
	f.mine = nil // the crowd changed
	fl := Fault{Source: s.id, Chunk: i, Err: err}
	f.faults = append(f.faults, fl)
	f.log.Warn("fetcher: source dropped", "source", s.id, "err", err)
	return &Event{Kind: EventFault, Chunk: i, Source: s.id, Fault: &fl}
}

// othersAliveLocked reports whether a source other than s is neither banned nor dropped.
func (f *Fetcher) othersAliveLocked(s *srcState) bool {
	for _, x := range f.srcs {
		if x != s && !x.banned && !x.dropped {
			return true
		}
	}
	return false
}
