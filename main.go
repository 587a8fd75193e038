// Command kith is the Kith desktop app: a media player whose library is also
// a distribution network. It builds the device (keys, library, peer server,
// player) with package app/wire, shows the Fyne GUI of package app, and runs
// everything under one errgroup until the window closes or a signal arrives.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/app/mpris"
	"github.com/kith-media/kith/app/wire"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/internal/supervise"
)

// appID is Kith's application ID (FyneApp.toml, preferences, notifications).
const appID = "media.kith.app"

const usageFormat = `kith — a media player whose library is also a distribution network

Usage:
  kith [flags]

With no flags Kith just works: on first run it creates this device's keys
and data folder and looks for a Kith directory on your network for a few
seconds. If some answer, the welcome screen lists them and pairs with the
one you choose once you type the join code its own screen shows (Settings
→ Add a device, or ` + "`kith-directory pair-code`" + `): nothing is sent to a
directory before that. If none answers it starts a household directory
inside the app, with a small demo catalog, and announces it so the next
computer in the house can pair with it.

Flags (each may also come from the environment variable named):
%s
Examples:
  kith
  kith --directory https://192.168.1.20:7443#ABCDEFG-HIJKLMN-OPQRSTU-VWXYZ23
  kith --data /tmp/kith-second --household :7444
`

type config struct {
	wire     wire.Config
	view     string
	logLevel string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("kith", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := settingsTable(&c)
	fs.Usage = func() { fmt.Fprintf(stderr, usageFormat, t.Usage()) }
	if err := t.Bind(fs); err != nil {
		return c, err
	}
	c.wire.PackSelf = true // neighbours can always get Kith from this device
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see kith --help)", fs.Arg(0))
	}
	if c.view != "" && !validView(c.view) {
		return c, fmt.Errorf("--view %q: want one of %s", c.view, strings.Join(app.Views, ", "))
	}
	// A bad --directory is said here, on the terminal it was typed in, not
	// only in the window (wire.Start checks it again).
	if c.wire.Directory != "" {
		if _, fp, err := directory.ParseURL(c.wire.Directory); err != nil {
			return c, fmt.Errorf("--directory: %w", err)
		} else if fp == "" {
			return c, fmt.Errorf("--directory %s has no fingerprint: give it as https://host:port#FINGERPRINT "+
				"(`kith-directory fingerprint` on the directory's machine prints it)", c.wire.Directory)
		}
	}
	if c.wire.DeviceName == "" {
		c.wire.DeviceName, _ = os.Hostname()
	}
	return c, nil
}

// settingsTable is the app's settings: flag, environment variable,
// default and help in one place (the usage text is made from it).
func settingsTable(c *config) settings.Table {
	return settings.Table{
		datadir.Setting(&c.wire.DataDir),
		{Flag: "directory", Arg: "URL#FP", Env: "KITH_DIRECTORY", Var: &c.wire.Directory,
			Help: "use this directory, e.g. https://kith.example:7443#ABCDEFG-… (https only; the fingerprint is required and printed by `kith-directory fingerprint` and `kith-directory serve`)"},
		{Flag: "listen", Arg: "ADDR", Env: "KITH_LISTEN", Default: ":0", Var: &c.wire.Listen,
			Help: "peer server address other devices fetch from (:0 is any port)"},
		{Flag: "household", Arg: "ADDR", Env: "KITH_HOUSEHOLD", Default: ":7443", Var: &c.wire.HouseholdAddr,
			Help: "address of the embedded household directory"},
		{Flag: "name", Arg: "NAME", Env: "KITH_NAME", Var: &c.wire.DeviceName,
			Help: "this device's name, shown to others; default the host name"},
		{Flag: "lan-wait", Arg: "DUR", Default: "3s", Var: &c.wire.LANWait,
			Help: "how long to look for a directory on the LAN when started with none chosen yet (the welcome screen's searches: at least 2s)"},
		{Flag: "no-lan", Env: "KITH_NO_LAN", Var: &c.wire.NoLAN,
			Help: "no mDNS: neither look for nor announce to neighbours"},
		{Flag: "view", Arg: "NAME", Var: &c.view,
			Help: "first screen: " + strings.Join(app.Views, ", ")},
		{Flag: "log-level", Arg: "LEVEL", Env: "KITH_LOG_LEVEL", Default: "info", Var: &c.logLevel,
			Help: "debug, info, warn or error; logs go to stderr"},
	}
}

func validView(v string) bool {
	for _, x := range app.Views {
		if x == v {
			return true
		}
	}
	return false
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kith:", err)
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "kith: --log-level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		// Fyne's GLFW driver panics without one; say what is wrong instead.
		fmt.Fprintln(os.Stderr, "kith: no display (DISPLAY and WAYLAND_DISPLAY are unset): run it in a desktop session, "+
			"or use kithctl for a device without a GUI (kithctl --help)")
		os.Exit(1)
	}
	if err := run(c, log); err != nil {
		log.Error("kith stopped", "err", err)
		os.Exit(1)
	}
}

// run shows the window at once (a start-up screen), builds the device off
// the UI goroutine, then swaps in the real screens; it returns when the
// window is closed or a signal arrives, after every service has stopped.
// Fyne's stopped hooks (the preferences' last write) run here after the
// window's loop, not queued by the loop as it ends (stopped.go).
func run(c config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.wire.Logger = log
	a := fyneapp.NewWithID(appID)
	stopped := takeStoppedHooks(a) // run below, after the loop: see stopped.go
	a.SetIcon(app.Icon)
	win := a.NewWindow("Kith")
	w := a.Preferences().FloatWithFallback("window.width", 1200)
	h := a.Preferences().FloatWithFallback("window.height", 760)
	win.Resize(fyne.NewSize(float32(w), float32(h)))
	win.SetContent(app.Splash("Starting Kith…"))
	win.SetCloseIntercept(func() { stop() })

	g, gctx := errgroup.WithContext(ctx)
	quit := func() { stop() }
	// Whatever ends the services (a signal, a failure, Quit) closes the window.
	go func() {
		<-gctx.Done()
		// Fyne's driver quits on SIGINT/SIGTERM by itself: when its loop
		// has ended first, fyne.Do runs Quit here and GLFW, terminated,
		// panics (kith exited 2 on SIGTERM when it ran at real-time
		// priority). There is nothing left to close then.
		defer func() {
			if r := recover(); r != nil {
				log.Debug("window already closed", "quit", r)
			}
		}()
		fyne.Do(a.Quit)
	}()
	started := time.Now()
	g.Go(func() error {
		k, err := wire.Start(gctx, c.wire)
		if err != nil {
			log.Error("kith could not start", "err", err)
			fyne.Do(func() { win.SetContent(app.Failure(err, quit)) })
			<-gctx.Done()
			return nil
		}
		ready := make(chan *app.UI, 1)
		fyne.Do(func() {
			u, err := app.New(app.Options{App: a, Window: win, Backend: k.Backend, Logger: log,
				View: c.view, DeviceName: c.wire.DeviceName, OnQuit: quit})
			if err != nil {
				win.SetContent(app.Failure(err, quit))
			}
			ready <- u
		})
		u := <-ready
		if u == nil {
			k.Close()
			<-gctx.Done()
			return nil
		}
		log.Info("kith ready", "device", k.Device.ID(), "directory", k.Joined.String(), "data", c.wire.DataDir,
			"startup", time.Since(started).Round(time.Millisecond))
		g.Go(func() error { return u.Serve(gctx) })
		if sock := os.Getenv(app.InspectEnv); sock != "" {
			ln, err := listenInspect(sock)
			if err != nil {
				k.Close()
				return err
			}
			log.Warn("UI inspector serving the widget tree (for tests)", "socket", sock, "env", app.InspectEnv)
			g.Go(func() error { return u.ServeInspect(gctx, ln) })
		}
		media := mpris.New(mpris.Options{Player: k.Backend.Player, Quit: quit, Logger: log,
			Raise: func() { fyne.Do(func() { win.Show(); win.RequestFocus() }) }})
		g.Go(func() error {
			return supervise.Run(gctx, supervise.Options{Name: "media controls (MPRIS)", Logger: log}, media.Serve)
		})
		return k.Serve(gctx)
	})
	win.ShowAndRun()
	if stopped != nil {
		stopped()
	}
	stop()
	return g.Wait()
}

// listenInspect opens the inspector's unix socket at path, readable by this
// user only; a socket left by a crashed run is replaced.
func listenInspect(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("inspector socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("inspector socket: %w", err)
	}
	return ln, nil
}
