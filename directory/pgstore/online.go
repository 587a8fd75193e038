package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// OnlineHoldings implements directory.Store: the announced devices first
// (one row each, their fields decoded once and shared by all their
// holdings), then one streamed scan of the unexpired holdings (withdrawn
// and revoked holdings have expires = 0). A row that does not decode is
// skipped and logged: one bad row must not stop the directory's start.
func (s *Store) OnlineHoldings(ctx context.Context, now time.Time, fn func(c sealed.ContentID, h *directory.Candidate) error) error {
	devs, err := s.onlineDevices(ctx, now)
	if err != nil {
		return err
	}
	// expires > 0: not withdrawn; whether it is online is its device's announcement (devs)
	rows, err := s.pool.Query(ctx, `SELECT content, dev, complete, mode, allow::text, deny::text FROM holdings WHERE expires > 0`)
	if err != nil {
		return fmt.Errorf("reading holdings: %w", err)
	}
	defer rows.Close()
	skipped := 0
	for rows.Next() {
		var content []byte
		var dev int64
		var complete bool
		var mode, allow, deny string
		if err := rows.Scan(&content, &dev, &complete, &mode, &allow, &deny); err != nil {
			return fmt.Errorf("reading holdings: %w", err)
		}
		d := devs[dev]
		if d == nil {
			continue
		}
		var c sealed.ContentID
		hc := *d
		hc.Complete, hc.Policy.Mode = complete, mode
		var err1, err2 error
		hc.Policy.Allow, err1 = rowscan.List(allow)
		hc.Policy.Deny, err2 = rowscan.List(deny)
		if len(content) != len(c) || err1 != nil || err2 != nil {
			if skipped++; skipped <= 20 {
				s.log.Warn("online holding skipped: bad row", "device", d.Device, "err", fmt.Sprint(err1, err2))
			}
			continue
		}
		copy(c[:], content)
		if err := fn(c, &hc); err != nil {
			return err
		}
	}
	if skipped > 0 {
		s.log.Warn("online holdings: rows dropped as undecodable", "rows", skipped)
	}
	return rows.Err()
}

// onlineDevices reads the announced devices by sequence number; one whose
// lists do not decode is left out (its holdings are then skipped).
func (s *Store) onlineDevices(ctx context.Context, now time.Time) (map[int64]*directory.Candidate, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.dev, d.id, d.account, a.public_ip, a.load, a.addrs::text, a.private_addrs::text, a.expires
		FROM announcements a JOIN devices d ON d.seq = a.dev WHERE a.expires > $1 AND NOT d.revoked`, rowscan.MS(now))
	if err != nil {
		return nil, fmt.Errorf("reading announcements: %w", err)
	}
	defer rows.Close()
	devs := make(map[int64]*directory.Candidate)
	for rows.Next() {
		var seq, exp int64
		var id, addrs, priv string
		d := &directory.Candidate{}
		if err := rows.Scan(&seq, &id, &d.Account, &d.PublicIP, &d.Load, &addrs, &priv, &exp); err != nil {
			return nil, fmt.Errorf("reading announcements: %w", err)
		}
		d.Device, d.Expires = identity.ID(id), rowscan.Time(exp)
		var err1, err2 error
		d.Addrs, err1 = rowscan.List(addrs)
		d.PrivateAddrs, err2 = rowscan.List(priv)
		if err1 != nil || err2 != nil {
			s.log.Warn("announcement skipped: bad row", "device", fmt.Sprintf("%.80q", id), "err", fmt.Sprint(err1, err2))
			continue
		}
		devs[seq] = d
	}
	return devs, rows.Err()
}
