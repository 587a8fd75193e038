package sqlitestore

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// onlineChunk is how many holdings one OnlineHoldings query returns,
// formatted and concatenated by SQLite into one string (one cgo crossing
// per chunk, not per row); a variable for tests.
var onlineChunk = 4096

// onlineQuery reads the next chunk of unexpired holdings after the
// (content, dev) cursor, in primary-key order. Every text field is
// hex-encoded inside SQLite, so no stored byte can pose as a separator:
// each record is hex(content) "," dev "," complete "," hex(mode) ","
// hex(allow) "," hex(deny), records separated by ";".
const onlineQuery = `SELECT coalesce(group_concat(r, ';'), '') FROM (
	SELECT hex(content) || ',' || dev || ',' || complete || ',' || hex(mode) || ',' || hex(allow) || ',' || hex(deny) AS r
	FROM holdings WHERE (content, dev) > (?, ?) AND expires > ? ORDER BY content, dev LIMIT ?)`

// onlineDevices reads every unexpired announcement of an unrevoked device.
const onlineDevices = `SELECT a.dev, d.id, d.account, a.public_ip, a.load, a.addrs, a.private_addrs, a.expires
	FROM announcements a JOIN devices d ON d.seq = a.dev WHERE a.expires > ? AND d.revoked = 0`

// OnlineHoldings implements directory.Store: the announced devices first
// (one row each), then a walk of the holdings primary key in chunks
// (withdrawn and revoked holdings have expires = 0). A device's fields are
// decoded once and shared by all its holdings. A row that does not decode
// is skipped and logged: one bad row must not stop the directory's start.
func (s *Store) OnlineHoldings(ctx context.Context, now time.Time, fn func(c sealed.ContentID, h *directory.Candidate) error) error {
	devs, err := s.onlineDevices(ctx, now)
	if err != nil {
		return err
	}
	skipped := 0
	defer func() {
		if skipped > 0 {
			s.log.Warn("online holdings: rows dropped as undecodable", "rows", skipped)
		}
	}()
	lastContent, lastDev := []byte{}, int64(-1)
	for {
		var all string
		// expires > 0: not withdrawn; whether it is online is its device's announcement (devs)
		if err := s.r.QueryRowContext(ctx, onlineQuery, lastContent, lastDev, 0, onlineChunk).Scan(&all); err != nil {
			return fmt.Errorf("reading holdings: %w", err)
		}
		if all == "" {
			return nil
		}
		n := 0
		for rec := range strings.SplitSeq(all, ";") {
			n++
			c, dev, h, err := decodeOnline(rec, devs)
			if err != nil {
				if skipped++; skipped <= 20 {
					s.log.Warn("online holding skipped: bad row", "err", err)
				}
			}
			if dev < 0 {
				return fmt.Errorf("reading holdings: cursor lost at %.80q", rec)
			}
			if cmp := bytes.Compare(c[:], lastContent); cmp > 0 || cmp == 0 && dev > lastDev {
				lastContent, lastDev = append(lastContent[:0], c[:]...), dev
			}
			if err != nil || h == nil {
				continue
			}
			if err := fn(c, h); err != nil {
				return err
			}
		}
		if n < onlineChunk {
			return nil
		}
	}
}

// onlineDevices reads the announced devices by sequence number; one whose
// lists do not decode is left out (its holdings are then skipped).
func (s *Store) onlineDevices(ctx context.Context, now time.Time) (map[int64]*directory.Candidate, error) {
	rows, err := s.r.QueryContext(ctx, onlineDevices, rowscan.MS(now))
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

// decodeOnline decodes one record of onlineQuery. h is nil when the device
// has no live announcement; dev is -1 when even the key does not decode.
func decodeOnline(rec string, devs map[int64]*directory.Candidate) (c sealed.ContentID, dev int64, h *directory.Candidate, err error) {
	f := strings.Split(rec, ",")
	if len(f) != 6 || len(f[0]) != 2*len(c) {
		return c, -1, nil, fmt.Errorf("malformed holdings record %.80q", rec)
	}
	if _, err := hex.Decode(c[:], []byte(f[0])); err != nil {
		return c, -1, nil, fmt.Errorf("malformed holdings record %.80q", rec)
	}
	if dev, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return c, -1, nil, fmt.Errorf("malformed holdings record %.80q", rec)
	}
	d := devs[dev]
	if d == nil {
		return c, dev, nil, nil
	}
	var text [3]string
	for i := range text {
		b, err := hex.DecodeString(f[3+i])
		if err != nil {
			return c, dev, nil, fmt.Errorf("malformed holdings record %.80q", rec)
		}
		text[i] = string(b)
	}
	hc := *d
	hc.Complete = f[2] == "1"
	hc.Policy.Mode = policyMode(text[0])
	if hc.Policy.Allow, err = rowscan.List(text[1]); err != nil {
		return c, dev, nil, err
	}
	if hc.Policy.Deny, err = rowscan.List(text[2]); err != nil {
		return c, dev, nil, err
	}
	return c, dev, &hc, nil
}

// policyMode returns the mode as a constant string when it is a known one.
func policyMode(m string) string {
	for _, k := range []string{"", directory.PolicyAnyone, directory.PolicyHousehold, directory.PolicyList, directory.PolicyNobody} {
		if m == k {
			return k
		}
	}
	return m
}
