package peer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer/sched"
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
	f.mu.Lock()
	f.core.Begin(sched.Bitmap(have), f.clk.Now())
	f.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		f.dropResults()
		f.mu.Lock()
		var ds []library.LedgerDelta
		for _, s := range f.core.Sources() {
			if s.Bytes() > 0 {
				ds = append(ds, library.LedgerDelta{Peer: s.ID(), ContentID: f.cid, Direction: library.Down, Bytes: s.Bytes()})
			}
		}
		f.mu.Unlock()
		if err := f.record(ds); err != nil {
			f.log.Warn("fetcher: ledger", "err", err)
		}
	}()
	tick := f.clk.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Time{}
	for {
		f.mu.Lock()
		missing := f.core.Missing()
		if missing == 0 {
			f.mu.Unlock()
			break
		}
		now := f.clk.Now()
		// Requests first, then polls: a source a poll's answer just
		// showed a chunk we need is asked for it, not polled again beside
		// the request (whose answer carries its state).
		launch, alive := f.core.Schedule(now)
		for _, a := range launch {
			f.launch(ctx, &wg, a)
		}
		for _, s := range f.core.Polls(now) {
			f.poll(ctx, &wg, s)
		}
		var p *Progress
		if now.Sub(lastProgress) >= f.o.ProgressInterval {
			lastProgress = now
			pr := f.progressLocked(now)
			p = &pr
		}
		f.mu.Unlock()
		if !alive {
			return fmt.Errorf("fetching %s: %w (%d chunks missing)", f.cid, ErrNoSources, missing)
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
			fl := f.core.HaveResult(h.src, sched.HaveInfo{Have: sched.Bitmap(h.info.Have), Fetching: sched.Bitmap(h.info.Fetching),
				Complete: h.info.Complete, Downloading: h.info.Downloading, Holds: h.info.Holds}, outcome(h.err), f.clk.Now())
			f.mu.Unlock()
			f.emitFault(fl)
		case <-f.wake:
		case <-tick.C():
		case <-ctx.Done():
			return fmt.Errorf("fetching %s: %w", f.cid, ctx.Err())
		}
	}
	if err := f.o.Sink.Flush(f.cid); err != nil {
		return fmt.Errorf("fetching %s: %w", f.cid, err)
	}
	f.mu.Lock()
	p := f.progressLocked(f.clk.Now())
	f.mu.Unlock()
	f.emit(Event{Kind: EventDone, Progress: p})
	return nil
}

// record adds the bytes taken from each source to the sink's ledger.
func (f *Fetcher) record(ds []library.LedgerDelta) error {
	return f.o.Sink.RecordAll(context.Background(), ds)
}

// poll asks partial source s what it holds.
// A source that held its last poll (HaveWaiter) is asked to hold this one
// until it has a chunk we need (f.mu held: the core's Want).
func (f *Fetcher) poll(ctx context.Context, wg *sync.WaitGroup, s *sched.Source) {
	h := s.Ref.(Haver)
	cfg := f.core.Config()
	timeout := cfg.HaveTimeout
	hw, _ := s.Ref.(HaveWaiter)
	var want library.Bitmap
	if hw != nil {
		want = library.Bitmap(f.core.Want(s))
	}
	if want != nil {
		timeout += cfg.HaveWait
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		pctx, cancel := clock.WithTimeout(ctx, f.clk, timeout)
		defer cancel()
		var hi HaveInfo
		var err error
		if want != nil {
			hi, err = hw.HaveWait(pctx, want, cfg.HaveWait)
		} else {
			hi, err = h.Have(pctx)
		}
		if err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("have from %s: timed out after %v: %w", s.ID().Short(), timeout, context.DeadlineExceeded)
		}
		select {
		case f.haves <- haveResult{src: s, info: hi, err: err}:
		case <-ctx.Done():
		}
	}()
}

// launch starts the request the core decided on.
func (f *Fetcher) launch(ctx context.Context, wg *sync.WaitGroup, a *attempt) {
	i := a.Chunk
	_, size := f.m.ChunkRange(i)
	actx, cancel := clock.WithTimeout(ctx, f.clk, a.Timeout)
	a.Cancel = cancel
	src := a.Src.Ref.(Source)
	if a.Src.Origin() {
		f.origin.Set(i) // under f.mu, as launch is
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := f.getBuf()
		var dst []byte
		if buf != nil {
			dst = *buf
		}
		var data []byte
		var have *HaveInfo
		var err error
		if hc, ok := src.(HaveCarrier); ok {
			data, have, err = hc.ChunkHave(actx, i, dst)
		} else {
			data, err = src.Chunk(actx, i, dst)
		}
		if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			// The request's own timeout, whatever the source made of it
			// (on a fake clock a source sees a cancelled context).
			err = fmt.Errorf("chunk %d from %s: timed out after %v: %w", i, src.ID().Short(), a.Timeout, context.DeadlineExceeded)
		}
		if err == nil && int64(len(data)) != size {
			err = fmt.Errorf("chunk %d from %s: %w: %d bytes, want %d", i, src.ID().Short(), ErrMisbehaving, len(data), size)
		}
		if err == nil && data != nil {
			if buf == nil {
				buf = new([]byte)
			}
			*buf = data[:cap(data)][:0]
		}
		if err == nil {
			// Verify and store here, in parallel: the sink hashes the chunk.
			err = f.o.Sink.WriteChunk(f.cid, i, data)
			if err != nil && !errors.Is(err, library.ErrBadChunk) {
				err = &storeError{err}
			}
		}
		select {
		case f.results <- result{a: a, data: data, buf: buf, have: have, err: err}:
		case <-ctx.Done():
			f.putBuf(buf) // Run has ended: nobody handles it
		}
	}()
}

// dropResults gives back the buffers of the answers Run did not handle
// (they came as it ended: the last chunk's, a race lost, a download
// cancelled), once its requests have all returned. A buffer of the
// process's arena (bufArena) never given back is lost to it for good:
// the chunk buffers of uploads and downloads came from the Go heap again
// once a few downloads had ended with answers on their way.
func (f *Fetcher) dropResults() {
	for {
		select {
		case r := <-f.results:
			f.putBuf(r.buf)
		default:
			return
		}
	}
}

// storeError is a local failure to store a verified chunk (disk full...).
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// outcome classifies a request's error for the core.
func outcome(err error) sched.Outcome {
	var st *StatusError
	var de *directory.Error
	k := sched.Failed
	switch {
	case errors.As(err, &de) && de.Code == directory.CodeOriginBusy:
		return sched.Outcome{Kind: sched.Declined, RetryAfter: de.RetryAfter, Err: err}
	case err == nil:
		k = sched.OK
	case errors.Is(err, context.Canceled):
		k = sched.Canceled
	case errors.Is(err, library.ErrBadChunk) || errors.Is(err, ErrMisbehaving):
		k = sched.Bad
	case errors.As(err, &st) && st.Status == http.StatusServiceUnavailable:
		return sched.Outcome{Kind: sched.Busy, RetryAfter: st.RetryAfter, Slots: st.Slots, Err: err}
	case errors.As(err, &st) && st.Status == http.StatusNotFound:
		k = sched.NotHeld
	case errors.As(err, &st) && st.Status == http.StatusForbidden, errors.Is(err, ErrRevoked):
		k = sched.Refused
	}
	return sched.Outcome{Kind: k, Err: err}
}

// handle applies one request's result.
func (f *Fetcher) handle(r result) error {
	a := r.a
	defer func() { a.Cancel() }()
	defer f.putBuf(r.buf)
	f.mu.Lock()
	if a.Src.Origin() {
		f.origin.Clear(a.Chunk)
	}
	var se *storeError
	if errors.As(r.err, &se) {
		f.core.Result(a, sched.Outcome{Kind: sched.Canceled, Err: r.err}, f.clk.Now())
		f.mu.Unlock()
		return fmt.Errorf("fetching %s: storing chunk %d: %w", f.cid, a.Chunk, se.err)
	}
	if r.have != nil && r.err == nil {
		h := r.have
		f.core.Carried(a.Src, sched.HaveInfo{Have: sched.Bitmap(h.Have), Fetching: sched.Bitmap(h.Fetching),
			Complete: h.Complete, Downloading: h.Downloading}, f.clk.Now())
	}
	done, others, fl := f.core.Result(a, outcome(r.err), f.clk.Now())
	f.mu.Unlock()
	for _, x := range others { // the race is won: cancel the others
		x.Cancel()
	}
	if done {
		f.emit(Event{Kind: EventChunk, Chunk: a.Chunk, Source: a.Src.ID()})
	}
	f.emitFault(fl)
	return nil
}

func (f *Fetcher) emitFault(fl *sched.Fault) {
	if fl == nil {
		return
	}
	x := Fault(*fl)
	f.emit(Event{Kind: EventFault, Chunk: fl.Chunk, Source: fl.Source, Fault: &x})
}
