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
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
)

// serveConfig is what "serve" was started with.
type serveConfig struct {
	data, listen, name string
	noLAN, ipv4Only    bool
	lan                bool // the old spelling: --lan=false is --no-lan
	noHolePunch        bool
	announce           time.Duration
}

// lanOn is whether serve announces and browses by mDNS: unless --no-lan
// or the old --lan=false says no.
func (c serveConfig) lanOn() bool { return c.lan && !c.noLAN }

// daemon is a running device: a node (built once; a sign-in or sign-out
// changes its account as it runs), a lazily created player and the
// control API.
type daemon struct {
	cfg  serveConfig
	data datadir.Dir
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
		{Flag: "no-lan", Env: "KITH_NO_LAN", Var: &c.noLAN, Help: "no mDNS: neither announce to nor browse neighbours (as the app's --no-lan)"},
		{Flag: "lan", Env: "KITH_LAN", Default: "true", Var: &c.lan, Help: "old spelling, still taken: --lan=false (KITH_LAN=false) is --no-lan"},
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
	data, unlock, err := datadir.Open(cfg.data, log) // the app's layout (migrating kithctl's old one), locked
	if err != nil {
		return err
	}
	defer unlock()
	j, err := rememberDirectory(data, g.directory)
	if err != nil {
		return err
	}
	id, created, err := identity.LoadOrCreate(data.DeviceKey())
	if err != nil {
		return err
	}
	dc, err := directory.NewClient(directory.ClientOptions{URL: j.URL, Fingerprint: j.Fingerprint, Device: id, Logger: log})
	if err != nil {
		return err
	}
	log.Info("device", "id", id.ID(), "created", created, "directory", j.URL)
	if j.Embedded {
		log.Warn("the saved directory is the household directory the app runs from this folder: kithctl does not run it, so it cannot be reached until the app runs again", "url", j.URL)
	}
	d := &daemon{cfg: cfg, data: data, log: log, id: id, dir: dc, events: map[chan peer.Event]struct{}{}}
	if d.account, err = data.LoadAccount(); err != nil {
		return err
	}

	sock := data.ControlSocket()
	ln, err := listenUnix(sock)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	if d.node, err = share.NewNode(share.Options{
		DataDir: data.Library(), InstallDir: data.Install(), Identity: id, Directory: dc, ListenAddr: cfg.listen,
		Name: cfg.name, Account: d.account, AnnounceInterval: cfg.announce,
		LAN: cfg.lanOn(), LANIPv4Only: cfg.ipv4Only, OnEvent: d.broadcast, Logger: log, NoHolePunch: cfg.noHolePunch,
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

// rememberDirectory returns the directory: the flag's (saved in
// directory.json for later runs, as the app's --directory is) or the one
// saved before, by this program or the app. A saved directory the app
// found on the LAN and never paired with is not used.
func rememberDirectory(data datadir.Dir, flagURL string) (datadir.Joined, error) {
	if flagURL != "" {
		base, fp, err := directory.ParseURL(flagURL)
		if err != nil {
			return datadir.Joined{}, fmt.Errorf("--directory: %w", err)
		}
		if fp == "" {
			return datadir.Joined{}, fmt.Errorf("--directory %s: the fingerprint is missing: give https://host:port#FINGERPRINT (`kith-directory fingerprint` on the directory's machine prints it)", flagURL)
		}
		if old, ok, _ := data.LoadJoined(); ok && old.URL == base && old.Fingerprint == fp {
			return old, nil // keep what the app knows about it (name, household)
		}
		j := datadir.Joined{URL: base, Fingerprint: fp}
		return j, data.SaveJoined(j)
	}
	j, ok, err := data.LoadJoined()
	if err != nil {
		return datadir.Joined{}, err
	}
	if !ok {
		return datadir.Joined{}, errors.New("--directory URL#FINGERPRINT is required on the first run")
	}
	if j.FoundOnLAN && !j.Paired {
		return datadir.Joined{}, fmt.Errorf("the saved directory %s was found on the LAN and never paired: give --directory URL#FINGERPRINT", j)
	}
	return j, nil
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
	if err := d.data.SaveAccount(account); err != nil {
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
