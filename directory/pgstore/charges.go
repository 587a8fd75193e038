package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
)

// RecordTestCharge implements directory.ChargeLedger: the first charge
// recorded under key stands, whichever instance recorded it (the primary
// key decides; ON CONFLICT waits for a racing insert to commit).
func (s *Store) RecordTestCharge(ctx context.Context, key string, amount int64, r *directory.ChargeResult) (*directory.ChargeResult, bool, error) {
	var standing directory.ChargeResult
	var recorded bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO test_charges (idem_key, token, brand, last4, amount, created)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idem_key) DO NOTHING`, key, r.Token, r.Brand, r.Last4, amount, rowscan.MS(time.Now()))
		if err != nil {
			return err
		}
		recorded = tag.RowsAffected() == 1
		if recorded {
			standing = *r
			return nil
		}
		return tx.QueryRow(ctx, `SELECT token, brand, last4 FROM test_charges WHERE idem_key = $1`, key).
			Scan(&standing.Token, &standing.Brand, &standing.Last4)
	})
	if err != nil {
		return nil, false, err
	}
	return &standing, recorded, nil
}

// TestCharges implements directory.ChargeLedger.
func (s *Store) TestCharges(ctx context.Context) (map[string]directory.ChargeResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT idem_key, token, brand, last4 FROM test_charges`)
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

// ChargedPurchase implements directory.ChargeLedger: one transaction holds
// the purchase, its charge, event and license (a racing instance's insert
// of the same nonce, or charge, waits for it and finds it standing).
func (s *Store) ChargedPurchase(ctx context.Context, p *directory.Purchase, key string, c *directory.ChargeResult,
	ev *directory.OutboxEvent, lic *directory.LicenseRecord) (*directory.Purchase, bool, error) {
	var cur *directory.Purchase
	var created bool
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		if cur, created, err = beginPurchase(ctx, tx, p); err != nil || !created {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO test_charges (idem_key, token, brand, last4, amount, created)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idem_key) DO NOTHING`, key, c.Token, c.Brand, c.Last4, p.Amount, rowscan.MS(time.Now()))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return directory.ErrChargeStands // the transaction rolls back: nothing written
		}
		return recordPaid(ctx, tx, ev, lic)
	})
	if err != nil {
		return nil, false, err
	}
	return cur, created, nil
}
