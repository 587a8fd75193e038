package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Separators of version 1's holdings.rec (read only by migration 2).
const (
	us = "\x1f" // between fields
	rs = "\x1e" // between list items
)

// Announce implements directory.Store: the announcement row is replaced
// and the holdings set with it.
func (s *Store) Announce(ctx context.Context, a *directory.AnnounceRecord) error {
	rtts, err := json.Marshal(a.RTTs)
	if err != nil {
		return fmt.Errorf("encoding rtts: %w", err)
	}
	return s.txSoft(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var seq int64
		err := s.queryRow(ctx, tx, deviceSeq, string(a.Device)).Scan(&seq)
		if err != nil {
			return notFound(err, "device "+string(a.Device))
		}
		return s.announceTx(ctx, tx, seq, a, string(rtts))
	})
}

// announceTx writes one announcement and, when their digest changed, its
// holdings (a heartbeat repeating its holdings writes one row).
func (s *Store) announceTx(ctx context.Context, tx *sql.Tx, seq int64, a *directory.AnnounceRecord, rtts string) error {
	digest := directory.HoldingsDigest(a.Holdings)
	var old []byte
	if err := s.queryRow(ctx, tx, annDigest, seq).Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := s.exec(ctx, tx, annUpsert, seq, a.PublicIP, rowscan.JSONList(a.Addrs), rowscan.JSONList(a.PrivateAddrs), rtts, a.Load, rowscan.MS(a.Expires), digest); err != nil {
		return err
	}
	if bytes.Equal(old, digest) {
		return nil
	}
	// Both statements are prepared once on the writer (hotWrites): a
	// download's start and its completion each change a device's
	// holdings, so a crowd of N sends about 2N such announcements, and
	// each compiled them again.
	if _, err := s.exec(ctx, tx, holdDelete, seq); err != nil {
		return err
	}
	if len(a.Holdings) == 0 {
		return nil
	}
	hold := s.stmt(ctx, tx, holdInsert)
	defer hold.Close()
	live := max(rowscan.MS(a.Expires), 1) // positive: not withdrawn
	for _, h := range a.Holdings {
		if _, err := hold.ExecContext(ctx, h.Content[:], seq, live, h.Complete, h.Policy.Mode,
			rowscan.JSONList(h.Policy.Allow), rowscan.JSONList(h.Policy.Deny)); err != nil {
			return err
		}
	}
	return nil
}

const (
	annInsert = `INSERT INTO announcements (dev, public_ip, addrs, private_addrs, rtts, load, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dev) DO UPDATE SET public_ip = excluded.public_ip,
		addrs = excluded.addrs, private_addrs = excluded.private_addrs, rtts = excluded.rtts,
		load = excluded.load, expires = excluded.expires`
	annUpsert = `INSERT INTO announcements (dev, public_ip, addrs, private_addrs, rtts, load, expires, holdings_digest)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dev) DO UPDATE SET public_ip = excluded.public_ip,
		addrs = excluded.addrs, private_addrs = excluded.private_addrs, rtts = excluded.rtts,
		load = excluded.load, expires = excluded.expires, holdings_digest = excluded.holdings_digest`
	annDigest  = `SELECT holdings_digest FROM announcements WHERE dev = ?`
	holdDelete = `DELETE FROM holdings WHERE dev = ?`
	holdInsert = `INSERT INTO holdings (content, dev, expires, complete, mode, allow, deny) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// Withdraw implements directory.Store: the device stops being listed; its
// holdings stay known (for relayed registrations).
func (s *Store) Withdraw(ctx context.Context, device identity.ID) error {
	return s.txSoft(ctx, func(ctx context.Context, tx *sql.Tx) error { return withdrawTx(ctx, tx, device) })
}

func withdrawTx(ctx context.Context, tx *sql.Tx, device identity.ID) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM announcements WHERE dev = (SELECT seq FROM devices WHERE id = ?)`, string(device)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE holdings SET expires = 0 WHERE dev = (SELECT seq FROM devices WHERE id = ?)`, string(device))
	return err
}

// Announcement implements directory.Store (holdings are not loaded).
func (s *Store) Announcement(ctx context.Context, device identity.ID) (*directory.AnnounceRecord, error) {
	a, err := rowscan.Announcement(s.q.announcement.QueryRowContext(ctx, string(device)), device)
	return a, notFound(err, "announcement")
}

// Holding implements directory.Store.
func (s *Store) Holding(ctx context.Context, device identity.ID, c sealed.ContentID) (*directory.Holding, error) {
	h, err := rowscan.Holding(s.r.QueryRowContext(ctx, `SELECT h.complete, h.mode, h.allow, h.deny FROM holdings h JOIN devices d ON d.seq = h.dev
		WHERE d.id = ? AND h.content = ?`, string(device), c[:]), c)
	return h, notFound(err, "holding")
}

// candidateCols reads a holding with its device's announcement.
const candidateCols = `d.id, d.account, a.public_ip, a.load, a.addrs, a.private_addrs, a.expires, h.complete, h.mode, h.allow, h.deny`

func scanCandidate(sc interface{ Scan(...any) error }) (directory.Candidate, error) {
	var c directory.Candidate
	var id, addrs, priv, allow, deny string
	var exp int64
	if err := sc.Scan(&id, &c.Account, &c.PublicIP, &c.Load, &addrs, &priv, &exp, &c.Complete, &c.Policy.Mode, &allow, &deny); err != nil {
		return c, err
	}
	c.Device, c.Expires = identity.ID(id), rowscan.Time(exp)
	var err error
	for _, f := range []struct {
		dst *[]string
		s   string
	}{{&c.Addrs, addrs}, {&c.PrivateAddrs, priv}, {&c.Policy.Allow, allow}, {&c.Policy.Deny, deny}} {
		if *f.dst, err = rowscan.List(f.s); err != nil {
			return c, err
		}
	}
	return c, nil
}

// SupplierCandidates returns up to limit holders of c whose announcement is
// unexpired at now and who are not revoked or withdrawn, in device order;
// publicIP is not used. The server does not call it (it ranks from its
// in-memory index, see OnlineHoldings); it serves tools and tests. A row
// that does not decode is skipped and logged.
func (s *Store) SupplierCandidates(ctx context.Context, c sealed.ContentID, now time.Time, publicIP string, limit int) ([]directory.Candidate, error) {
	rows, err := s.q.candidates.QueryContext(ctx, c[:], rowscan.MS(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.Candidate
	for rows.Next() {
		cd, err := scanCandidate(rows)
		if err != nil {
			s.log.Warn("holding skipped: bad row", "content", c, "err", err)
			continue
		}
		out = append(out, cd)
	}
	return out, rows.Err()
}

// ClaimEvents implements directory.Store (one UPDATE … RETURNING).
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*directory.OutboxEvent, error) {
	var out []*directory.OutboxEvent
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (SELECT id FROM outbox
			WHERE delivered = 0 AND next_attempt <= ? AND lease_until <= ? ORDER BY next_attempt, id LIMIT ?)
			RETURNING `+rowscan.EventCols, rowscan.MS(now.Add(lease)), rowscan.MS(now), rowscan.MS(now), limit)
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
	sortEvents(out)
	return out, err
}

// sortEvents orders events oldest due first (RETURNING has no order).
func sortEvents(evs []*directory.OutboxEvent) {
	sort.Slice(evs, func(i, j int) bool {
		if !evs[i].NextAttempt.Equal(evs[j].NextAttempt) {
			return evs[i].NextAttempt.Before(evs[j].NextAttempt)
		}
		return evs[i].ID < evs[j].ID
	})
}

// MarkDelivered implements directory.Store.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64, at time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := s.exec(ctx, tx, markDelivered, rowscan.MS(at), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkRetry implements directory.Store.
func (s *Store) MarkRetry(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	if len(lastErr) > 500 {
		lastErr = lastErr[:500]
	}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ?, lease_until = 0 WHERE id = ?`,
			attempts, rowscan.MS(next), lastErr, id)
		return err
	})
}

// Events implements directory.Store.
func (s *Store) Events(ctx context.Context, fn func(*directory.OutboxEvent) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowscan.EventCols+` FROM outbox ORDER BY id`)
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
