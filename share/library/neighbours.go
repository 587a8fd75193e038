package library

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/kith-media/kith/share/identity"
)

// Bounds on neighbours added by hand.
const (
	MaxHandNeighbours   = 64
	MaxHandNeighbourAdr = 262 // bytes: a DNS name (253), ':' and a port
	maxHandName         = 256 // bytes
)

// HandNeighbour is a neighbour added by hand: the address typed in and
// the device that proved itself there (its certificate's ID) when it was
// added.
type HandNeighbour struct {
	Addr   string
	Device identity.ID
	Name   string
	Added  time.Time
}

// HandNeighbours lists the neighbours added by hand, by address.
func (l *Library) HandNeighbours(ctx context.Context) ([]HandNeighbour, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT addr, device_id, name, added_at FROM hand_neighbours ORDER BY addr LIMIT ?`, MaxHandNeighbours)
	if err != nil {
		return nil, fmt.Errorf("listing neighbours added by hand: %w", err)
	}
	defer rows.Close()
	var out []HandNeighbour
	for rows.Next() {
		var h HandNeighbour
		var id string
		var added int64
		if err := rows.Scan(&h.Addr, &id, &h.Name, &added); err != nil {
			return nil, fmt.Errorf("listing neighbours added by hand: %w", err)
		}
		if h.Device, err = identity.ParseID(id); err != nil {
			return nil, fmt.Errorf("listing neighbours added by hand: %s: %w", h.Addr, err)
		}
		h.Added = time.UnixMilli(added)
		out = append(out, h)
	}
	return out, rows.Err()
}

// AddHandNeighbour stores h (replacing the entry of the same address). The
// caller has checked the address and the device (share.Node.AddNeighbour);
// here only the bounds are.
func (l *Library) AddHandNeighbour(ctx context.Context, h HandNeighbour) error {
	if h.Addr == "" || len(h.Addr) > MaxHandNeighbourAdr || !utf8.ValidString(h.Addr) || !h.Device.Valid() ||
		len(h.Name) > maxHandName || !utf8.ValidString(h.Name) {
		return fmt.Errorf("adding neighbour %q: want an address of at most %d bytes, a device ID and a name of at most %d bytes", h.Addr, MaxHandNeighbourAdr, maxHandName)
	}
	// One statement: the bound holds however many callers race.
	res, err := l.w.ExecContext(ctx, `INSERT INTO hand_neighbours(addr, device_id, name, added_at)
		SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM hand_neighbours) < ? OR EXISTS (SELECT 1 FROM hand_neighbours WHERE addr = ?)
		ON CONFLICT(addr) DO UPDATE SET device_id = excluded.device_id, name = excluded.name, added_at = excluded.added_at`,
		h.Addr, string(h.Device), h.Name, l.now(), MaxHandNeighbours, h.Addr)
	if err != nil {
		return fmt.Errorf("adding neighbour %s: %w", h.Addr, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("adding neighbour %s: at most %d neighbours are added by hand (remove one first)", h.Addr, MaxHandNeighbours)
	}
	return nil
}

// RemoveHandNeighbour removes the neighbours added by hand at addr or
// whose device is addr (an ID); removed tells whether one was.
func (l *Library) RemoveHandNeighbour(ctx context.Context, addr string) (removed bool, err error) {
	res, err := l.w.ExecContext(ctx, `DELETE FROM hand_neighbours WHERE addr = ? OR device_id = ?`, addr, addr)
	if err != nil {
		return false, fmt.Errorf("removing neighbour %s: %w", addr, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
