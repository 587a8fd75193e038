package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
)

// Store is a directory.Store on a PostgreSQL database (a pgx pool).
type Store struct {
	log  *slog.Logger
	pool *pgxpool.Pool
	o    Options
	txs  atomic.Int64 // transactions begun, for FailEvery
	feed feedState
}

var _ directory.Store = (*Store)(nil)

// Options tunes Open.
type Options struct {
	// MaxConns is the pool size; 0 = pgxpool's default (4 or the CPUs).
	MaxConns int32
	// Serializable runs every transaction at SERIALIZABLE instead of READ
	// COMMITTED (every rule holds at both: unique indexes and row locks
	// decide, never a read followed by a write).
	Serializable bool
	// MaxRetries bounds how often a transaction that failed with a
	// serialization failure (SQLSTATE 40001) or a deadlock (40P01) is run
	// again; 0 = 10.
	MaxRetries int
	// FailEvery, when > 0, makes every FailEvery-th transaction fail at its
	// end with a real 40001 raised by the server (fault injection: the
	// store suite runs once this way to prove the retries).
	FailEvery int64
	// Logger: rows skipped as undecodable, retries; nil = slog.Default().
	Logger *slog.Logger
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and applies any pending migrations.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing the PostgreSQL address: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	s := &Store{log: o.Logger, pool: pool, o: o}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// SchemaVersion is the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Retryable reports whether err is a serialization failure (40001) or a
// deadlock (40P01): the transaction can be run again as it was.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// tx runs fn in one transaction, again from the start when it fails with
// a serialization failure or deadlock (up to Options.MaxRetries times,
// with a short random backoff). fn must have no effect outside the
// transaction but on its own result variables. It is the one place that
// retries.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.tx1(ctx, fn)
		if err == nil || !Retryable(err) || attempt >= s.o.MaxRetries {
			return err
		}
		s.log.Debug("retrying a transaction", "attempt", attempt+1, "err", err)
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
	}
}

// injected is the statement FailEvery runs: the server raises a real 40001.
const injected = `DO $$ BEGIN RAISE EXCEPTION 'injected serialization failure (Options.FailEvery)' USING ERRCODE = 'serialization_failure'; END $$`

func (s *Store) tx1(ctx context.Context, fn func(pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if s.o.Serializable {
		opts.IsoLevel = pgx.Serializable
	}
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if err := fn(tx); err != nil {
		return err
	}
	if n := s.o.FailEvery; n > 0 && s.txs.Add(1)%n == 0 {
		if _, err := tx.Exec(ctx, injected); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, directory.ErrNotFound)
	}
	return err
}

// CreateAccount implements directory.Store.
func (s *Store) CreateAccount(ctx context.Context, name, hash string, now time.Time) error {
	var taken bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO accounts (name, password_hash, created) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, hash, rowscan.MS(now))
		if err != nil {
			return err
		}
		if taken = tag.RowsAffected() == 0; taken {
			// a taken name costs the same committed write as a free one: the
			// server answers both alike, and their timing should not differ
			_, err = tx.Exec(ctx, `UPDATE accounts SET created = created WHERE name = $1`, name)
		}
		return err
	})
	if err == nil && taken {
		return fmt.Errorf("account %q: %w", name, directory.ErrExists)
	}
	return err
}

// PasswordHash implements directory.Store.
func (s *Store) PasswordHash(ctx context.Context, account string) (string, error) {
	var h string
	err := s.pool.QueryRow(ctx, `SELECT password_hash FROM accounts WHERE name = $1`, account).Scan(&h)
	return h, notFound(err, "account "+account)
}

// Accounts implements directory.Store.
func (s *Store) Accounts(ctx context.Context) ([]directory.AccountSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.name, a.created,
		(SELECT count(*) FROM devices d WHERE d.account = a.name AND NOT d.revoked),
		(SELECT count(*) FROM devices d WHERE d.account = a.name AND d.revoked),
		(SELECT count(*) FROM purchases p WHERE p.account = a.name AND p.state = 'paid')
		FROM accounts a ORDER BY a.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.AccountSummary
	for rows.Next() {
		var a directory.AccountSummary
		var created int64
		if err := rows.Scan(&a.Name, &created, &a.Devices, &a.Removed, &a.Purchases); err != nil {
			return nil, err
		}
		a.Created = rowscan.Time(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// EnrollDevice implements directory.Store. The insert decides (ON CONFLICT
// waits for a concurrent enrollment of the same key), then the standing
// row is renamed if it is the same account's and not revoked. With a cap
// (max > 0) the account's row is locked first (FOR UPDATE): enrolments of
// one account, on any instance, count its devices one after the other;
// the same key's standing row is renamed without counting.
func (s *Store) EnrollDevice(ctx context.Context, d directory.Device, max int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if max > 0 {
			err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE name = $1 FOR UPDATE`, d.Account).Scan(new(int))
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			var n int
			var standing bool
			if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE account = $1 AND NOT revoked), coalesce(bool_or(id = $2), false)
				FROM devices WHERE account = $1 OR id = $2`, d.Account, string(d.ID)).Scan(&n, &standing); err != nil {
				return err
			}
			if !standing && n >= max {
				return &directory.DeviceLimitError{Account: d.Account, Devices: n}
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO devices (id, account, name, sign_key, box_key, created) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO NOTHING`, string(d.ID), d.Account, d.Name, []byte(d.Keys.Sign), d.Keys.Box, rowscan.MS(d.Created))
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		tag, err = tx.Exec(ctx, `UPDATE devices SET name = $1 WHERE id = $2 AND account = $3 AND NOT revoked`,
			d.Name, string(d.ID), d.Account)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("device %s: %w", d.ID, directory.ErrExists)
		}
		return err
	})
}

// Device implements directory.Store.
func (s *Store) Device(ctx context.Context, id identity.ID) (*directory.Device, error) {
	d, err := rowscan.Device(s.pool.QueryRow(ctx, `SELECT `+rowscan.DeviceCols+` FROM devices WHERE id = $1`, string(id)))
	return d, notFound(err, "device "+string(id))
}

// Devices implements directory.Store.
func (s *Store) Devices(ctx context.Context, account string) ([]directory.Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rowscan.DeviceCols+` FROM devices WHERE account = $1 AND NOT revoked ORDER BY created, id`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.Device
	for rows.Next() {
		d, err := rowscan.Device(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// RevokeDevice implements directory.Store.
// A revoked device is withdrawn in the same transaction.
func (s *Store) RevokeDevice(ctx context.Context, account string, id identity.ID) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE devices SET revoked = true WHERE id = $1 AND account = $2`, string(id), account)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("device %s: %w", id, directory.ErrNotFound)
		}
		return withdrawTx(ctx, tx, id)
	})
}

// LeaveAccount implements directory.Store: the device's holdings,
// announcement and row go in one transaction.
func (s *Store) LeaveAccount(ctx context.Context, account string, id identity.ID) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var seq int64
		err := tx.QueryRow(ctx, `SELECT seq FROM devices WHERE id = $1 AND account = $2 AND NOT revoked FOR UPDATE`, string(id), account).Scan(&seq)
		if err != nil {
			return notFound(err, "device "+string(id)+" of account "+account)
		}
		for _, q := range []string{`DELETE FROM holdings WHERE dev = $1`, `DELETE FROM announcements WHERE dev = $1`, `DELETE FROM devices WHERE seq = $1`} {
			if _, err := tx.Exec(ctx, q, seq); err != nil {
				return err
			}
		}
		return noteChange(ctx, tx, id)
	})
}

// BindIdentity records id as the directory key this database belongs to,
// or, when one is recorded, checks that it is id (directory.ErrOtherIdentity
// otherwise). Instances starting together agree: the first insert wins.
func (s *Store) BindIdentity(ctx context.Context, id identity.ID, now time.Time) error {
	var got string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO directory_identity (singleton, id, bound) VALUES (1, $1, $2) ON CONFLICT DO NOTHING`,
			string(id), rowscan.MS(now)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT id FROM directory_identity`).Scan(&got)
	})
	if err == nil && got != string(id) {
		err = fmt.Errorf("database of directory %s, key file of %s: %w", got, id, directory.ErrOtherIdentity)
	}
	return err
}
