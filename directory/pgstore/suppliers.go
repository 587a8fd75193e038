package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Announce implements directory.Store: the announcement row is replaced
// and the holdings set with it (the upsert locks the announcement row, so
// two heartbeats of one device run one after the other).
func (s *Store) Announce(ctx context.Context, a *directory.AnnounceRecord) error {
	rtts, err := json.Marshal(a.RTTs)
	if err != nil {
		return fmt.Errorf("encoding rtts: %w", err)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT seq FROM devices WHERE id = $1`, string(a.Device)).Scan(&seq); err != nil {
			return notFound(err, "device "+string(a.Device))
		}
		digest := directory.HoldingsDigest(a.Holdings)
		var old []byte
		// FOR UPDATE: two heartbeats of one device go one after the other
		err := tx.QueryRow(ctx, `SELECT holdings_digest FROM announcements WHERE dev = $1 FOR UPDATE`, seq).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, annUpsert, seq, a.PublicIP, rowscan.JSONList(a.Addrs), rowscan.JSONList(a.PrivateAddrs), string(rtts), a.Load, rowscan.MS(a.Expires), digest); err != nil {
			return err
		}
		if err := noteChange(ctx, tx, a.Device); err != nil {
			return err
		}
		if bytes.Equal(old, digest) {
			return nil // the holdings did not change: they are not rewritten
		}
		if _, err := tx.Exec(ctx, `DELETE FROM holdings WHERE dev = $1`, seq); err != nil {
			return err
		}
		if len(a.Holdings) == 0 {
			return nil
		}
		rows := make([][]any, len(a.Holdings))
		for i, h := range a.Holdings {
			rows[i] = []any{h.Content[:], seq, max(rowscan.MS(a.Expires), 1), h.Complete, h.Policy.Mode, rowscan.JSONList(h.Policy.Allow), rowscan.JSONList(h.Policy.Deny)}
		}
		if len(rows) <= 8 {
			b := &pgx.Batch{}
			for _, r := range rows {
				b.Queue(holdInsert, r...)
			}
			return tx.SendBatch(ctx, b).Close()
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"holdings"}, []string{"content", "dev", "expires", "complete", "mode", "allow", "deny"},
			pgx.CopyFromRows(rows))
		return err
	})
}

const (
	annUpsert = `INSERT INTO announcements (dev, public_ip, addrs, private_addrs, rtts, load, expires, holdings_digest)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dev) DO UPDATE SET public_ip = excluded.public_ip,
		addrs = excluded.addrs, private_addrs = excluded.private_addrs, rtts = excluded.rtts,
		load = excluded.load, expires = excluded.expires, holdings_digest = excluded.holdings_digest`
	holdInsert = `INSERT INTO holdings (content, dev, expires, complete, mode, allow, deny) VALUES ($1, $2, $3, $4, $5, $6, $7)`
)

// Withdraw implements directory.Store: the device stops being listed; its
// holdings stay known (for relayed registrations).
func (s *Store) Withdraw(ctx context.Context, device identity.ID) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return withdrawTx(ctx, tx, device) })
}

func withdrawTx(ctx context.Context, tx pgx.Tx, device identity.ID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM announcements WHERE dev = (SELECT seq FROM devices WHERE id = $1)`, string(device)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE holdings SET expires = 0 WHERE dev = (SELECT seq FROM devices WHERE id = $1)`, string(device)); err != nil {
		return err
	}
	return noteChange(ctx, tx, device)
}

// Announcement implements directory.Store (holdings are not loaded).
func (s *Store) Announcement(ctx context.Context, device identity.ID) (*directory.AnnounceRecord, error) {
	a, err := rowscan.Announcement(s.pool.QueryRow(ctx, `SELECT a.public_ip, a.addrs::text, a.private_addrs::text, a.rtts::text, a.load, a.expires
		FROM announcements a JOIN devices d ON d.seq = a.dev WHERE d.id = $1`, string(device)), device)
	return a, notFound(err, "announcement")
}

// Holding implements directory.Store.
func (s *Store) Holding(ctx context.Context, device identity.ID, c sealed.ContentID) (*directory.Holding, error) {
	h, err := rowscan.Holding(s.pool.QueryRow(ctx, `SELECT h.complete, h.mode, h.allow::text, h.deny::text FROM holdings h JOIN devices d ON d.seq = h.dev
		WHERE d.id = $1 AND h.content = $2`, string(device), c[:]), c)
	return h, notFound(err, "holding")
}

// ClaimEvents implements directory.Store: FOR UPDATE SKIP LOCKED lets
// instances claim at once without waiting on each other's rows.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*directory.OutboxEvent, error) {
	var out []*directory.OutboxEvent
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `UPDATE outbox SET lease_until = $1 WHERE id IN (SELECT id FROM outbox
			WHERE delivered = 0 AND next_attempt <= $2 AND lease_until <= $2 ORDER BY next_attempt, id LIMIT $3
			FOR UPDATE SKIP LOCKED) RETURNING `+rowscan.EventCols, rowscan.MS(now.Add(lease)), rowscan.MS(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := rowscan.Event(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttempt.Equal(out[j].NextAttempt) {
			return out[i].NextAttempt.Before(out[j].NextAttempt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// MarkDelivered implements directory.Store.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64, at time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox SET delivered = $1, attempts = attempts + 1, last_error = '' WHERE id = ANY($2)`, rowscan.MS(at), ids)
		return err
	})
}

// MarkRetry implements directory.Store.
func (s *Store) MarkRetry(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	if len(lastErr) > 500 {
		lastErr = strings.ToValidUTF8(lastErr[:500], "")
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox SET attempts = $1, next_attempt = $2, last_error = $3, lease_until = 0 WHERE id = $4`,
			attempts, rowscan.MS(next), lastErr, id)
		return err
	})
}

// Events implements directory.Store.
func (s *Store) Events(ctx context.Context, fn func(*directory.OutboxEvent) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+rowscan.EventCols+` FROM outbox ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := rowscan.Event(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
