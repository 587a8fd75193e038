package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/pgstore"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// dirStore is a directory.Store the commands open and close.
type dirStore interface {
	directory.Store
	Close() error
	SchemaVersion(ctx context.Context) (int, error)
	BindIdentity(ctx context.Context, id identity.ID, now time.Time) error
}

var (
	_ dirStore = (*sqlitestore.Store)(nil)
	_ dirStore = (*pgstore.Store)(nil)
)

const storeHelp = `the database: empty for the embedded SQLite file DATA/directory.db, or
postgres://USER@HOST:PORT/DB?sslmode=verify-full (PostgreSQL, shared by
several instances). No password in it: use PGPASSWORD or ~/.pgpass
(PGPASSFILE). Env KITH_DIRECTORY_STORE`

// addStoreFlag adds --store to fs.
func addStoreFlag(fs *flag.FlagSet) *string {
	return fs.String("store", env("STORE", ""), storeHelp)
}

// isPostgres reports whether spec names a PostgreSQL database.
func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// checkStoreSpec refuses a store the commands cannot open, and a password
// given on the command line (argv is readable by every local user); one in
// KITH_DIRECTORY_STORE is the operator's choice.
func checkStoreSpec(spec string) error {
	switch {
	case spec == "":
		return nil
	case !isPostgres(spec):
		return fmt.Errorf("--store %q: want empty (embedded SQLite) or a postgres:// URL", redact(spec))
	}
	u, err := url.Parse(spec)
	if err != nil {
		return fmt.Errorf("--store: not a URL: %w", errors.Unwrap(err))
	}
	_, hasPass := u.User.Password()
	if hasPass || u.Query().Has("password") {
		if v, ok := os.LookupEnv("KITH_DIRECTORY_STORE"); !ok || v != spec {
			return errors.New("--store with a password is refused: a secret on the command line is visible to every user of this machine " +
				"(ps, /proc/PID/cmdline). Leave it out and set PGPASSWORD or a ~/.pgpass line, or give the whole URL in KITH_DIRECTORY_STORE")
		}
	}
	return nil
}

// redact hides a URL's password for messages.
func redact(spec string) string {
	if u, err := url.Parse(spec); err == nil && u.User != nil {
		return u.Redacted()
	}
	return spec
}

// openDirStore opens the store spec names (see storeHelp); SQLite lives in
// the data directory.
func openDirStore(ctx context.Context, dataDir, spec string, log *slog.Logger) (dirStore, error) {
	if err := checkStoreSpec(spec); err != nil {
		return nil, err
	}
	if isPostgres(spec) {
		st, err := pgstore.Open(ctx, spec, pgstore.Options{Logger: log})
		if ce := (*pgconn.ConnectError)(nil); errors.As(err, &ce) {
			return nil, fmt.Errorf("database %s: %w\n(is PostgreSQL running there and reachable, does the role exist, "+
				"and is its password in PGPASSWORD or a ~/.pgpass line (PGPASSFILE)?)", redact(spec), err)
		}
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", redact(spec), err)
		}
		return st, nil
	}
	_, dbPath, _ := dataPaths(dataDir)
	st, err := sqlitestore.Open(ctx, dbPath, sqlitestore.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return st, nil
}

// loadDirectoryKey loads the directory key. With the embedded SQLite it is
// created on first use; with a shared database it never is (two instances
// must not each make their own): `kith-directory migrate` creates it once,
// and the operator copies the file to every instance.
func loadDirectoryKey(keyPath string, shared bool) (*identity.Identity, bool, error) {
	if !shared {
		id, created, err := identity.LoadOrCreate(keyPath)
		if err != nil {
			return nil, false, fmt.Errorf("directory identity: %w", err)
		}
		return id, created, nil
	}
	id, err := identity.Load(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("directory identity: %s does not exist. With a shared --store it is never created by serve: "+
			"run `kith-directory migrate --store URL --data DIR` once (it creates the key), then copy DIR/directory.key (mode 0600) to every instance", keyPath)
	}
	if err != nil {
		return nil, false, fmt.Errorf("directory identity: %w", err)
	}
	return id, false, nil
}

const migrateHelp = `
Creates or upgrades the database's schema and exits; serve does the same at
start, so migrate is for preparing a database before the instances start
(or checking which version it has). With a PostgreSQL --store it also
creates the directory key (DATA/directory.key) if there is none and binds
the database to it: copy that file to every instance, whose start checks
that the database belongs to its key. It prints the schema version.

Examples:
  kith-directory migrate --data /var/lib/kith                  # embedded SQLite
  PGPASSFILE=/etc/kith/pgpass kith-directory migrate --data /etc/kith \
      --store 'postgres://kith@db.internal:5432/kith?sslmode=verify-full'
`

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("migrate", "migrate [--store URL] [flags]", migrateHelp, stderr)
	store := addStoreFlag(fs)
	level := fs.String("log-level", env("LOG_LEVEL", "warn"), "debug, info, warn or error (env KITH_DIRECTORY_LOG_LEVEL)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef(fs, "migrate takes no arguments (got %q): the database is --store", rest)
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	if err := checkStoreSpec(*store); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	keyPath, _, _ := dataPaths(*data)
	id, created, err := identity.LoadOrCreate(keyPath)
	if err != nil {
		return fmt.Errorf("directory identity: %w", err)
	}
	st, err := openDirStore(ctx, *data, *store, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.BindIdentity(ctx, id.ID(), time.Now()); err != nil {
		return fmt.Errorf("%s (key %s): %w", redact(*store), keyPath, err)
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if created {
		fmt.Fprintf(stdout, "created the directory key %s (%s): copy it to every instance\n", keyPath, id.ID())
	}
	fmt.Fprintf(stdout, "schema version %d, directory %s\n", v, id.ID())
	return nil
}
