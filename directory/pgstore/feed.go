package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

var _ directory.SharedStore = (*Store)(nil)

// feedOverlap is how far before its cursor a poll looks: a change row
// written before another may commit after it (up to this much later).
const feedOverlap = 3 * time.Second

// feedKeep is how long change rows and expired replay rows are kept.
const feedKeep = 10 * time.Minute

// noteChange adds device's row to the change feed (inside the mutating
// transaction).
func noteChange(ctx context.Context, tx pgx.Tx, device identity.ID) error {
	_, err := tx.Exec(ctx, `INSERT INTO device_changes (device) VALUES ($1)`, string(device))
	return err
}

// feedState remembers the change rows already handed out within the
// overlap, so each is handed out once.
type feedState struct {
	mu   sync.Mutex
	seen map[int64]int64 // seq -> at
}

// DeviceChanges implements directory.SharedStore.
func (s *Store) DeviceChanges(ctx context.Context, cursor int64, now time.Time) ([]directory.DeviceChange, int64, error) {
	if cursor == 0 {
		var at int64
		err := s.pool.QueryRow(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint`).Scan(&at)
		return nil, at, err
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, device, at FROM device_changes WHERE at > $1`, cursor-feedOverlap.Milliseconds())
	if err != nil {
		return nil, cursor, fmt.Errorf("reading the change feed: %w", err)
	}
	s.feed.mu.Lock()
	if s.feed.seen == nil {
		s.feed.seen = make(map[int64]int64)
	}
	next := cursor
	var devs []string
	dup := map[string]bool{}
	for rows.Next() {
		var seq, at int64
		var dev string
		if err := rows.Scan(&seq, &dev, &at); err != nil {
			s.feed.mu.Unlock()
			rows.Close()
			return nil, cursor, err
		}
		next = max(next, at)
		if _, ok := s.feed.seen[seq]; ok {
			continue
		}
		s.feed.seen[seq] = at
		if !dup[dev] {
			dup[dev] = true
			devs = append(devs, dev)
		}
	}
	for seq, at := range s.feed.seen {
		if at <= next-2*feedOverlap.Milliseconds() {
			delete(s.feed.seen, seq)
		}
	}
	s.feed.mu.Unlock()
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, cursor, err
	}
	if len(devs) == 0 {
		return nil, next, nil
	}
	out, err := s.deviceStates(ctx, devs, now)
	return out, next, err
}

// deviceStates reads the current online state of devs.
func (s *Store) deviceStates(ctx context.Context, devs []string, now time.Time) ([]directory.DeviceChange, error) {
	byID := make(map[string]*directory.DeviceChange, len(devs))
	out := make([]directory.DeviceChange, len(devs))
	for i, d := range devs {
		out[i].Device = identity.ID(d)
		byID[d] = &out[i]
	}
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.account, d.revoked, a.public_ip, a.addrs::text, a.private_addrs::text,
		a.rtts::text, a.load, a.expires FROM devices d JOIN announcements a ON a.dev = d.seq WHERE d.id = ANY($1)`, devs)
	if err != nil {
		return nil, fmt.Errorf("reading changed devices: %w", err)
	}
	for rows.Next() {
		var id, account, ip, addrs, priv, rtts string
		var revoked bool
		var load, exp int64
		if err := rows.Scan(&id, &account, &revoked, &ip, &addrs, &priv, &rtts, &load, &exp); err != nil {
			rows.Close()
			return nil, err
		}
		c := byID[id]
		if c == nil || revoked || exp <= now.UnixMilli() {
			continue
		}
		a := &directory.AnnounceRecord{Device: identity.ID(id), PublicIP: ip, Expires: rowscan.Time(exp)}
		a.Load = int(load)
		var err1, err2 error
		a.Addrs, err1 = rowscan.List(addrs)
		a.PrivateAddrs, err2 = rowscan.List(priv)
		if err1 != nil || err2 != nil {
			s.log.Warn("changed device skipped: bad row", "device", fmt.Sprintf("%.80q", id))
			continue
		}
		_ = json.Unmarshal([]byte(rtts), &a.RTTs)
		c.Account, c.Online = account, a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT d.id, h.content, h.complete, h.mode, h.allow::text, h.deny::text
		FROM holdings h JOIN devices d ON d.seq = h.dev WHERE d.id = ANY($1) AND h.expires > 0`, devs)
	if err != nil {
		return nil, fmt.Errorf("reading changed holdings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, mode, allow, deny string
		var content []byte
		var complete bool
		if err := rows.Scan(&id, &content, &complete, &mode, &allow, &deny); err != nil {
			return nil, err
		}
		c := byID[id]
		if c == nil || c.Online == nil {
			continue
		}
		h := directory.Holding{Complete: complete, Policy: directory.Policy{Mode: mode}}
		var err1, err2 error
		h.Policy.Allow, err1 = rowscan.List(allow)
		h.Policy.Deny, err2 = rowscan.List(deny)
		if len(content) != len(sealed.ContentID{}) || err1 != nil || err2 != nil {
			continue
		}
		copy(h.Content[:], content)
		c.Online.Holdings = append(c.Online.Holdings, h)
	}
	return out, rows.Err()
}

// SeenRequest implements directory.SharedStore.
func (s *Store) SeenRequest(ctx context.Context, sig []byte, expires time.Time) (bool, error) {
	h := sha256.Sum256(sig)
	var fresh bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO seen_requests (sig, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING`, h[:], rowscan.MS(expires))
		fresh = err == nil && tag.RowsAffected() == 1
		return err
	})
	return fresh, err
}

// PruneShared implements directory.SharedStore: change rows older than
// feedKeep and replay rows past their window go.
func (s *Store) PruneShared(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_changes WHERE at < $1`, rowscan.MS(now.Add(-feedKeep))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM seen_requests WHERE expires < $1`, rowscan.MS(now))
		return err
	})
}
