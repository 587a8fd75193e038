package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
)

// BulkLoad inserts accounts (all with passwordHash), devices and their
// announcements with holdings in one transaction through prepared
// statements: for imports and for loading benchmark-sized data (100,000
// devices and 1,000,000 holdings take seconds, not the hours one
// transaction per row would).
func (s *Store) BulkLoad(ctx context.Context, passwordHash string, accounts []string, devs []directory.Device, anns []directory.AnnounceRecord) error {
	now := time.Now().UnixMilli()
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		prep := func(q string) (*sql.Stmt, error) { return tx.PrepareContext(ctx, q) }
		acc, err := prep(`INSERT INTO accounts (name, password_hash, created) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer acc.Close()
		for _, a := range accounts {
			if _, err := acc.ExecContext(ctx, a, passwordHash, now); err != nil {
				return fmt.Errorf("account %s: %w", a, err)
			}
		}
		dev, err := prep(`INSERT INTO devices (id, account, name, sign_key, box_key, created) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer dev.Close()
		seqs := make(map[identity.ID]int64, len(devs))
		for _, d := range devs {
			res, err := dev.ExecContext(ctx, string(d.ID), d.Account, d.Name, []byte(d.Keys.Sign), d.Keys.Box, rowscan.MS(d.Created))
			if err != nil {
				return fmt.Errorf("device %s: %w", d.ID, err)
			}
			if seqs[d.ID], err = res.LastInsertId(); err != nil {
				return err
			}
		}
		ann, err := prep(annInsert)
		if err != nil {
			return err
		}
		defer ann.Close()
		hold, err := prep(holdInsert)
		if err != nil {
			return err
		}
		defer hold.Close()
		// Announcements first, then every holding sorted by primary key, so
		// the WITHOUT ROWID b-tree is appended to instead of split at random.
		type row struct {
			content []byte
			seq     int64
			exp     int64
			h       directory.Holding
		}
		var rows []row
		for i := range anns {
			a := &anns[i]
			seq, ok := seqs[a.Device]
			if !ok {
				return fmt.Errorf("announcement of %s: device not in this load", a.Device)
			}
			rtts, _ := json.Marshal(a.RTTs)
			if _, err := ann.ExecContext(ctx, seq, a.PublicIP, rowscan.JSONList(a.Addrs), rowscan.JSONList(a.PrivateAddrs), string(rtts), a.Load, rowscan.MS(a.Expires)); err != nil {
				return fmt.Errorf("announcement of %s: %w", a.Device, err)
			}
			for _, h := range a.Holdings {
				rows = append(rows, row{h.Content[:], seq, rowscan.MS(a.Expires), h})
			}
		}
		// The secondary index is rebuilt once (a sort) rather than updated
		// a million times at random.
		if _, err := tx.ExecContext(ctx, `DROP INDEX IF EXISTS holdings_dev`); err != nil {
			return err
		}
		sort.Slice(rows, func(i, j int) bool {
			if c := bytes.Compare(rows[i].content, rows[j].content); c != 0 {
				return c < 0
			}
			return rows[i].seq < rows[j].seq
		})
		for _, r := range rows {
			if _, err := hold.ExecContext(ctx, r.content, r.seq, r.exp, r.h.Complete, r.h.Policy.Mode,
				rowscan.JSONList(r.h.Policy.Allow), rowscan.JSONList(r.h.Policy.Deny)); err != nil {
				return fmt.Errorf("holding: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE INDEX holdings_dev ON holdings(dev)`); err != nil {
			return err
		}
		return nil
	})
}
