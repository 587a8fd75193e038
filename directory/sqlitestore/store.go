package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
)

// driverName is mattn's driver with per-connection tuning: each connection
// gets a 32 MiB page cache and temporary trees stay in memory. (mmap was
// tried: it helps pure lookups but costs purchases 50 % more CPU, as every
// reader re-maps the growing file.)
const driverName = "sqlite3_kith"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(`PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY`, nil)
		return err
	}})
}

// Store is a directory.Store on one SQLite file: one writer connection
// (every transaction BEGIN IMMEDIATE, synchronous=FULL) and a pool of
// read-only connections, all in WAL mode.
type Store struct {
	log *slog.Logger
	w   *sql.DB  // exactly one connection
	r   *sql.DB  // readers
	q   struct { // hot read statements, prepared once per reader connection
		candidates, announcement, device, title, titleByContent *sql.Stmt
	}
	wst map[string]*sql.Stmt // hot write statements, prepared on the writer connection

	wq               chan *writeReq // to the writer goroutine (writer.go)
	quit, writerDone chan struct{}
	batches, batched atomic.Int64
	softSync         bool // the writer connection's synchronous is NORMAL (writer.go syncFor; the writer goroutine's)
}

var _ directory.Store = (*Store)(nil)

// Options tunes Open.
type Options struct {
	Readers     int           // read pool size; 0 = 2×GOMAXPROCS, at least 4
	BusyTimeout time.Duration // wait for another writer (e.g. `kith-directory publish`); 0 = 10 s
	Logger      *slog.Logger  // rows skipped or dropped as invalid; nil = slog.Default()
}

// Open opens (creating if needed) the database at path and applies any
// pending migrations.
func Open(ctx context.Context, path string, o Options) (*Store, error) {
	if o.Readers <= 0 {
		o.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	w, err := sql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{w: w, log: o.Logger, wq: make(chan *writeReq), quit: make(chan struct{}), writerDone: make(chan struct{})}
	go s.writeLoop()
	if err := s.migrate(ctx); err != nil {
		close(s.quit)
		<-s.writerDone
		w.Close()
		return nil, err
	}
	s.wst = make(map[string]*sql.Stmt)
	for _, q := range hotWrites {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			close(s.quit)
			<-s.writerDone
			w.Close()
			return nil, fmt.Errorf("preparing statements: %w", err)
		}
		s.wst[q] = st
	}
	q.Set("_txlock", "deferred")
	q.Set("_query_only", "1")
	r, err := sql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.Readers)
	r.SetMaxIdleConns(o.Readers)
	s.r = r
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.q.candidates, `SELECT ` + candidateCols + ` FROM holdings h JOIN announcements a ON a.dev = h.dev
			JOIN devices d ON d.seq = h.dev WHERE h.content = ? AND h.expires > 0 AND a.expires > ? AND d.revoked = 0 ORDER BY h.dev LIMIT ?`},
		{&s.q.announcement, `SELECT a.public_ip, a.addrs, a.private_addrs, a.rtts, a.load, a.expires
			FROM announcements a JOIN devices d ON d.seq = a.dev WHERE d.id = ?`},
		{&s.q.device, `SELECT ` + rowscan.DeviceCols + ` FROM devices WHERE id = ?`},
		{&s.q.title, titleSelect + `id = ?`},
		// Every download asks for its manifest (handleManifest): the
		// title by content, once a device a download, compiled anew at
		// each call before.
		{&s.q.titleByContent, titleSelect + `content = ?`},
	} {
		if *p.dst, err = r.PrepareContext(ctx, p.q); err != nil {
			s.Close()
			return nil, fmt.Errorf("preparing statements: %w", err)
		}
	}
	return s, nil
}

// Close stops the writer (after the writes it took) and closes both pools.
func (s *Store) Close() error {
	select {
	case <-s.quit:
	default:
		close(s.quit)
		<-s.writerDone
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.q.candidates, s.q.announcement, s.q.device, s.q.title, s.q.titleByContent} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range s.wst {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, s.r.Close(), s.w.Close())...)
}

// SchemaVersion is the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// IntegrityCheck runs PRAGMA integrity_check and returns its answer ("ok").
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	rows, err := s.w.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// stmt returns the prepared statement for q (one of hotWrites) bound to
// tx, or q's own statement prepared anew when it is not a hot one.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if st := s.wst[q]; st != nil {
		return tx.StmtContext(ctx, st)
	}
	return nil
}

// exec runs q in tx, through its prepared statement when it has one.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// queryRow runs q in tx, through its prepared statement when it has one.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, directory.ErrNotFound)
	}
	return err
}

// CreateAccount implements directory.Store.
func (s *Store) CreateAccount(ctx context.Context, name, hash string, now time.Time) error {
	var taken bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, password_hash, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, hash, rowscan.MS(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if taken = n == 0; taken { // set afresh: the writer may run this twice
			// a taken name costs the same committed write as a free one: the
			// server answers both alike, and their timing should not differ
			_, err = tx.ExecContext(ctx, `UPDATE accounts SET created = created WHERE name = ?`, name)
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
	err := s.r.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE name = ?`, account).Scan(&h)
	return h, notFound(err, "account "+account)
}

// Accounts implements directory.Store.
func (s *Store) Accounts(ctx context.Context) ([]directory.AccountSummary, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.name, a.created,
		(SELECT count(*) FROM devices d WHERE d.account = a.name AND d.revoked = 0),
		(SELECT count(*) FROM devices d WHERE d.account = a.name AND d.revoked = 1),
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

// EnrollDevice implements directory.Store. The one writer runs the count
// and the insert in one transaction, so concurrent enrolments are counted
// one after the other.
func (s *Store) EnrollDevice(ctx context.Context, d directory.Device, max int) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var account string
		var revoked bool
		err := tx.QueryRowContext(ctx, `SELECT account, revoked FROM devices WHERE id = ?`, string(d.ID)).Scan(&account, &revoked)
		switch {
		case err == nil && (account != d.Account || revoked):
			return fmt.Errorf("device %s: %w", d.ID, directory.ErrExists)
		case err == nil:
			_, err = tx.ExecContext(ctx, `UPDATE devices SET name = ? WHERE id = ?`, d.Name, string(d.ID))
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if max > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE account = ? AND NOT revoked`, d.Account).Scan(&n); err != nil {
				return err
			}
			if n >= max {
				return &directory.DeviceLimitError{Account: d.Account, Devices: n}
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO devices (id, account, name, sign_key, box_key, created) VALUES (?, ?, ?, ?, ?, ?)`,
			string(d.ID), d.Account, d.Name, []byte(d.Keys.Sign), d.Keys.Box, rowscan.MS(d.Created))
		return err
	})
}

// Device implements directory.Store.
func (s *Store) Device(ctx context.Context, id identity.ID) (*directory.Device, error) {
	d, err := rowscan.Device(s.q.device.QueryRowContext(ctx, string(id)))
	return d, notFound(err, "device "+string(id))
}

// Devices implements directory.Store.
func (s *Store) Devices(ctx context.Context, account string) ([]directory.Device, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowscan.DeviceCols+` FROM devices WHERE account = ? AND revoked = 0 ORDER BY created, id`, account)
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
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET revoked = 1 WHERE id = ? AND account = ?`, string(id), account)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("device %s: %w", id, directory.ErrNotFound)
		}
		return withdrawTx(ctx, tx, id)
	})
}

// BindIdentity records id as the directory key this database belongs to,
// or, when one is recorded, checks that it is id (directory.ErrOtherIdentity
// otherwise).
func (s *Store) BindIdentity(ctx context.Context, id identity.ID, now time.Time) error {
	var got string
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_identity (singleton, id, bound) VALUES (1, ?, ?) ON CONFLICT DO NOTHING`,
			string(id), rowscan.MS(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT id FROM directory_identity`).Scan(&got)
	})
	if err == nil && got != string(id) {
		err = fmt.Errorf("database of directory %s, key file of %s: %w", got, id, directory.ErrOtherIdentity)
	}
	return err
}

// LeaveAccount implements directory.Store: the device's holdings,
// announcement and row go in one transaction.
func (s *Store) LeaveAccount(ctx context.Context, account string, id identity.ID) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM devices WHERE id = ? AND account = ? AND revoked = 0`, string(id), account).Scan(&seq)
		if err != nil {
			return notFound(err, "device "+string(id)+" of account "+account)
		}
		for _, q := range []string{`DELETE FROM holdings WHERE dev = ?`, `DELETE FROM announcements WHERE dev = ?`, `DELETE FROM devices WHERE seq = ?`} {
			if _, err := tx.ExecContext(ctx, q, seq); err != nil {
				return err
			}
		}
		return nil
	})
}
