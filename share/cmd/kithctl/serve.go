package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
)

// Files in the data folder besides the library's.
const (
	keyFile       = "device.key" // the device identity (0600)
	sockFile      = "kithctl.sock"
	accountFile   = "account"   // the account this device is enrolled under
	directoryFile = "directory" // the directory URL given on first run
)

// serveConfig is what "serve" was started with.
type serveConfig struct {
	data, listen, name string
	lan, ipv4Only      bool
	noHolePunch        bool
	announce           time.Duration
}

// daemon is a running device: a node (built once; a sign-in or sign-out
// changes its account as it runs), a lazily created player and the
// control API.
type daemon struct {
	cfg  serveConfig
	log  *slog.Logger
	id   *identity.Identity
	dir  *directory.Client
	node *share.Node // set before the control API answers

	mu      sync.Mutex
	account string
	events  map[chan peer.Event]struct{}

	playOnce sync.Once
	player   *player.Player
	playErr  error
	playMu   sync.Mutex // one play command at a time
}

// serveSettings are serve's flags (one table: flag, environment
// variable, default, help).
func serveSettings(c *serveConfig, verbose *bool) settings.Table {
	return settings.Table{
		{Flag: "listen", Arg: "ADDR", Env: "KITH_LISTEN", Default: ":7143", Var: &c.listen, Help: "peer server address"},
		{Flag: "name", Arg: "NAME", Env: "KITH_NAME", Var: &c.name, Help: "device name; default the host name"},
		{Flag: "lan", Env: "KITH_LAN", Default: "true", Var: &c.lan, Help: "announce and browse neighbours by mDNS (--lan=false: off)"},
		{Flag: "ipv4-only", Var: &c.ipv4Only, Help: "mDNS over IPv4 only"},
		{Flag: "announce", Arg: "DUR", Default: share.DefaultAnnounceInterval.String(), Var: &c.announce, Help: "heartbeat interval to the directory"},
		{Flag: "no-hole-punch", Var: &c.noHolePunch, Help: "reach suppliers behind NAT only through the relay, never directly (they then see only the relay's address)"},
		{Flag: "v", Var: verbose, Help: "debug logging"},
	}
}

func cmdServe(ctx context.Context, g globals, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := serveConfig{data: g.data}
	verbose := new(bool)
	if err := serveSettings(&cfg, verbose).Bind(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q", errUsage, fs.Arg(0))
	}
	if cfg.name == "" {
		cfg.name, _ = os.Hostname()
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(cfg.data, 0o700); err != nil {
		return fmt.Errorf("making data folder: %w", err)
	}
	dirURL, err := rememberDirectory(cfg.data, g.directory)
	if err != nil {
		return err
	}
	id, created, err := identity.LoadOrCreate(filepath.Join(cfg.data, keyFile))
	if err != nil {
		return err
	}
	base, fp, err := directory.ParseURL(dirURL)
	if err != nil {
		return err
	}
	dc, err := directory.NewClient(directory.ClientOptions{URL: base, Fingerprint: fp, Device: id, Logger: log})
	if err != nil {
		return err
	}
	log.Info("device", "id", id.ID(), "created", created, "directory", base)
	d := &daemon{cfg: cfg, log: log, id: id, dir: dc, events: map[chan peer.Event]struct{}{}}
	if b, err := os.ReadFile(filepath.Join(cfg.data, accountFile)); err == nil {
		d.account = strings.TrimSpace(string(b))
	}

	sock := filepath.Join(cfg.data, sockFile)
	ln, err := listenUnix(sock)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	if d.node, err = share.NewNode(share.Options{
		DataDir: cfg.data, Identity: id, Directory: dc, ListenAddr: cfg.listen,
		Name: cfg.name, Account: d.account, AnnounceInterval: cfg.announce,
		LAN: cfg.lan, LANIPv4Only: cfg.ipv4Only, OnEvent: d.broadcast, Logger: log, NoHolePunch: cfg.noHolePunch,
	}); err != nil {
		ln.Close()
		return err
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error { return d.node.Serve(ectx) })
	log.Info("node serving", "addr", d.node.Addr(), "account", d.account)
	eg.Go(func() error {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("control API: %w", err)
		}
		return nil
	})
	eg.Go(func() error {
		<-ectx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		return nil
	})
	fmt.Fprintf(stderr, "kithctl: device %s serving; control socket %s\n", id.ID(), sock)
	err = eg.Wait()
	os.Remove(sock)
	return err
}

// rememberDirectory returns the directory URL: the flag (saved for later
// runs) or the one saved on the first run.
func rememberDirectory(data, flagURL string) (string, error) {
	p := filepath.Join(data, directoryFile)
	if flagURL != "" {
		_, fp, err := directory.ParseURL(flagURL)
		if err != nil {
			return "", fmt.Errorf("--directory: %w", err)
		}
		if fp == "" {
			return "", fmt.Errorf("--directory %s: the fingerprint is missing: give https://host:port#FINGERPRINT (`kith-directory fingerprint` on the directory's machine prints it)", flagURL)
		}
		return flagURL, atomicfile.WriteFile(p, []byte(flagURL+"\n"), 0o600)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", errors.New("--directory URL#FINGERPRINT is required on the first run")
	}
	return strings.TrimSpace(string(b)), nil
}

// listenUnix listens on the control socket with mode 0600, replacing a
// stale socket but refusing to run twice on one data folder.
func listenUnix(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another kithctl serve already runs on %s", path)
	}
	os.Remove(path)
	old := umask(0o177)
	ln, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// current returns the node.
func (d *daemon) current() *share.Node { return d.node }

// setAccount records the account and hands it to the running node (which
// goes on serving: Node.SetAccount).
func (d *daemon) setAccount(account string) error {
	if err := atomicfile.WriteFile(filepath.Join(d.cfg.data, accountFile), []byte(account+"\n"), 0o600); err != nil {
		return err
	}
	d.mu.Lock()
	d.account = account
	d.mu.Unlock()
	d.node.SetAccount(account)
	return nil
}

// subscribe returns fetch events until cancel is called.
func (d *daemon) subscribe() (<-chan peer.Event, func()) {
	ch := make(chan peer.Event, 256)
	d.mu.Lock()
	d.events[ch] = struct{}{}
	d.mu.Unlock()
	return ch, func() {
		d.mu.Lock()
		delete(d.events, ch)
		d.mu.Unlock()
	}
}

// broadcast hands a fetch event to every subscriber that keeps up.
func (d *daemon) broadcast(e peer.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.events {
		select {
		case ch <- e:
		default:
		}
	}
}
