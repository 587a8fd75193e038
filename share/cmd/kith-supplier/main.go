// Command kith-supplier runs a Kith device without a GUI: a cache server
// that holds sealed titles and serves them to the devices its directory
// sends (and, with --lan, to LAN neighbours).
//
// Usage (kith-supplier --help has every flag with its default):
//
//	kith-supplier --data DIR --directory 'https://host:port#FINGERPRINT' [--listen :7143]
//	    [--advertise host:port,...] [--name NAME] [--account ACCOUNT] [--lan]
//	    [--fetch all|TITLE,TITLE...] [-v]
//
// On first run it creates the device key (DIR/device.key). With --account
// it makes sure the device is enrolled under that account: until the
// directory has acknowledged it (DIR/enrolled, written only then) it asks
// the directory and, if the device is not enrolled, enrolls it with the
// password read from the environment variable KITH_PASSWORD — so an
// enrolment that failed is tried again on the next start. It serves
// meanwhile: a directory it cannot reach is asked again after a back-off
// (at most a minute), and a refusal (wrong password, another account)
// ends it with the reason. --fetch downloads, once at start, the named
// titles (or the catalog as it is then: a title published later is not
// fetched until the next start) as ciphertext, without licenses, so the
// supplier can serve them. Its data folder is its own (device.key,
// enrolled and the library at its root), not the app's layout of
// internal/datadir, but it takes that package's lock (DIR/lock): two
// processes never run one folder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "kith-supplier:", err)
		os.Exit(1)
	}
}

const usageHead = `kith-supplier — a headless cache server for a Kith directory

Usage:
  kith-supplier --data DIR --directory https://host:port#FINGERPRINT [flags]

It holds sealed titles (ciphertext only, no licenses) and serves them to the
devices its directory sends, and with --lan to LAN neighbours. On first run
it creates the device key DIR/device.key (mode 0600). With --account it
enrolls the device under that account with the password in $KITH_PASSWORD
(never on the command line); until the directory has acknowledged that
(DIR/enrolled), each start asks it again, so a failed enrolment is retried;
an unreachable directory is asked again while it serves (a refusal ends it).
One process at a time runs a folder (DIR/lock). It runs until SIGINT or
SIGTERM.

Flags:
`

const usageTail = `
Examples:
  # a cache of the whole catalog, announced at the machine's public address
  KITH_PASSWORD=... kith-supplier --data /var/lib/kith-supplier \
      --directory https://dir.example:8443#ABCDEFG-HIJKLMN-... \
      --account label --fetch all --advertise cache.example:7143
  # two titles, also offered to LAN neighbours
  kith-supplier --data ./cache --directory https://192.168.1.20:7443#ABCDEFG-... \
      --fetch 3f2a9c0d11e4b7a8,9b1e0c2d44f5a6b7 --lan
`

// run runs the supplier until ctx ends.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kith-supplier", flag.ContinueOnError)
	data := fs.String("data", "", "data folder: device key and library, created if missing (required)")
	dirURL := fs.String("directory", "", "the directory as kith-directory serve prints it: https://host:port#FINGERPRINT (required)")
	listen := fs.String("listen", ":7143", "peer server address other devices fetch from")
	advertise := fs.String("advertise", "", "comma-separated host:port announced to the directory (default: the interfaces' addresses)")
	name := fs.String("name", "kith-supplier", "device name shown to others")
	account := fs.String("account", "", "owner account: enrolls the device until the directory has acknowledged it, password in $KITH_PASSWORD")
	lanOn := fs.Bool("lan", false, "announce and browse neighbours by mDNS")
	fetch := fs.String("fetch", "", `titles to fetch at start: "all" (the catalog as it is then; later titles at the next start) or comma-separated title IDs`)
	verbose := fs.Bool("v", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageTail)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *data == "" && *dirURL == "":
		fs.Usage()
		return errors.New("--data and --directory are required (see the usage above)")
	case *data == "":
		return errors.New("--data DIR is required: the folder for this supplier's device key and library")
	case *dirURL == "":
		return errors.New("--directory is required: the directory's https://host:port#FINGERPRINT, as `kith-directory serve` prints it")
	}
	// The URL is checked before a device key is made for it.
	base, fp, err := directory.ParseURL(*dirURL)
	if err != nil {
		return fmt.Errorf("--directory: %w (want https://host:port#FINGERPRINT, as `kith-directory serve` or `kith-directory fingerprint` prints it)", err)
	}
	if fp == "" {
		return errors.New("--directory: the URL needs its fingerprint: https://host:port#FINGERPRINT (`kith-directory fingerprint` prints it)")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	// Only the lock of internal/datadir: Open would also move a library
	// at the folder's root (kithctl's old layout, which is this one's).
	unlock, err := datadir.Dir(*data).Lock()
	if err != nil {
		return err
	}
	defer unlock()
	id, created, err := identity.LoadOrCreate(filepath.Join(*data, "device.key"))
	if err != nil {
		return fmt.Errorf("device key: %w", err)
	}
	log.Info("device", "id", id.ID(), "created", created)
	dc, err := directory.NewClient(directory.ClientOptions{URL: base, Fingerprint: fp, Device: id, Logger: log})
	if err != nil {
		return err
	}
	// Enrolled before the node starts, so its first announcement counts;
	// a directory that cannot be reached now is asked again while the
	// supplier serves (enrollLater), a refusal ends it here.
	password := os.Getenv("KITH_PASSWORD")
	var enrollErr error
	if *account != "" {
		enrollErr = ensureEnrolled(ctx, log, dc, *data, id, *account, password, *name)
		var r retryable
		if enrollErr != nil && !errors.As(enrollErr, &r) {
			return enrollErr
		}
	}
	o := share.Options{DataDir: *data, Identity: id, Directory: dc, ListenAddr: *listen, Name: *name,
		Account: *account, LAN: *lanOn, Logger: log}
	if *advertise != "" {
		o.AdvertiseAddrs = strings.Split(*advertise, ",")
	}
	node, err := share.NewNode(o)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", node.Addr())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return node.Serve(gctx) })
	if enrollErr != nil {
		g.Go(func() error {
			return enrollLater(gctx, log, enrollErr, func() {
				if err := node.Announce(gctx); err != nil {
					log.Warn("announcing after enrolling", "err", err)
				}
			}, dc, *data, id, *account, password, *name)
		})
	}
	if *fetch != "" {
		g.Go(func() error { return prefetch(gctx, log, node, dc, *fetch) })
	}
	return g.Wait()
}

// prefetch downloads the ciphertext of the chosen titles.
func prefetch(ctx context.Context, log *slog.Logger, node *share.Node, dc *directory.Client, which string) error {
	var titles []directory.Title
	if which == "all" {
		for page := 1; ; page++ {
			ts, total, err := dc.Titles(ctx, "", page, 100)
			if err != nil {
				return fmt.Errorf("listing the catalog: %w", err)
			}
			titles = append(titles, ts...)
			if len(ts) == 0 || len(titles) >= total {
				break
			}
		}
	} else {
		for _, id := range strings.Split(which, ",") {
			t, err := dc.Title(ctx, strings.TrimSpace(id))
			if err != nil {
				return fmt.Errorf("title %q: %w", id, err)
			}
			titles = append(titles, *t)
		}
	}
	for _, t := range titles {
		if err := node.Library().PutTitle(ctx, library.Title{ID: t.ID, Name: t.Name, Artist: t.Artist,
			MediaType: t.MediaType, ContentID: t.ContentID, Size: t.Size}); err != nil {
			return err
		}
		if err := node.Fetch(ctx, t.ContentID); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("prefetch failed", "title", t.ID, "err", err)
			continue
		}
		log.Info("holding", "title", t.ID, "content", t.ContentID)
	}
	return nil
}
