package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/internal/netns"
)

// helperEnv selects a helper mode of the test binary, run inside a namespace.
const helperEnv = "KITH_E2E_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "get" {
		os.Exit(helperGet(os.Getenv("KITH_E2E_URL")))
	}
	if os.Getenv(helperEnv) == "relay-offer" {
		os.Exit(helperRelayOffer())
	}
	if os.Getenv(helperEnv) == "relay-hold" {
		os.Exit(helperRelayHold())
	}
	if os.Getenv(helperEnv) == "tamper-proxy" {
		os.Exit(helperTamperProxy())
	}
	if os.Getenv(helperEnv) == "relay-fetch" {
		os.Exit(helperRelayFetch())
	}
	if os.Getenv(helperEnv) == "conns" {
		os.Exit(helperConns())
	}
	// Every test here drives other processes; what it leaves running in
	// this one (a reader of a child's output, a client's loop) is a leak.
	code := leakcheck.Run(m, "net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop", "net/http.(*http2ClientConn).readLoop", "peer.(*wireConn).readLoop")
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// helperGet prints the body of a GET (the directory's /metrics) to
// stdout. The certificate is the directory's self-signed one on a LAN the
// test built, so it is not verified here.
func helperGet(url string) int {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
	resp, err := hc.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != 200 {
		fmt.Fprintln(os.Stderr, "status", resp.Status, err)
		return 1
	}
	return 0
}

// narrate is true when a person watches (e2e/demo.sh).
var narrate = os.Getenv("KITH_E2E_NARRATE") != ""

// raceBuild builds the binaries with -race (KITH_E2E_RACE=1); the test then
// fails if any process reports a data race.
var raceBuild = os.Getenv("KITH_E2E_RACE") != ""

// say logs a line of the story; in narrate mode it also prints it.
func say(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if narrate {
		fmt.Println(msg)
		return
	}
	t.Log(msg)
}

// repoRoot is the module root (the test runs in e2e/).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// built holds kith-directory and kithctl, built once for all the tests of
// the package (five use them), because each is a race build whose link
// alone takes tens of seconds of a loaded 2-core CI machine: built per
// test, e2e linked ten binaries where two do. Removed by TestMain.
var built struct {
	once   sync.Once
	dir    string
	kd, kc string
	err    error
}

// goHome is HOME as the test binary started, before a test moves it
// (pulsetest.Start sets HOME to its own folder): the go commands that
// build the binaries keep it, so they use the machine's build and module
// caches. Under a test's HOME they compiled every dependency again and
// downloaded every module (8 minutes at load 25 in TestKithctlPlayVideo).
var goHome = os.Getenv("HOME")

// goEnv is the environment of a go build run by a test.
func goEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=1", "HOME="+goHome) // the last HOME wins
}

// buildBinaries returns kith-directory and kithctl, built on first use.
// Every test runs them from the same files; none writes to them.
func buildBinaries(t *testing.T) (kd, kc string) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "kith-e2e-bin")
		if built.err != nil {
			return
		}
		built.kd, built.kc, built.err = build(built.dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.kd, built.kc
}

// build builds kith-directory and kithctl into dir.
func build(dir string) (kd, kc string, err error) {
	gobin := "go"
	if p, err := exec.LookPath("go"); err == nil {
		gobin = p
	} else if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		gobin = "/usr/local/go/bin/go"
	}
	wd, err := os.Getwd() // the package's folder, as repoRoot
	if err != nil {
		return "", "", err
	}
	root := filepath.Dir(wd)
	kd, kc = filepath.Join(dir, "kith-directory"), filepath.Join(dir, "kithctl")
	flags := []string{"build", "-tags", "libsqlite3"}
	if raceBuild {
		flags = append(flags, "-race")
	}
	for _, b := range [][2]string{{kd, "./directory/cmd/kith-directory"}, {kc, "./share/cmd/kithctl"}} {
		cmd := exec.Command(gobin, append(flags, "-o", b[0], b[1])...)
		cmd.Dir = root
		cmd.Env = goEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("building %s: %v\n%s", b[1], err, out)
		}
	}
	return kd, kc, nil
}

// writeTone writes a stereo 16-bit 44.1 kHz WAV file of a sine at freq.
func writeTone(t *testing.T, path string, freq float64, d time.Duration) {
	t.Helper()
	const rate = 44100
	n := int(d.Seconds() * rate)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+n*4))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(rate), uint32(rate * 4), uint16(4), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(n*4))
	for i := 0; i < n; i++ {
		v := int16(0.5 * 32767 * math.Sin(2*math.Pi*freq*float64(i)/rate))
		_ = binary.Write(&b, binary.LittleEndian, [2]int16{v, v})
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// proc is a long-running process in a namespace, logging to a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
	once sync.Once
	err  error
}

// start runs a command in host h; stdout goes to stdout (may be nil) and
// the log file, stderr to the log file.
func start(t *testing.T, h netns.Host, name, logPath string, stdout io.Writer, bin string, args ...string) *proc {
	t.Helper()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(context.Background(), bin, args...)
	cmd.Stderr = lf
	cmd.Stdout = lf
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(lf, stdout)
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); lf.Close() }()
	t.Cleanup(func() {
		_ = p.stop()
		if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("%s reported a data race (see %s)", name, logPath)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("---- tail of %s's log ----\n%s", name, b)
		}
	})
	return p
}

// stop ends the process with SIGTERM (SIGKILL after 10 s) and returns
// how it exited: nil for a clean shutdown.
func (p *proc) stop() error {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case p.err = <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.err = errors.New("did not stop within 30 s of SIGTERM")
		}
	})
	return p.err
}

// kill ends the process with SIGKILL, as a crash would.
func (p *proc) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.err = errors.New("killed")
	})
}

// startDirectory starts `kith-directory serve --data data --addr IP:8443
// args...` on h (its output in logPath) and returns the process and the
// URL#FINGERPRINT it prints first, checked to be at h's address.
func startDirectory(t *testing.T, h netns.Host, kd, data, logPath string, args ...string) (*proc, string) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.Close(); pr.Close() }) // after the process stops (cleanups run last first)
	addr := h.IP.String() + ":8443"
	p := start(t, h, "directory", logPath, pw, kd, append([]string{"serve", "--data", data, "--addr", addr}, args...)...)
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			urlCh <- strings.TrimSpace(sc.Text())
		}
		close(urlCh)
		for sc.Scan() { // the rest of its output, until the pipe closes
		}
	}()
	select {
	case u := <-urlCh:
		if !strings.HasPrefix(u, "https://"+addr+"#") {
			t.Fatalf("the directory printed %q, want its URL https://%s#FINGERPRINT", u, addr)
		}
		return p, u
	case <-time.After(30 * time.Second):
		t.Fatal("the directory printed no URL within 30 s")
		return nil, ""
	}
}

// device is one kithctl serve process.
type device struct {
	t       *testing.T
	name    string
	host    netns.Host
	data    string
	kithctl string
	dirURL  string
	proc    *proc
	id      string
}

// serve starts (or restarts) the device's process and waits for its control socket.
func (d *device) serve() {
	t := d.t
	t.Helper()
	d.proc = start(t, d.host, d.name, filepath.Join(d.data+".log"), nil, d.kithctl,
		"--data", d.data, "--directory", d.dirURL, "serve", "--listen", d.host.IP.String()+":7143",
		"--name", d.name, "--ipv4-only", "--announce", "2s")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st status
		err := d.try(&st, "status")
		if err == nil {
			d.id = st.Device
			return
		}
		select {
		case err := <-d.proc.done:
			d.proc.done <- err
			t.Fatalf("%s exited at start: %v", d.name, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on its control socket: %v", d.name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// try runs "kithctl --json ARGS" against the device (from the test's own
// namespace: the control socket is a file) and decodes the answer into v.
// secretFile writes a password or card into a private file, for
// --password-file and --card-file: kithctl takes no secrets on its command
// line, where every user of the machine can read them.
func secretFile(t testing.TB, text string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text + "\n"); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// signup creates account with password and enrolls d under it.
func (d *device) signup(account, password string) {
	d.t.Helper()
	d.run(nil, "signup", account, "--password-file", secretFile(d.t, password))
	d.signin(account, password)
}

// signin enrolls d under account.
func (d *device) signin(account, password string) {
	d.t.Helper()
	d.run(nil, "signin", account, "--password-file", secretFile(d.t, password))
}

func (d *device) try(v any, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.kithctl, append([]string{"--data", d.data, "--json"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return fmt.Errorf("kithctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	if v != nil {
		if err := json.Unmarshal(out.Bytes(), v); err != nil {
			return fmt.Errorf("kithctl %s: decoding %q: %v", strings.Join(args, " "), out.String(), err)
		}
	}
	return nil
}

// run is try that fails the test, narrating the command.
func (d *device) run(v any, args ...string) {
	d.t.Helper()
	if narrate {
		fmt.Printf("    %s$ kithctl %s\n", d.name, strings.Join(args, " "))
	}
	if err := d.try(v, args...); err != nil {
		d.t.Fatalf("%s: %v", d.name, err)
	}
}

// human runs a kithctl command without --json and returns its output; in
// narrate mode the output is shown.
func (d *device) human(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.kithctl, append([]string{"--data", d.data}, args...)...)
	out, err := cmd.CombinedOutput()
	if narrate {
		fmt.Printf("    %s$ kithctl %s\n", d.name, strings.Join(args, " "))
		for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			fmt.Printf("        %s\n", l)
		}
	}
	return string(out), err
}

// lines runs a streaming kithctl command with --json and returns its lines.
func (d *device) lines(args ...string) ([]line, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.kithctl, append([]string{"--data", d.data, "--json"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ls []line
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			ls = append(ls, l)
		}
	}
	if err != nil {
		return ls, fmt.Errorf("kithctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return ls, nil
}

// holding returns the device's library row for a content ID.
func (d *device) holding(cid string) (holding, bool) {
	d.t.Helper()
	var st status
	d.run(&st, "status")
	for _, h := range st.Holdings {
		if h.Content == cid {
			return h, true
		}
	}
	return holding{}, false
}

// sealedPath is where the device keeps a complete sealed file.
func (d *device) sealedPath(cid string) string {
	return filepath.Join(datadir.Dir(d.data).Library(), "content", cid+".sealed")
}

// status mirrors kithctl's Status (the test reads the JSON, as a script would).
type status struct {
	Device   string    `json:"device"`
	Account  string    `json:"account"`
	Holdings []holding `json:"holdings"`
}

type holding struct {
	Content  string `json:"content"`
	Title    string `json:"title"`
	Name     string `json:"name"`
	Have     int    `json:"have"`
	Total    int    `json:"total"`
	Size     int64  `json:"size"`
	Complete bool   `json:"complete"`
	Licensed bool   `json:"licensed"`
	Policy   string `json:"policy"`
}

type line struct {
	Done    bool   `json:"done"`
	Error   string `json:"error"`
	Fault   string `json:"fault"`
	Have    int    `json:"have"`
	Total   int    `json:"total"`
	State   string `json:"state"`
	Sources []struct {
		ID     string `json:"id"`
		Origin bool   `json:"origin"`
		Bytes  int64  `json:"bytes"`
		State  string `json:"state"`
	} `json:"sources"`
}

type title struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Price   int64  `json:"price"`
	Content string `json:"content"`
	Size    int64  `json:"size"`
}

type receipt struct {
	PurchaseID string `json:"purchase"`
	TitleID    string `json:"title"`
	Account    string `json:"account"`
	Amount     int64  `json:"amount"`
	Supplier   string `json:"supplier"`
}

type keyInfo struct {
	License string `json:"license"`
	Device  string `json:"device"`
	Account string `json:"account"`
}

type supplier struct {
	Device  string   `json:"device"`
	Account string   `json:"account"`
	Origin  bool     `json:"origin"`
	Addrs   []string `json:"addrs"`
}

type neighbour struct {
	ID  string `json:"ID"`
	LAN bool   `json:"LAN"`
}

type offer struct {
	TitleID string `json:"title"`
}

// eventually retries f every 300 ms until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, d, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// fileHash is the hex SHA-256 of a file.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// billingRow is one line of "kith-directory billing export --csv".
type billingRow map[string]string

func billing(t *testing.T, kd, data string) []billingRow {
	t.Helper()
	out, err := exec.Command(kd, "billing", "export", "--csv", "--data", data).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("billing export: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 1 {
		t.Fatalf("billing export: %v (%q)", err, out)
	}
	var rows []billingRow
	for _, r := range recs[1:] {
		row := billingRow{}
		for i, k := range recs[0] {
			row[k] = r[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// metricsAddr is the directory's admin listener for /metrics, on the
// loopback of its own namespace (the API listener serves no public metrics).
const metricsAddr = "127.0.0.1:9464"

// originBytes reads kith_directory_origin_bytes_total per content from
// the directory's /metrics, fetched from inside the directory's namespace
// (its admin listener; base is unused).
func originBytes(t *testing.T, h netns.Host, base string) map[string]int64 {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(context.Background(), exe)
	cmd.Env = append(os.Environ(), helperEnv+"=get", "KITH_E2E_URL=http://"+metricsAddr+"/metrics")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	m := map[string]int64{}
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "kith_directory_origin_bytes_total{") {
			continue
		}
		i, j := strings.Index(l, `content="`), strings.LastIndex(l, " ")
		if i < 0 || j < 0 {
			continue
		}
		cid := l[i+len(`content="`):]
		cid = cid[:strings.IndexByte(cid, '"')]
		v, err := strconv.ParseFloat(strings.TrimSpace(l[j:]), 64)
		if err == nil {
			m[cid] = int64(v)
		}
	}
	return m
}

// shape limits a host's outgoing bandwidth with tc (its uploads).
func shape(t *testing.T, h netns.Host, rate string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", h.Name, "tc", "qdisc", "replace", "dev", h.Iface, "root",
		"tbf", "rate", rate, "burst", "32kbit", "latency", "500ms").CombinedOutput()
	if err != nil {
		t.Fatalf("tc on %s: %v: %s", h.Name, err, out)
	}
}

func unshape(h netns.Host) {
	_ = exec.Command("ip", "netns", "exec", h.Name, "tc", "qdisc", "del", "dev", h.Iface, "root").Run()
}

// runningFetch is a "kithctl fetch" whose progress lines are read as they come.
type runningFetch struct {
	lines chan line  // closed when the command's output ends
	last  line       // the last line with sources (valid after lines is closed)
	done  chan error // the command's result, after lines is closed
}

// startFetch starts "kithctl --json fetch TARGET" in the background.
func (d *device) startFetch(t *testing.T, target string, args ...string) *runningFetch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, d.kithctl, append([]string{"--data", d.data, "--json", "fetch", target}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &runningFetch{lines: make(chan line, 1024), done: make(chan error, 1)}
	go func() {
		defer cancel()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var l line
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			if len(l.Sources) > 0 {
				f.last = l
			}
			f.lines <- l
		}
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("kithctl fetch %s: %v: %s", target, err, strings.TrimSpace(errb.String()))
		}
		close(f.lines)
		f.done <- err
	}()
	return f
}
