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
	soft bool // txSoft: need not be durable when acknowledged
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
	return s.write(ctx, fn, false)
}

// txSoft is tx for a write of soft state the directory may lose in a power
// cut without harm, because its sender repeats it on its own (an
// announcement, repeated at each heartbeat; a withdrawal, whose
// announcement expires anyway): it is acknowledged once committed, without
// waiting for the disk, when every request of its commit is soft
// (synchronous=NORMAL for that commit; WAL keeps the database consistent
// and a later durable commit's fsync makes it durable too). Mixed with a
// durable write it is committed as that write is. A crowd's downloads each
// announce as they start and as they end, and the fsync was most of what
// those announcements waited for: 8 ms median (up to 59) against 2 ms on
// this machine's disk (10 devices starting together).
func (s *Store) txSoft(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.write(ctx, fn, true)
}

func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error, soft bool) error {
	r := reqPool.Get().(*writeReq)
	r.ctx, r.fn, r.soft = ctx, fn, soft
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
		if err := s.syncFor(batch); err != nil {
			errs = failAll(append(errs[:0], make([]error, len(batch))...), err)
		} else {
			errs = s.commitBatch(batch, errs[:0])
		}
		s.batches.Add(1)
		s.batched.Add(int64(len(batch)))
		for i, r := range batch {
			r.done <- errs[i]
			batch[i] = nil
		}
	}
}

// syncFor sets the write connection's synchronous mode for a commit of
// batch: NORMAL when every request is soft (txSoft), FULL otherwise. It
// runs the PRAGMA only when the mode changes (softSync is the mode last
// set; a connection database/sql opened anew starts FULL from the DSN,
// so a stale softSync can only make a soft batch durable, never a durable
// one soft). A durable batch whose FULL cannot be set fails; a soft one
// whose NORMAL cannot be set is committed durably.
func (s *Store) syncFor(batch []*writeReq) error {
	soft := true
	for _, r := range batch {
		soft = soft && r.soft
	}
	if soft == s.softSync {
		return nil
	}
	mode := "FULL"
	if soft {
		mode = "NORMAL"
	}
	if _, err := s.w.ExecContext(context.Background(), "PRAGMA synchronous = "+mode); err != nil {
		if soft {
			return nil
		}
		return fmt.Errorf("setting synchronous=FULL for a durable write: %w", err)
	}
	s.softSync = soft
	return nil
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
