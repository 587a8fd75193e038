package library

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Directions of ledger entries.
const (
	Up   = "up"   // we uploaded to the peer
	Down = "down" // we downloaded from the peer
)

// LedgerEntry is the running total of bytes exchanged with one peer for one content.
type LedgerEntry struct {
	Peer      identity.ID
	ContentID sealed.ContentID
	Direction string // Up or Down
	Bytes     int64
	Requests  int64
	First     time.Time
	Last      time.Time
}

// Record adds bytes to the ledger for (peer, cid, direction): RecordAll of
// one delta.
func (l *Library) Record(ctx context.Context, peer identity.ID, cid sealed.ContentID, direction string, bytes int64) error {
	return l.RecordAll(ctx, []LedgerDelta{{Peer: peer, ContentID: cid, Direction: direction, Bytes: bytes}})
}

// LedgerDelta is bytes to add to the ledger entry of (Peer, ContentID, Direction).
type LedgerDelta struct {
	Peer      identity.ID
	ContentID sealed.ContentID
	Direction string // Up or Down
	Bytes     int64
}

// recordRows is how many ledger deltas one statement adds at most; more
// are added in a transaction of such statements.
const recordRows = 8

// recordLedger adds up to recordRows deltas to their entries in one
// statement, so atomically (SQLite runs a statement all or nothing). Rows
// beyond the deltas given are NULL and skipped: one statement text for
// any count, prepared once per connection (stmtCache), where a text per
// count was prepared again for each count a device met.
var recordLedger = `INSERT INTO ledger(peer, content_id, direction, bytes, requests, first_at, last_at)
	SELECT column1, column2, column3, column4, 1, column5, column6 FROM (VALUES ` +
	strings.Repeat(`(?, ?, ?, ?, ?, ?), `, recordRows-1) + `(?, ?, ?, ?, ?, ?))
	WHERE column1 IS NOT NULL
	ON CONFLICT(peer, content_id, direction) DO UPDATE SET
	bytes = bytes + excluded.bytes, requests = requests + 1, last_at = excluded.last_at`

// RecordAll adds every delta to its ledger entry (bytes summed, one request
// counted): a peer server flushes its uploads to all its peers every
// second and a download its bytes from each source at its end. All are
// recorded or, on an error, none: up to recordRows deltas (a flush's usual
// count: one per peer) in one statement, which SQLite runs atomically in a
// transaction of its own; more in one explicit transaction. One statement
// costs a device about half the CPU of a transaction begun, an upsert per
// delta and a commit (BenchmarkRecordAll), which it paid every second
// while uploading; one commit for all deltas costs what one of them did
// alone (a crowd's nodes spent 1.3 % of their CPU in these commits, one
// per peer).
func (l *Library) RecordAll(ctx context.Context, ds []LedgerDelta) error {
	if len(ds) == 0 {
		return nil
	}
	now := l.now()
	if len(ds) <= recordRows {
		if _, err := l.w.ExecContext(ctx, recordLedger, recordArgs(ds, now)...); err != nil {
			return fmt.Errorf("recording ledger: %w", err)
		}
		return nil
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("recording ledger: %w", err)
	}
	defer tx.Rollback()
	for len(ds) > 0 {
		k := min(len(ds), recordRows)
		// Exec, not a Prepare: Exec takes the statement from the
		// connection's cache (stmtCache), a Prepare compiles it again.
		if _, err := tx.ExecContext(ctx, recordLedger, recordArgs(ds[:k], now)...); err != nil {
			return fmt.Errorf("recording ledger: %w", err)
		}
		ds = ds[k:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording ledger: %w", err)
	}
	return nil
}

// recordArgs are recordLedger's arguments for ds (at most recordRows):
// the rows beyond them NULL.
func recordArgs(ds []LedgerDelta, now int64) []any {
	args := make([]any, 6*recordRows)
	for i, d := range ds {
		copy(args[6*i:], []any{string(d.Peer), d.ContentID.String(), d.Direction, d.Bytes, now, now})
	}
	return args
}

// Ledger lists ledger entries, newest first; peer "" means every peer.
func (l *Library) Ledger(ctx context.Context, peer identity.ID, limit int) ([]LedgerEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := l.r.QueryContext(ctx, `SELECT peer, content_id, direction, bytes, requests, first_at, last_at FROM ledger
		WHERE ? = '' OR peer = ? ORDER BY last_at DESC LIMIT ?`, string(peer), string(peer), limit)
	if err != nil {
		return nil, fmt.Errorf("listing ledger: %w", err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var e LedgerEntry
		var p, cid string
		var first, last int64
		if err := rows.Scan(&p, &cid, &e.Direction, &e.Bytes, &e.Requests, &first, &last); err != nil {
			return nil, fmt.Errorf("listing ledger: %w", err)
		}
		e.Peer = identity.ID(p)
		if e.ContentID, err = sealed.ParseContentID(cid); err != nil {
			return nil, fmt.Errorf("listing ledger: %w", err)
		}
		e.First, e.Last = time.UnixMilli(first), time.UnixMilli(last)
		out = append(out, e)
	}
	return out, rows.Err()
}
