package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/internal/pgtest"
	"github.com/kith-media/kith/share/identity"
)

// bin is the kith-directory binary built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kith-directory-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "kith-directory")
	cmd := exec.Command("go", "build", "-tags", "libsqlite3", "-o", bin, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kith-directory:", err)
		os.Exit(1)
	}
	before := leakcheck.Snapshot()
	code := leakcheck.After(before, pgtest.Main(m), "net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop") // pgtest.Main stops the PostgreSQL server the Postgres tests started
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `kith-directory serve`.
type proc struct {
	cmd    *exec.Cmd
	url    string
	base   string
	fp     identity.ID
	data   string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// serve starts the binary on a loopback port and waits for its URL; the
// process gets SIGTERM at cleanup (and must exit cleanly).
func serve(t testing.TB, data string, args ...string) *proc {
	t.Helper()
	return serveEnv(t, data, nil, args...)
}

// serveEnv is serve with extra environment variables (KEY=value).
func serveEnv(t testing.TB, data string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{data: data, done: make(chan error, 1)}
	tok := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(tok, []byte(metricsToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// tests enroll many devices at once: no password rate limit unless asked (later flags win)
	p.cmd = exec.Command(bin, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn", "--rate-auth", "-1",
		"--metrics-token-file", tok}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = lockedWriter{p}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { p.done <- p.cmd.Wait() }()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("serve printed no URL; stderr:\n%s", p.logs())
		}
		p.url = l
	case <-time.After(60 * time.Second): // an incidental bound: a process starting
		_ = p.cmd.Process.Kill()
		t.Fatalf("serve did not start in 60 s; stderr:\n%s", p.logs())
	}
	p.base, p.fp, err = directory.ParseURL(p.url)
	if err != nil || p.fp == "" {
		t.Fatalf("serve printed %q: %v", p.url, err)
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and checks the process exits 0 in time.
func (p *proc) stop(t testing.TB) {
	if p.cmd.ProcessState != nil {
		return
	}
	select {
	case err := <-p.done:
		p.done <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; stderr:\n%s", err, p.logs())
		}
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("serve did not stop within 60 s of SIGTERM")
	}
}

// kill9 kills the process without warning.
func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

// runCmd runs a non-serve subcommand and returns stdout.
func runCmd(t testing.TB, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kith-directory %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// publishFile publishes size random bytes through the binary.
func publishFile(t testing.TB, data string, size int, args ...string) (directory.Title, []byte) {
	t.Helper()
	plain := make([]byte, size)
	_, _ = rand.Read(plain)
	f := filepath.Join(t.TempDir(), "media.mp3")
	if err := os.WriteFile(f, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runCmd(t, append([]string{"publish", f, "--data", data}, args...)...)
	var ti directory.Title
	if err := json.Unmarshal([]byte(out), &ti); err != nil {
		t.Fatalf("publish printed %q: %v", out, err)
	}
	return ti, plain
}

// device is an enrolled device with its client.
type device struct {
	id      *identity.Identity
	c       *directory.Client
	account string
}

const password = "correct horse battery"

// enroll creates the account if needed and enrolls a fresh device under it.
func enroll(t testing.TB, p *proc, account, name string) *device {
	t.Helper()
	return enrollWith(t, p, account, name, nil)
}

// enrollWith is enroll with a given HTTP client (nil = the client's own
// pinned one); benchmarks share one so many devices share connections.
func enrollWith(t testing.TB, p *proc, account, name string, hc *http.Client) *device {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := directory.NewClient(directory.ClientOptions{URL: p.url, Device: id, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.CreateAccount(ctx, account, password); err != nil && !errors.Is(err, &directory.Error{Code: directory.CodeConflict}) {
		t.Fatalf("creating account %s: %v", account, err)
	}
	if err := c.EnrollDevice(ctx, account, password, name); err != nil {
		t.Fatalf("enrolling %s/%s: %v", account, name, err)
	}
	return &device{id: id, c: c, account: account}
}

// register seals and sends a registration for title from d.
func (d *device) seal(t testing.TB, titleID string, pay *license.Payment) *license.SealedRegistration {
	t.Helper()
	in, err := d.c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sr, err := license.SealRegistration(license.Registration{TitleID: titleID, Account: d.account, Payment: pay}, d.id, in.Keys.Box)
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

var goodCard = &license.Payment{Name: "Alice Example", Card: "4242 4242 4242 4242", Expiry: "12/39", CVC: "123", Address: "1 Road"}

// metricsToken opens /metrics on the API listener of every serve the
// tests start (written to a file given with --metrics-token-file).
const metricsToken = "test-metrics-token-0123456789"

// metric reads one sample from /metrics ("" if absent).
func metric(t testing.TB, p *proc, line string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, line+" ") {
			return strings.TrimPrefix(l, line+" ")
		}
	}
	return ""
}

// openStore opens the data directory's database directly (like the CLI).
func openStore(t testing.TB, data string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(data, "directory.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rawReq sends a request with optional signature headers (no pinning: for
// crafting bad input).
func rawReq(t testing.TB, p *proc, method, path string, body []byte, signer *identity.Identity, tm time.Time) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if signer != nil {
		d, ts, s := directory.SignRequest(signer, method, req.URL.RequestURI(), tm.UnixMilli(), body)
		req.Header.Set(directory.HeaderDevice, d)
		req.Header.Set(directory.HeaderTime, ts)
		req.Header.Set(directory.HeaderSignature, s)
	}
	resp, err := insecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// publishInProcess publishes a small random title straight into the data
// directory (what `publish` does, without a process per title).
func publishInProcess(t testing.TB, data, name string, price int64) (string, []byte) {
	t.Helper()
	return publishToStore(t, data, "", name, price)
}

// publishToStore is publishInProcess into the store spec names ("": the
// data directory's SQLite file).
func publishToStore(t testing.TB, data, spec, name string, price int64) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	id, st, origin, _, err := openData(ctx, data, spec, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plain := make([]byte, 4096)
	_, _ = rand.Read(plain)
	ti, err := directory.Publish(ctx, st, id, origin, bytes.NewReader(plain), directory.PublishOptions{
		Name: name, MediaType: "audio/mpeg", Price: price})
	if err != nil {
		t.Fatal(err)
	}
	return ti.ID, plain
}

// secretFile writes secret to a file only its owner reads and returns its path.
func secretFile(t testing.TB, secret string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
