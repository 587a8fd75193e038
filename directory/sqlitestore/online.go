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
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// onlineChunk is how many holdings one OnlineHoldings query returns,
// formatted and concatenated by SQLite into one string (one cgo crossing
// per chunk, not per row); a variable for tests.
var onlineChunk = 4096

// onlineQuery reads the next chunk of unexpired holdings after the
// (content, dev) cursor, in primary-key order: each record is
// hex(content) US dev US expires US rec, records separated by GS.
const onlineQuery = `SELECT coalesce(group_concat(r, char(29)), '') FROM (
	SELECT format('%s` + us + `%d` + us + `%d` + us + `%s', hex(content), dev, expires, rec) AS r
	FROM holdings WHERE (content, dev) > (?, ?) AND expires > ? ORDER BY content, dev LIMIT ?)`

// OnlineHoldings implements directory.Store: a walk of the holdings
// primary key in chunks (withdrawn and revoked holdings have expires = 0).
// A device's fields are decoded once and shared by all its holdings.
func (s *Store) OnlineHoldings(ctx context.Context, now time.Time, fn func(c sealed.ContentID, h *directory.Candidate) error) error {
	devs := make(map[int64]*directory.Candidate)
	lastContent, lastDev := []byte{}, int64(-1)
	for {
		var all string
		if err := s.r.QueryRowContext(ctx, onlineQuery, lastContent, lastDev, ms(now), onlineChunk).Scan(&all); err != nil {
			return fmt.Errorf("reading holdings: %w", err)
		}
		if all == "" {
			return nil
		}
		n := 0
		for rec := range strings.SplitSeq(all, gs) {
			n++
			c, dev, h, err := decodeOnline(rec, devs)
			if err != nil {
				return err
			}
			if cmp := bytes.Compare(c[:], lastContent); cmp > 0 || cmp == 0 && dev > lastDev {
				lastContent, lastDev = append(lastContent[:0], c[:]...), dev
			}
			if err := fn(c, &h); err != nil {
				return err
			}
		}
		if n < onlineChunk {
			return nil
		}
	}
}

// decodeOnline decodes one record of onlineQuery. The device's own fields
// come from devs when it was seen before; every string kept is cloned out
// of the chunk, so the chunk is not retained.
func decodeOnline(rec string, devs map[int64]*directory.Candidate) (sealed.ContentID, int64, directory.Candidate, error) {
	var c sealed.ContentID
	hx, rest, _ := strings.Cut(rec, us)
	devS, rest, _ := strings.Cut(rest, us)
	expS, rest, ok := strings.Cut(rest, us)
	dev, err1 := strconv.ParseInt(devS, 10, 64)
	exp, err2 := strconv.ParseInt(expS, 10, 64)
	if len(hx) != 2*len(c) || !ok || err1 != nil || err2 != nil {
		return c, 0, directory.Candidate{}, fmt.Errorf("malformed holdings record %.80q", rec)
	}
	if _, err := hex.Decode(c[:], []byte(hx)); err != nil {
		return c, 0, directory.Candidate{}, fmt.Errorf("malformed holdings record %.80q", rec)
	}
	var f [10]string
	for i := 0; i < 9; i++ {
		f[i], rest, ok = strings.Cut(rest, us)
		if !ok {
			return c, 0, directory.Candidate{}, fmt.Errorf("holding record has %d fields, want 10", i+1)
		}
	}
	f[9] = rest
	d := devs[dev]
	if d == nil {
		load, _ := strconv.Atoi(f[4])
		d = &directory.Candidate{Device: identity.ID(strings.Clone(f[1])), Account: strings.Clone(f[2]), PublicIP: strings.Clone(f[3]),
			Load: load, Addrs: splitRS(strings.Clone(f[5])), PrivateAddrs: splitRS(strings.Clone(f[6])), Expires: fromMS(exp)}
		devs[dev] = d
	}
	h := *d
	h.Complete = f[0] == "1"
	h.Policy = directory.Policy{Mode: policyMode(f[7]), Allow: splitRS(strings.Clone(f[8])), Deny: splitRS(strings.Clone(f[9]))}
	return c, dev, h, nil
}

// policyMode returns the mode as a constant string (not a slice of the chunk).
func policyMode(m string) string {
	for _, k := range []string{"", directory.PolicyAnyone, directory.PolicyHousehold, directory.PolicyList, directory.PolicyNobody} {
		if m == k {
			return k
		}
	}
	return strings.Clone(m)
}
