// Package pgtest starts a private PostgreSQL server for tests and
// benchmarks: a fresh cluster in a temporary folder, listening on
// 127.0.0.1 on a free port and on a unix socket in its own folder, owned
// by the postgres user when the caller is root (PostgreSQL refuses to run
// as root), and stopped (its folder removed) by Stop. The server is a child
// of the test process that dies with it (PR_SET_PDEATHSIG), so a test
// binary killed by a timeout leaves no server behind.
//
// The binaries come from Debian's postgresql-15 (scripts/deps.sh test
// installs it); Find reports ErrMissing when they are not there.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrMissing means the PostgreSQL server binaries are not installed.
var ErrMissing = errors.New("PostgreSQL server binaries (initdb, postgres) not found: install postgresql-15 (scripts/deps.sh test)")

// Find returns the folder holding initdb and postgres: $KITH_PG_BIN, then
// the newest /usr/lib/postgresql/*/bin, then $PATH.
func Find() (string, error) {
	var dirs []string
	if d := os.Getenv("KITH_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrMissing
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Options tunes Start.
type Options struct {
	// Durable keeps fsync on (benchmarks of durable commits); tests run
	// with fsync off, which changes nothing a test can observe but speed.
	Durable bool
	// Settings are extra "name=value" server settings.
	Settings []string
}

// Server is a running private PostgreSQL server.
type Server struct {
	dir  string // removed by Stop
	port int
	sock string
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
	mu   sync.Mutex
	n    int // databases created
	stop sync.Once
	err  error
}

// lockedBuffer is the server's log, written by the child's output copier.
type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // bounded: keep the start, it says why a start failed
		return len(p), nil
	}
	return l.b.Write(p)
}

// Start initialises a cluster in a new temporary folder and starts its
// server; it returns when the server accepts connections (about 2 s).
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	// the postgres user must reach the folder: under root's own TMPDIR
	// (often mode 0700) it could not, so as root the folder goes in /tmp
	parent := ""
	if cred != nil {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "kith-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, sock: filepath.Join(dir, "sock"), log: &bytes.Buffer{}, done: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Mkdir(s.sock, 0o700); err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	if cred != nil {
		for _, p := range []string{dir, s.sock} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(fmt.Errorf("pgtest: giving %s to postgres: %w", p, err))
			}
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--no-locale", "--encoding=UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	initdb.Env = childEnv()
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		err := s.start(bin, data, cred, o)
		if err == nil {
			return s, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return fail(err)
		}
	}
}

// start runs postgres on a free port and waits until it answers (this
// server: another process may have taken the port, see below).
func (s *Server) start(bin, data string, cred *syscall.Credential, o Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.sock, "-c", "max_connections=200", "-c", "shared_buffers=64MB"}
	if !o.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, kv := range o.Settings {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Env = childEnv()
	cmd.Dir = s.dir
	w := lockedBuffer{&s.mu, s.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { s.err = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", s.err, s.Log())
		case <-time.After(50 * time.Millisecond):
		}
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(cctx, s.DSN("postgres"))
		if err == nil {
			// The server answering must be this one: freePort's port is
			// free only until it is closed, and another test binary's
			// postgres (packages run in parallel) could take it; this one
			// then exits, unable to listen, and is started again.
			var dd string
			if err = c.QueryRow(cctx, "SHOW data_directory").Scan(&dd); err == nil && dd != data {
				err = fmt.Errorf("pgtest: port %d answered by the server of %s", port, dd)
			}
			_ = c.Close(cctx)
		}
		cancel()
		if err == nil {
			return nil
		}
	}
	s.kill()
	return fmt.Errorf("pgtest: postgres did not answer within 30 s\n%s", s.Log())
}

// runAs is the postgres user's credential when the caller is root (nil otherwise).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs the postgres user (created by postgresql-15): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func childEnv() []string {
	env := []string{"LC_ALL=C", "LANG=C", "TZ=UTC"}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// DSN is the URL of database db over 127.0.0.1, as the superuser postgres.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// CreateDB creates a new empty database named after prefix and returns its URL.
func (s *Server) CreateDB(ctx context.Context, prefix string) (string, error) {
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("%s_%d", sanitize(prefix), s.n)
	s.mu.Unlock()
	c, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connecting: %w", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("pgtest: creating database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "db"
	}
	return b.String()
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10 s) and
// removes its folder. It is safe to call more than once.
func (s *Server) Stop() error {
	var err error
	s.stop.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				s.kill()
			}
		}
		err = os.RemoveAll(s.dir)
	})
	return err
}

var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// Shared returns this test binary's server, started on first use (Main
// stops it). It skips tb when the binaries are missing, except under CI
// (CI set), where a missing PostgreSQL fails the test.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = Start(context.Background(), Options{})
	}
	if errors.Is(shared.err, ErrMissing) && os.Getenv("CI") == "" {
		tb.Skip(shared.err)
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// NewDB creates a fresh database on the shared server and returns its URL.
func NewDB(tb testing.TB) string {
	tb.Helper()
	s := Shared(tb)
	dsn, err := s.CreateDB(context.Background(), tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return dsn
}

// Main runs the tests and stops the shared server; call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}
