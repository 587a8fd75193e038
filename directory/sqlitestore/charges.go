package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
)

// RecordTestCharge implements directory.ChargeLedger: the first charge
// recorded under key stands; it is durable (group commit) before this
// returns. One prepared insert per charge: it is one of a purchase's three
// writes.
func (s *Store) RecordTestCharge(ctx context.Context, key string, amount int64, r *directory.ChargeResult) (*directory.ChargeResult, bool, error) {
	var standing directory.ChargeResult
	var recorded bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, chargeInsert, key, r.Token, r.Brand, r.Last4, amount, rowscan.MS(time.Now()))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		recorded = n == 1
		if recorded {
			standing = *r
			return nil
		}
		return tx.QueryRowContext(ctx, `SELECT token, brand, last4 FROM test_charges WHERE idem_key = ?`, key).
			Scan(&standing.Token, &standing.Brand, &standing.Last4)
	})
	if err != nil {
		return nil, false, err
	}
	return &standing, recorded, nil
}

// TestCharges implements directory.ChargeLedger.
func (s *Store) TestCharges(ctx context.Context) (map[string]directory.ChargeResult, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT idem_key, token, brand, last4 FROM test_charges`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]directory.ChargeResult{}
	for rows.Next() {
		var k string
		var c directory.ChargeResult
		if err := rows.Scan(&k, &c.Token, &c.Brand, &c.Last4); err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, rows.Err()
}

// ChargedPurchase implements directory.ChargeLedger: one write of the
// group commit holds the purchase, its charge, event and license.
func (s *Store) ChargedPurchase(ctx context.Context, p *directory.Purchase, key string, c *directory.ChargeResult,
	ev *directory.OutboxEvent, lic *directory.LicenseRecord) (*directory.Purchase, bool, error) {
	var cur *directory.Purchase
	var created bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		if cur, created, err = s.beginPurchase(ctx, tx, p); err != nil || !created {
			return err
		}
		res, err := s.exec(ctx, tx, chargeInsert, key, c.Token, c.Brand, c.Last4, p.Amount, rowscan.MS(time.Now()))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return cmp.Or(err, directory.ErrChargeStands) // rolls the purchase back
		}
		return s.recordPaid(ctx, tx, ev, lic)
	})
	if err != nil {
		return nil, false, err
	}
	return cur, created, nil
}
