// Command kith-supplier runs a Kith device without a GUI: a cache server
// that holds sealed titles and serves them to the devices its directory
// sends (and, with -lan, to LAN neighbours).
//
// Usage:
//
//	kith-supplier -data DIR -directory 'https://host:port#FINGERPRINT' [-listen :7143]
//	    [-advertise host:port,...] [-name NAME] [-account ACCOUNT] [-lan]
//	    [-fetch all|TITLE,TITLE...]
//
// On first run it creates the device key (DIR/device.key) and, when
// -account is given, enrolls the device with the password read from the
// environment variable KITH_PASSWORD. -fetch downloads the named titles (or
// the whole catalog) as ciphertext, without licenses, so the supplier can
// serve them.
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
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "kith-supplier:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kith-supplier", flag.ContinueOnError)
	data := fs.String("data", "", "data folder (required)")
	dirURL := fs.String("directory", "", "directory URL with fingerprint: https://host:port#FINGERPRINT (required)")
	listen := fs.String("listen", ":7143", "peer server address")
	advertise := fs.String("advertise", "", "comma-separated host:port announced to the directory (default: the interfaces' addresses)")
	name := fs.String("name", "kith-supplier", "device name")
	account := fs.String("account", "", "owner account (enrolls the device on first run; password in $KITH_PASSWORD)")
	lanOn := fs.Bool("lan", false, "announce and browse neighbours by mDNS")
	fetch := fs.String("fetch", "", `titles to hold: "all" or comma-separated title IDs`)
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *dirURL == "" {
		fs.Usage()
		return errors.New("-data and -directory are required")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	id, created, err := identity.LoadOrCreate(filepath.Join(*data, "device.key"))
	if err != nil {
		return err
	}
	log.Info("device", "id", id.ID(), "created", created)
	base, fp, err := directory.ParseURL(*dirURL)
	if err != nil {
		return err
	}
	if fp == "" {
		return errors.New("the directory URL needs its fingerprint: https://host:port#FINGERPRINT")
	}
	dc, err := directory.NewClient(directory.ClientOptions{URL: base, Fingerprint: fp, Device: id, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if created && *account != "" {
		if err := dc.EnrollDevice(ctx, *account, os.Getenv("KITH_PASSWORD"), *name); err != nil {
			return fmt.Errorf("enrolling: %w", err)
		}
		log.Info("enrolled", "account", *account)
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
