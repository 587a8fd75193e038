package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string // file name
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(body)})
	}
	return out, nil
}

// migrate applies the pending migrations, each in its own transaction
// with its version row. Several instances starting at once are safe: the
// version row is inserted first, so a second instance waits on it (the
// primary key) and then finds the version applied; no advisory lock.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil && !isUnique(err) {
		// two instances creating the table at once: one gets a unique
		// violation on the catalog, and the table then exists
		return fmt.Errorf("migrating: %w", err)
	}
	ms, err := Migrations()
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	for _, m := range ms {
		err := s.tx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				m.Version, time.Now().UnixMilli())
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			_, err = tx.Exec(ctx, m.SQL)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
