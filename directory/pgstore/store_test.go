package pgstore

import (
	"context"
	"os"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/storetest"
	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/internal/pgtest"
)

// TestMain runs the tests on a private PostgreSQL (stopped after them),
// then fails the package if they left goroutines running.
func TestMain(m *testing.M) {
	before := leakcheck.Snapshot()
	os.Exit(leakcheck.After(before, pgtest.Main(m)))
}

func openTest(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.NewDB(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreSuite runs the store suite shared with sqlitestore on a
// private PostgreSQL server, at READ COMMITTED.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store { return openTest(t, Options{}) })
}

// TestStoreSuiteSerializable runs it again at SERIALIZABLE with every
// third transaction failing at its end with a real 40001 from the server:
// every rule still holds, through the retries alone.
func TestStoreSuiteSerializable(t *testing.T) {
	var retried int
	storetest.Run(t, func(t *testing.T) directory.Store {
		s := openTest(t, Options{Serializable: true, FailEvery: 3})
		t.Cleanup(func() { retried += int(s.txs.Load() / 3) })
		return s
	})
	if retried == 0 {
		t.Fatal("no failure was injected")
	}
	t.Logf("%d transactions failed with an injected 40001 and were retried", retried)
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := pgtest.NewDB(t)
	for range 2 {
		s, err := Open(context.Background(), dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(context.Background())
		s.Close()
		if err != nil || v != 10 {
			t.Fatalf("schema version %d, %v", v, err)
		}
	}
}
