package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Group commit. SQLite has one writer at a time and every commit is an
// fsync (synchronous=FULL), so a transaction per request caps writes at the
// disk's fsyncs per second. Instead one goroutine (writeLoop) owns the
// write connection: it takes every write request queued while the previous
// commit was running, runs them in one transaction (when one fails, the
// batch runs again with each request inside its own SAVEPOINT, so the
// failed one rolls back to its savepoint and leaves the others alone),
// commits once, and only then answers each request. A
// request is acknowledged only after the commit that holds it is durable;
// if that commit fails, every request in it gets the error.

// maxBatch bounds the requests one commit holds (their wait for the
// commit grows with the batch).
const maxBatch = 256

// A commit costs ~125 µs of CPU on its own (the WAL header, the write
// calls, the fsync) besides its pages. When the last commit held several
// requests (writers are busy), the writer lingers up to lingerFor for
// more before committing, until lingerBatch are queued: under load a
// commit then holds several times as many requests, for at most
// lingerFor more latency; a lone request (the last batch held one) is
// committed at once.
const (
	lingerFor   = 500 * time.Microsecond
	lingerBatch = 16
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("sqlitestore: store closed")

type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

var reqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan error, 1)} }}

// tx runs fn as one atomic unit of a group commit and returns once it is
// durable (or failed). fn runs on the writer goroutine with a context that
// carries ctx's values but not its cancellation (cancelling one request
// must not interrupt the connection under the whole batch); a request
// whose ctx is done before its turn is not run. fn must not call tx. fn
// may run twice (when another request of its batch fails, the batch is
// rolled back and runs again, see commitBatch): it must set its results
// afresh each time and touch nothing outside tx.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	r := reqPool.Get().(*writeReq)
	r.ctx, r.fn = ctx, fn
	select {
	case s.wq <- r:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	err := <-r.done
	r.ctx, r.fn = nil, nil
	reqPool.Put(r)
	return err
}

// writeLoop is the writer goroutine; it ends when quit closes, after
// answering every request it took.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	errs := make([]error, 0, maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	last := 0 // requests the last commit held
	for {
		select {
		case r := <-s.wq:
			batch = append(batch[:0], r)
		case <-s.quit:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.wq:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if last > 1 && len(batch) < lingerBatch {
			linger.Reset(lingerFor)
		wait:
			for len(batch) < lingerBatch {
				select {
				case r := <-s.wq:
					batch = append(batch, r)
				case <-linger.C:
					break wait
				}
			}
			linger.Stop()
		}
		last = len(batch)
		errs = s.commitBatch(batch, errs[:0])
		s.batches.Add(1)
		s.batched.Add(int64(len(batch)))
		for i, r := range batch {
			r.done <- errs[i]
			batch[i] = nil
		}
	}
}

// commitBatch runs batch in one transaction and returns each request's
// outcome. It first runs every request without savepoints (two statements
// less per request); when one fails, that transaction is rolled back and
// the batch runs again with a savepoint around each request, so the
// failed one leaves the others alone. A request's fn may therefore run
// twice (the first run rolled back): it must set its results afresh.
func (s *Store) commitBatch(batch []*writeReq, errs []error) []error {
	for range batch {
		errs = append(errs, nil)
	}
	if len(batch) > 1 {
		if ok, err := s.runBatch(batch, errs, false); ok || err != nil {
			if err != nil {
				return failAll(errs, err)
			}
			return errs
		}
		clear(errs)
	}
	if _, err := s.runBatch(batch, errs, true); err != nil {
		return failAll(errs, err)
	}
	return errs
}

func failAll(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// runBatch runs batch in one transaction, each request in a savepoint of
// its own when saves is set. Without saves it stops at the first request
// that fails, rolls everything back and reports ok false (errs then holds
// nothing to keep). ok true: committed, errs holds each request's
// outcome. A non-nil error fails every request of the batch.
func (s *Store) runBatch(batch []*writeReq, errs []error, saves bool) (ok bool, err error) {
	bg := context.Background()
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		return false, fmt.Errorf("beginning a write: %w", err)
	}
	single := len(batch) == 1
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		ctx := context.WithoutCancel(r.ctx)
		if !saves || single { // no savepoint: the transaction is the request's own, or all or nothing
			if errs[i] = r.fn(ctx, tx); errs[i] != nil {
				_ = tx.Rollback()
				return false, nil
			}
			continue
		}
		if _, err := tx.ExecContext(bg, `SAVEPOINT w`); err != nil {
			_ = tx.Rollback()
			return false, fmt.Errorf("write savepoint: %w", err)
		}
		if errs[i] = r.fn(ctx, tx); errs[i] != nil {
			if _, err := tx.ExecContext(bg, `ROLLBACK TO w`); err != nil {
				// SQLite rolled the whole transaction back (I/O error, disk full):
				// nothing of this batch is kept
				_ = tx.Rollback()
				return false, fmt.Errorf("write failed and rolled back its batch: %w (%v)", errs[i], err)
			}
		}
		if _, err := tx.ExecContext(bg, `RELEASE w`); err != nil {
			_ = tx.Rollback()
			return false, fmt.Errorf("write savepoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("committing: %w", err)
	}
	return true, nil
}

// WriteStats reports how many commits the writer made and how many
// requests they held (requests/commits is the mean batch).
func (s *Store) WriteStats() (commits, requests int64) {
	return s.batches.Load(), s.batched.Load()
}
