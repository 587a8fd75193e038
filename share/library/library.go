package library

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"

	"github.com/kith-media/kith/share/sealed"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultSyncBytes is how many bytes of a partial download may be written
// before they are fsynced and their bits recorded in the index.
const DefaultSyncBytes = 32 << 20

// DefaultSyncInterval bounds how long written chunks wait for their fsync.
// It only bounds what a power cut can cost: a process that is killed or
// crashes loses no chunk it wrote (the page cache keeps them and the
// re-hash at reopen finds them), and ext4 commits its journal every 5 s
// anyway. At 500 ms a download fsynced and updated the index twice a
// second: a disk cache flush each time, and 0.6-2.5 % of the CPU of a
// 64 MiB N=10 flash crowd's downloads (3 profiles), 1.7 % of
// BenchmarkChunkPath's.
const DefaultSyncInterval = 5 * time.Second

// readers is how many read connections the index keeps open at most.
const readers = 4

// stmtCache is how many prepared statements each index connection keeps
// (least recently used dropped): more than the library has distinct
// statements, so the ones a running device repeats are never dropped.
const stmtCache = 64

// Options configure a Library. The zero value is usable.
type Options struct {
	// Logger receives warnings (damaged chunks, failed position saves); nil means slog.Default().
	Logger *slog.Logger
	// SyncBytes and SyncInterval bound the fsync batch of chunk writes
	// (zero = DefaultSyncBytes, DefaultSyncInterval).
	SyncBytes    int64
	SyncInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Errors returned by the library, testable with errors.Is.
var (
	ErrNotFound   = errors.New("not found")
	ErrNotPresent = errors.New("chunk not present")
	ErrClosed     = errors.New("library closed")
	// ErrBadChunk is wrapped (with the sealed error) when WriteChunk gets
	// bytes that do not match the manifest: the sender's fault, never ours.
	ErrBadChunk = errors.New("chunk does not match the manifest")
)

// Library is a device's local store: sealed files named by content ID and a
// SQLite index. It is safe for concurrent use.
type Library struct {
	dir     string
	content string  // folder holding <cid>.part and <cid>.sealed
	w       *sql.DB // the one writer connection
	r       *sql.DB // readers
	log     *slog.Logger
	opts    Options

	mu      sync.Mutex
	items   map[sealed.ContentID]*item
	loading map[sealed.ContentID]*load // items being loaded (item)
	loads   sync.WaitGroup             // running loads, waited for by Close
	closed  bool

	policyCache map[sealed.ContentID]Policy      // ContentPolicy answers
	policyGen   int                              // bumped on every policy or title change
	policyLoads map[sealed.ContentID]*policyLoad // ContentPolicy reads under way
	pols        map[string]Policy                // Policies' answer while polsGen is policyGen
	polsGen     int
	held        *heldRows // HeldContent's list (held.go)
	heldGen     uint64    // bumped on every content or title change (heldChanged)
}

// Open opens (creating if needed) the library in dir: dir/index.db and
// dir/content/. It migrates the index to the newest schema.
func Open(dir string, o Options) (*Library, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SyncBytes <= 0 {
		o.SyncBytes = DefaultSyncBytes
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cdir := filepath.Join(dir, "content")
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return nil, fmt.Errorf("opening library: %w", err)
	}
	path := filepath.Join(dir, "index.db")
	// Each connection keeps its last stmtCache statements prepared
	// (go-sqlite3's statement cache, used by Exec and Query, not Prepare):
	// without it every call compiled its SQL again (sqlite3_prepare_v2),
	// about half of the index's CPU in a crowd, where each device records
	// its uploads every second and its chunks' bits every few seconds, and
	// reads policies for each peer request and its holdings for each
	// heartbeat.
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_foreign_keys=1" +
		"&_stmt_cache_size=" + strconv.Itoa(stmtCache)
	w, err := sql.Open("sqlite3", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening library index: %w", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite3", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening library index: %w", err)
	}
	// Idle readers are kept, all of them: with database/sql's default of
	// two, a burst of concurrent reads (peers' first polls of a download
	// arriving together) closed the others afterwards, and the next burst
	// opened them again: a file open, the DSN's pragmas, the schema read
	// and every statement prepared anew.
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	l := &Library{dir: dir, content: cdir, w: w, r: r, log: o.Logger, opts: o, items: map[sealed.ContentID]*item{},
		loading: map[sealed.ContentID]*load{}}
	if err := l.migrate(context.Background()); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Dir is the library's folder.
func (l *Library) Dir() string { return l.dir }

// migrate applies the embedded migrations numbered above user_version.
func (l *Library) migrate(ctx context.Context) error {
	var have int
	if err := l.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad number: %w", base, err)
		}
		if n <= have {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := l.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", n)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// Close flushes partial downloads, closes their files and the index.
func (l *Library) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	items := l.items
	l.items = map[sealed.ContentID]*item{}
	l.mu.Unlock()
	l.loads.Wait() // a load finishing now sees closed and closes its file
	var errs []error
	for _, it := range items {
		errs = append(errs, l.flush(it), it.close())
	}
	if l.r != nil {
		errs = append(errs, l.r.Close())
	}
	errs = append(errs, l.w.Close())
	return errors.Join(errs...)
}

func (l *Library) now() int64 { return l.opts.Now().UnixMilli() }

func (l *Library) partPath(cid sealed.ContentID) string {
	return filepath.Join(l.content, cid.String()+".part")
}

func (l *Library) sealedPath(cid sealed.ContentID) string {
	return filepath.Join(l.content, cid.String()+".sealed")
}
