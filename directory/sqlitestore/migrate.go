package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
)

//go:embed migrations/*.sql
var migrations embed.FS

// goSteps are the Go parts of migrations, run after the version's SQL in
// the same transaction (data moves that need today's validation rules).
var goSteps = map[int]func(ctx context.Context, tx *sql.Tx, log *slog.Logger) error{
	2: moveV1,
}

// migrate applies migrations/NNNN_*.sql in order, each in its own
// transaction with its Go step if it has one, recording the versions
// applied in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	if err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`)
		return err
	}); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		err = s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			if step := goSteps[v]; step != nil {
				if err := step(ctx, tx, s.log); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, v, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// v1Batch is how many version-1 rows moveV1 reads at a time (the rows are
// read in primary-key batches, not held open while inserting).
const v1Batch = 10_000

// moveV1 moves announcements_v1 and holdings_v1 (version 1's
// separator-joined text) into the real columns of version 2, dropping
// every address that fails directory.ValidateAddr or ValidatePrivateAddr
// and every holding whose record does not decode to a valid policy of its
// own device, then drops the v1 tables. What it drops is logged.
func moveV1(ctx context.Context, tx *sql.Tx, log *slog.Logger) error {
	badAddrs, err := moveV1Announcements(ctx, tx)
	if err != nil {
		return fmt.Errorf("moving announcements: %w", err)
	}
	moved, badRows, err := moveV1Holdings(ctx, tx)
	if err != nil {
		return fmt.Errorf("moving holdings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE holdings_v1; DROP TABLE announcements_v1`); err != nil {
		return err
	}
	if badAddrs > 0 || badRows > 0 {
		log.Warn("migration 2: dropped what fails validation (a hostile or corrupt announcement)",
			"addresses", badAddrs, "holdings", badRows, "holdings_kept", moved)
	}
	return nil
}

func moveV1Announcements(ctx context.Context, tx *sql.Tx) (bad int, err error) {
	type ann struct {
		dev             int64
		ip, addrs, priv string
		rtts            string
		load, expires   int64
	}
	last := int64(-1)
	for {
		rows, err := tx.QueryContext(ctx, `SELECT dev, public_ip, addrs, private_addrs, rtts, load, expires
			FROM announcements_v1 WHERE dev > ? ORDER BY dev LIMIT ?`, last, v1Batch)
		if err != nil {
			return bad, err
		}
		var batch []ann
		for rows.Next() {
			var a ann
			if err := rows.Scan(&a.dev, &a.ip, &a.addrs, &a.priv, &a.rtts, &a.load, &a.expires); err != nil {
				rows.Close()
				return bad, err
			}
			batch = append(batch, a)
		}
		if err := rows.Close(); err != nil {
			return bad, err
		}
		for _, a := range batch {
			last = a.dev
			addrs, n1 := keepValid(splitLines(a.addrs), directory.ValidateAddr)
			priv, n2 := keepValid(splitLines(a.priv), directory.ValidatePrivateAddr)
			bad += n1 + n2
			var rtts map[string]int64
			if json.Unmarshal([]byte(a.rtts), &rtts) != nil {
				rtts = nil
			}
			rj, _ := json.Marshal(rtts)
			if _, err := tx.ExecContext(ctx, annInsert, a.dev, a.ip, rowscan.JSONList(addrs), rowscan.JSONList(priv), string(rj), a.load, a.expires); err != nil {
				return bad, err
			}
		}
		if len(batch) < v1Batch {
			return bad, nil
		}
	}
}

func keepValid(v []string, check func(string) error) (kept []string, dropped int) {
	for _, s := range v {
		if check(s) == nil {
			kept = append(kept, s)
		} else {
			dropped++
		}
	}
	return kept, dropped
}

func moveV1Holdings(ctx context.Context, tx *sql.Tx) (moved, bad int, err error) {
	type hold struct {
		content []byte
		dev     int64
		expires int64
		rec, id string
	}
	lastC, lastD := []byte{}, int64(-1)
	for {
		rows, err := tx.QueryContext(ctx, `SELECT h.content, h.dev, h.expires, h.rec, coalesce(d.id, '')
			FROM holdings_v1 h LEFT JOIN devices d ON d.seq = h.dev
			WHERE (h.content, h.dev) > (?, ?) ORDER BY h.content, h.dev LIMIT ?`, lastC, lastD, v1Batch)
		if err != nil {
			return moved, bad, err
		}
		var batch []hold
		for rows.Next() {
			var h hold
			if err := rows.Scan(&h.content, &h.dev, &h.expires, &h.rec, &h.id); err != nil {
				rows.Close()
				return moved, bad, err
			}
			batch = append(batch, h)
		}
		if err := rows.Close(); err != nil {
			return moved, bad, err
		}
		for _, h := range batch {
			lastC, lastD = h.content, h.dev
			complete, p, ok := decodeV1Rec(h.rec, identity.ID(h.id))
			if !ok || len(h.content) != 32 {
				bad++
				continue
			}
			if _, err := tx.ExecContext(ctx, holdInsert, h.content, h.dev, h.expires, complete, p.Mode, rowscan.JSONList(p.Allow), rowscan.JSONList(p.Deny)); err != nil {
				return moved, bad, err
			}
			moved++
		}
		if len(batch) < v1Batch {
			return moved, bad, nil
		}
	}
}

// decodeV1Rec decodes version 1's holdings.rec — complete US id US account
// US public_ip US load US addrs(RS) US private_addrs(RS) US mode US
// allow(RS) US deny(RS) — and accepts it only if it has exactly ten fields,
// names its own device and every field passes today's validation (a field
// holding a separator shifted the others: such a row is refused whole).
func decodeV1Rec(rec string, dev identity.ID) (complete bool, p directory.Policy, ok bool) {
	f := strings.Split(rec, us)
	if len(f) != 10 || dev == "" || f[1] != string(dev) || f[0] != "0" && f[0] != "1" {
		return false, p, false
	}
	for _, a := range splitRS(f[5]) {
		if directory.ValidateAddr(a) != nil {
			return false, p, false
		}
	}
	for _, a := range splitRS(f[6]) {
		if directory.ValidatePrivateAddr(a) != nil {
			return false, p, false
		}
	}
	p = directory.Policy{Mode: f[7], Allow: splitRS(f[8]), Deny: splitRS(f[9])}
	if p.Validate() != nil {
		return false, p, false
	}
	return f[0] == "1", p, true
}

func splitRS(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, rs)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
