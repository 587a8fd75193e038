package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Field separators inside holdings.info and holdings.policy (validation
// keeps control characters out of every field).
const (
	us = "\x1f" // between fields
	rs = "\x1e" // between list items
	gs = "\x1d" // between records in a lookup answer
)

// holdingRec encodes one holding row's rec column (see the schema).
func holdingRec(dev identity.ID, account string, a *directory.AnnounceRecord, h directory.Holding) string {
	complete := "0"
	if h.Complete {
		complete = "1"
	}
	return strings.Join([]string{complete, string(dev), account, a.PublicIP, strconv.Itoa(a.Load),
		strings.Join(a.Addrs, rs), strings.Join(a.PrivateAddrs, rs),
		h.Policy.Mode, strings.Join(h.Policy.Allow, rs), strings.Join(h.Policy.Deny, rs)}, us)
}

func splitRS(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, rs)
}

// decodeRec is the inverse of holdingRec.
func decodeRec(rec string) (directory.Candidate, error) {
	f := strings.SplitN(rec, us, 10)
	if len(f) != 10 {
		return directory.Candidate{}, fmt.Errorf("holding record has %d fields, want 10", len(f))
	}
	load, _ := strconv.Atoi(f[4])
	return directory.Candidate{Complete: f[0] == "1", Device: identity.ID(f[1]), Account: f[2], PublicIP: f[3], Load: load,
		Addrs: splitRS(f[5]), PrivateAddrs: splitRS(f[6]),
		Policy: directory.Policy{Mode: f[7], Allow: splitRS(f[8]), Deny: splitRS(f[9])}}, nil
}

// Announce implements directory.Store: the announcement row is replaced
// and the holdings set with it.
func (s *Store) Announce(ctx context.Context, a *directory.AnnounceRecord) error {
	rtts, err := json.Marshal(a.RTTs)
	if err != nil {
		return fmt.Errorf("encoding rtts: %w", err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		var account string
		err := tx.QueryRowContext(ctx, `SELECT seq, account FROM devices WHERE id = ?`, string(a.Device)).Scan(&seq, &account)
		if err != nil {
			return notFound(err, "device "+string(a.Device))
		}
		return announceTx(ctx, tx, seq, account, a, string(rtts))
	})
}

// announceTx writes one announcement and its holdings.
func announceTx(ctx context.Context, tx *sql.Tx, seq int64, account string, a *directory.AnnounceRecord, rtts string) error {
	if _, err := tx.ExecContext(ctx, annInsert, seq, a.PublicIP, joinLines(a.Addrs), joinLines(a.PrivateAddrs), rtts, a.Load, ms(a.Expires)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM holdings WHERE dev = ?`, seq); err != nil {
		return err
	}
	if len(a.Holdings) == 0 {
		return nil
	}
	hold, err := tx.PrepareContext(ctx, holdInsert)
	if err != nil {
		return err
	}
	defer hold.Close()
	for _, h := range a.Holdings {
		if _, err := hold.ExecContext(ctx, h.Content[:], seq, ms(a.Expires), holdingRec(a.Device, account, a, h)); err != nil {
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
	holdInsert = `INSERT INTO holdings (content, dev, expires, rec) VALUES (?, ?, ?, ?)`
)

// Withdraw implements directory.Store: the device stops being listed; its
// holdings stay known (for relayed registrations).
func (s *Store) Withdraw(ctx context.Context, device identity.ID) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return withdrawTx(ctx, tx, device) })
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
	a := &directory.AnnounceRecord{Device: device}
	var addrs, priv, rtts string
	var exp int64
	err := s.q.announcement.QueryRowContext(ctx, string(device)).Scan(&a.PublicIP, &addrs, &priv, &rtts, &a.Load, &exp)
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
	var rec string
	err := s.r.QueryRowContext(ctx, `SELECT h.rec FROM holdings h JOIN devices d ON d.seq = h.dev
		WHERE d.id = ? AND h.content = ?`, string(device), c[:]).Scan(&rec)
	if err != nil {
		return nil, notFound(err, "holding")
	}
	cd, err := decodeRec(rec)
	if err != nil {
		return nil, err
	}
	return &directory.Holding{Content: c, Complete: cd.Complete, Policy: cd.Policy}, nil
}

// SupplierCandidates returns up to limit holders of c whose announcement is
// unexpired at now and who are not revoked or withdrawn: one range scan of
// the holdings primary key, concatenated inside SQLite (group separator
// 0x1d) so the whole answer crosses cgo once. The order is by device
// sequence; publicIP is not used. The server does not call it (it ranks
// from its in-memory index, see OnlineHoldings); it serves tools and tests.
func (s *Store) SupplierCandidates(ctx context.Context, c sealed.ContentID, now time.Time, publicIP string, limit int) ([]directory.Candidate, error) {
	var all string
	if err := s.q.candidates.QueryRowContext(ctx, c[:], ms(now), limit).Scan(&all); err != nil {
		return nil, err
	}
	if all == "" {
		return nil, nil
	}
	recs := strings.Split(all, gs)
	out := make([]directory.Candidate, 0, len(recs))
	for _, rec := range recs {
		cd, err := decodeRec(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, cd)
	}
	return out, nil
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
