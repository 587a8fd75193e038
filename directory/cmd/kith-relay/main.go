// Command kith-relay splices askers to suppliers behind NAT routers for
// one Kith directory, under tickets that directory signs (package
// directory/relay). It keeps no database: its key file is its only state.
// It holds its data folder's lock (internal/datadir) while it runs: a
// second kith-relay on the same folder is refused, since both would answer
// as one relay ID.
//
//	kith-relay --directory FINGERPRINT [--addr :7400] [--data DIR] [--metrics-addr 127.0.0.1:9465]
//
// It prints "RELAY-ID@host:port": give it to the directory
// (kith-directory serve --relay-at RELAY-ID@host:port). Its key lives in
// --data, else $KITH_RELAY_DATA, else $XDG_DATA_HOME/kith-relay (else
// ~/.local/share/kith-relay), as kith-directory and kith choose theirs.
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
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/share/identity"
)

func main() {
	// A process that only relays runs at SCHED_BATCH: its woken threads
	// do not preempt running work, and move more per wakeup.
	if err := relay.BatchScheduling(); err != nil {
		fmt.Fprintln(os.Stderr, "kith-relay: staying at the normal scheduling policy:", err)
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// envData names the data folder when --data is not given.
const envData = "KITH_RELAY_DATA"

// defaultData is --data's default: $KITH_RELAY_DATA, else the XDG data
// folder (datadir.DefaultFor). It was the current folder, which left
// relay.key wherever the relay happened to be started.
func defaultData() string {
	if d := os.Getenv(envData); d != "" {
		return d
	}
	return datadir.DefaultFor("kith-relay")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if err := serve(ctx, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "kith-relay:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kith-relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `kith-relay — splices Kith players behind NAT routers for one directory

Usage:
  kith-relay --directory FINGERPRINT [--addr :7400] [--data DIR] [--metrics-addr 127.0.0.1:9465]

It prints RELAY-ID@host:port; start the directory with
  kith-directory serve --relay-at RELAY-ID@host:port
Askers need a ticket the directory signs; the relay keeps no other state.
Its key, relay.key, is kept in --data: by default $KITH_RELAY_DATA, else
$XDG_DATA_HOME/kith-relay, else ~/.local/share/kith-relay (made 0700).
A running relay holds that folder's lock: a second relay on the same folder
is refused (both would answer as one relay ID); give each its own --data.
On Linux its threads run at SCHED_BATCH: a relay thread woken by arriving
bytes waits for a free core instead of preempting the work running there.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Examples:
  # a relay for the directory whose URL ends in #ABCDEFG-HIJKLMN-..., state in /var/lib/kith-relay
  kith-relay --directory ABCDEFG-HIJKLMN-... --data /var/lib/kith-relay \
      --public relay.example.net:7400 --metrics-addr 127.0.0.1:9465
  # then, on the directory's machine, with the line it printed:
  kith-directory serve --relay-at RELAY-ID@relay.example.net:7400
`)
	}
	addr := fs.String("addr", ":7400", "listen address host:port of the relay port")
	public := fs.String("public", "", "host:port askers and suppliers reach the relay at, printed (default from --addr)")
	data := fs.String("data", defaultData(), "folder of relay.key, the relay's identity (created on first use, mode 0600; env "+envData+")")
	dirFP := fs.String("directory", "", "fingerprint of the directory whose tickets are honoured (required)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics and /healthz in plain HTTP here, e.g. 127.0.0.1:9465")
	var o relay.Options
	fs.IntVar(&o.MaxSuppliers, "max-suppliers", 10000, "control connections in total")
	fs.IntVar(&o.MaxSessions, "max-sessions", 1024, "sessions in total")
	fs.IntVar(&o.MaxSessionsPerDevice, "max-sessions-per-device", 16, "sessions per device (asker or supplier)")
	fs.IntVar(&o.MaxConnsPerIP, "max-conns-per-ip", 64, "connections of any kind from one IPv4 address or IPv6 /64")
	fs.Int64Var(&o.RateTotal, "rate", 1<<30, "bytes per second in total, 1 GiB/s by default (-1: unlimited)")
	fs.Int64Var(&o.RatePerDevice, "rate-per-device", 64<<20, "bytes per second of one supplier's sessions, 64 MiB/s by default (-1: unlimited)")
	fs.Int64Var(&o.BytesPerDevice, "bytes-per-device", 32<<30, "bytes one supplier may relay per --bytes-window, 32 GiB by default")
	fs.DurationVar(&o.BytesWindow, "bytes-window", time.Hour, "window of --bytes-per-device")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *level)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: l}))
	if *dirFP == "" {
		fs.Usage()
		return errors.New("--directory FINGERPRINT is required (the part after # in the directory's URL)")
	}
	fp, err := identity.ParseID(*dirFP)
	if err != nil {
		return fmt.Errorf("--directory: %w (the fingerprint is the part after # in the directory's URL; `kith-directory fingerprint` prints it)", err)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	// Only the lock of internal/datadir (Open would migrate a device's
	// layout, which this folder is not): two relays on one folder would
	// share relay.key and answer as one relay ID.
	unlock, err := datadir.Dir(*data).Lock()
	if errors.Is(err, datadir.ErrInUse) {
		return fmt.Errorf("%w: --data %s is held by another process, likely another kith-relay (two relays on one folder would answer as one relay ID): stop that one, or give this one another --data", datadir.ErrInUse, *data)
	}
	if err != nil {
		return fmt.Errorf("--data %s: %w", *data, err)
	}
	defer unlock()
	id, created, err := identity.LoadOrCreate(filepath.Join(*data, "relay.key"))
	if err != nil {
		return fmt.Errorf("relay identity in --data %s: %w", *data, err)
	}
	if created {
		log.Info("created relay identity", "id", id.ID())
	}
	o.Identity, o.Directory, o.Logger = id, fp, log
	srv, err := relay.NewServer(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return settings.ListenError("addr", err)
	}
	pub := *public
	if pub == "" {
		pub = ln.Addr().String()
	}
	fmt.Fprintf(stdout, "%s@%s\n", id.ID(), pub)
	log.Info("relaying", "id", id.ID(), "addr", ln.Addr().String(), "directory", fp)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return settings.ListenError("metrics-addr", err)
		}
		g.Go(func() error { return ServeAdmin(gctx, mln, srv.Handler()) })
	}
	return g.Wait()
}

// ServeAdmin serves h in plain HTTP on ln until ctx ends.
func ServeAdmin(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, MaxHeaderBytes: 8 << 10}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	})
	defer stop()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}
