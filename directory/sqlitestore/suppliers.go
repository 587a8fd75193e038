package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

func devSeq(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id identity.ID) (int64, error) {
	var seq int64
	err := q.QueryRowContext(ctx, `SELECT seq FROM devices WHERE id = ?`, string(id)).Scan(&seq)
	return seq, notFound(err, "device "+string(id))
}

// Announce implements directory.Store: the announcement row is replaced
// and the holdings set with it.
func (s *Store) Announce(ctx context.Context, a *directory.AnnounceRecord) error {
	rtts, err := json.Marshal(a.RTTs)
	if err != nil {
		return fmt.Errorf("encoding rtts: %w", err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		seq, err := devSeq(ctx, tx, a.Device)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO announcements (dev, public_ip, addrs, private_addrs, rtts, load, expires)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dev) DO UPDATE SET public_ip = excluded.public_ip,
			addrs = excluded.addrs, private_addrs = excluded.private_addrs, rtts = excluded.rtts,
			load = excluded.load, expires = excluded.expires`,
			seq, a.PublicIP, joinLines(a.Addrs), joinLines(a.PrivateAddrs), string(rtts), a.Load, ms(a.Expires)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM holdings WHERE dev = ?`, seq); err != nil {
			return err
		}
		if len(a.Holdings) == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO holdings (content, dev, complete, policy_mode, policy_allow, policy_deny) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, h := range a.Holdings {
			if _, err := st.ExecContext(ctx, h.Content[:], seq, h.Complete, h.Policy.Mode, joinLines(h.Policy.Allow), joinLines(h.Policy.Deny)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Withdraw implements directory.Store: the device stops being listed; its
// holdings stay known (for relayed registrations).
func (s *Store) Withdraw(ctx context.Context, device identity.ID) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM announcements WHERE dev = (SELECT seq FROM devices WHERE id = ?)`, string(device))
	return err
}

// Announcement implements directory.Store (holdings are not loaded).
func (s *Store) Announcement(ctx context.Context, device identity.ID) (*directory.AnnounceRecord, error) {
	a := &directory.AnnounceRecord{Device: device}
	var addrs, priv, rtts string
	var exp int64
	err := s.r.QueryRowContext(ctx, `SELECT a.public_ip, a.addrs, a.private_addrs, a.rtts, a.load, a.expires
		FROM announcements a JOIN devices d ON d.seq = a.dev WHERE d.id = ?`, string(device)).
		Scan(&a.PublicIP, &addrs, &priv, &rtts, &a.Load, &exp)
	if err != nil {
		return nil, notFound(err, "announcement")
	}
	a.Addrs, a.PrivateAddrs, a.Expires = splitLines(addrs), splitLines(priv), fromMS(exp)
	if rtts != "" && rtts != "null" {
		if err := json.Unmarshal([]byte(rtts), &a.RTTs); err != nil {
			return nil, fmt.Errorf("decoding rtts: %w", err)
		}
	}
	return a, nil
}

// Holding implements directory.Store.
func (s *Store) Holding(ctx context.Context, device identity.ID, c sealed.ContentID) (*directory.Holding, error) {
	h := &directory.Holding{Content: c}
	var allow, deny string
	err := s.r.QueryRowContext(ctx, `SELECT h.complete, h.policy_mode, h.policy_allow, h.policy_deny
		FROM holdings h JOIN devices d ON d.seq = h.dev WHERE d.id = ? AND h.content = ?`, string(device), c[:]).
		Scan(&h.Complete, &h.Policy.Mode, &allow, &deny)
	if err != nil {
		return nil, notFound(err, "holding")
	}
	h.Policy.Allow, h.Policy.Deny = splitLines(allow), splitLines(deny)
	return h, nil
}

// SupplierCandidates implements directory.Store.
func (s *Store) SupplierCandidates(ctx context.Context, c sealed.ContentID, now time.Time, publicIP string, limit int) ([]directory.Candidate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT d.id, d.account, h.complete, h.policy_mode, h.policy_allow, h.policy_deny,
		a.addrs, a.private_addrs, a.public_ip, a.load
		FROM holdings h JOIN announcements a ON a.dev = h.dev JOIN devices d ON d.seq = h.dev
		WHERE h.content = ? AND a.expires > ? AND d.revoked = 0
		ORDER BY a.public_ip = ? DESC, a.load, h.dev LIMIT ?`, c[:], ms(now), publicIP, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.Candidate
	for rows.Next() {
		var cd directory.Candidate
		var id, allow, deny, addrs, priv string
		if err := rows.Scan(&id, &cd.Account, &cd.Complete, &cd.Policy.Mode, &allow, &deny, &addrs, &priv, &cd.PublicIP, &cd.Load); err != nil {
			return nil, err
		}
		cd.Device = identity.ID(id)
		cd.Policy.Allow, cd.Policy.Deny = splitLines(allow), splitLines(deny)
		cd.Addrs, cd.PrivateAddrs = splitLines(addrs), splitLines(priv)
		out = append(out, cd)
	}
	return out, rows.Err()
}

const outboxCols = `id, kind, payload, created, attempts, next_attempt, delivered, last_error`

func scanEvent(sc interface{ Scan(...any) error }) (*directory.OutboxEvent, error) {
	var e directory.OutboxEvent
	var created, next, delivered int64
	if err := sc.Scan(&e.ID, &e.Kind, &e.Payload, &created, &e.Attempts, &next, &delivered, &e.LastError); err != nil {
		return nil, err
	}
	e.Created, e.NextAttempt, e.Delivered = fromMS(created), fromMS(next), fromMS(delivered)
	return &e, nil
}

// PendingEvents implements directory.Store.
func (s *Store) PendingEvents(ctx context.Context, now time.Time, limit int) ([]*directory.OutboxEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE delivered = 0 AND next_attempt <= ?
		ORDER BY next_attempt, id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*directory.OutboxEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// MarkDelivered implements directory.Store.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET delivered = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, ms(at), id)
	return err
}

// MarkRetry implements directory.Store.
func (s *Store) MarkRetry(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	if len(lastErr) > 500 {
		lastErr = lastErr[:500]
	}
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?`,
		attempts, ms(next), lastErr, id)
	return err
}

// Events implements directory.Store.
func (s *Store) Events(ctx context.Context, fn func(*directory.OutboxEvent) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxCols+` FROM outbox ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
