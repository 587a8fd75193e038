package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/assets"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/supervise"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/lan"
)

// householdRateDevice is the household directory's sustained requests per
// second per device (bursts of twice as many): ten times a public
// directory's default, enough for a folder add at full speed.
const householdRateDevice = 10 * directory.DefaultRateDevice

// Joined is the directory this device uses, as kept in directory.json
// (the data folder's layout is package datadir's).
type Joined = datadir.Joined

// LoadJoined reads directory.json from dataDir; ok is false on first run.
func LoadJoined(dataDir string) (j Joined, ok bool, err error) {
	return datadir.Dir(dataDir).LoadJoined()
}

// SaveJoined writes directory.json into dataDir.
func SaveJoined(dataDir string, j Joined) error { return datadir.Dir(dataDir).SaveJoined(j) }

// Household is the directory embedded in this app: a directory server on
// SQLite in dataDir/household, announced on the LAN by mDNS.
type Household struct {
	srv  *directory.Server
	st   *sqlitestore.Store
	ln   net.Listener
	ann  *lan.Announcer
	id   *identity.Identity
	log  *slog.Logger
	name string
}

// AllowPublishing lets the devices of account (the household's own, the
// account of the device running it) publish their files to it: the Music
// screen's "Add" (own music and videos). Other accounts may not.
func (h *Household) AllowPublishing(account string) error {
	if account == "" {
		return nil
	}
	return h.srv.SetPublishPolicy(directory.PublishPolicy{Mode: directory.PublishOwner, Owner: account})
}

// HouseholdOptions configure OpenHousehold.
type HouseholdOptions struct {
	DataDir string // the app's data folder; the directory lives in DataDir/household
	Addr    string // listen address, e.g. ":7443" (":0" = any port)
	Name    string // shown to devices that join
	LAN     bool   // announce on mDNS
	Logger  *slog.Logger
}

// OpenHousehold opens (creating on first use) the household directory,
// listens, and publishes the demo catalog once. It serves nothing until
// Serve.
func OpenHousehold(ctx context.Context, o HouseholdOptions) (*Household, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dir := datadir.Dir(o.DataDir).Household()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("household directory: %w", err)
	}
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "directory.key"))
	if err != nil {
		return nil, fmt.Errorf("household directory: %w", err)
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "directory.db"), sqlitestore.Options{})
	if err != nil {
		return nil, fmt.Errorf("household directory: %w", err)
	}
	h := &Household{st: st, id: id, log: o.Logger, name: o.Name}
	fail := func(err error) (*Household, error) {
		st.Close()
		if h.ln != nil {
			h.ln.Close()
		}
		return nil, fmt.Errorf("household directory: %w", err)
	}
	origin := filepath.Join(dir, "origin")
	// The household's own directory: every account of it may publish
	// from its devices (Music → Add), household-only unless made public.
	// Its devices are the household's own, and adding a folder sends two
	// requests a file (publish, then our license): at the public default
	// (DefaultRateDevice, 50/s) a 1 GiB folder of MP3s was held to 249 MB/s,
	// half what the add itself does. householdRateDevice still bounds a
	// device gone wrong; the per-address limit (DefaultRateIP) stays.
	h.srv, err = directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: origin, Name: o.Name,
		Publish: directory.PublishPolicy{Mode: directory.PublishAccounts}, RateDevice: householdRateDevice, Logger: o.Logger})
	if err != nil {
		return fail(err)
	}
	marker := filepath.Join(dir, "demo-published")
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		if err := publishDemo(ctx, st, id, origin); err != nil {
			return fail(err)
		}
		if err := atomicfile.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return fail(err)
		}
	}
	if h.ln, err = net.Listen("tcp", o.Addr); err != nil {
		o.Logger.Warn("household directory: address busy, using any port", "addr", o.Addr, "err", err)
		if h.ln, err = net.Listen("tcp", ":0"); err != nil {
			return fail(err)
		}
	}
	if o.LAN {
		port := h.ln.Addr().(*net.TCPAddr).Port
		h.ann, err = lan.NewAnnouncer(lan.AnnouncerOptions{Logger: o.Logger, IPv4Only: true,
			Service: lan.Service{Kind: lan.Directory, Fingerprint: string(id.ID()), Name: o.Name, Port: port}})
		if err != nil {
			return fail(err)
		}
	}
	return h, nil
}

// publishDemo publishes the embedded demo catalog.
func publishDemo(ctx context.Context, st directory.Store, id *identity.Identity, origin string) error {
	demo, err := assets.Demo()
	if err != nil {
		return err
	}
	rights := make([]license.Rights, len(demo))
	for i, d := range demo { // check everything before publishing anything
		if rights[i], err = directory.ParseRights(d.Rights, time.Now()); err != nil {
			return fmt.Errorf("demo title %q: %w", d.Name, err)
		}
	}
	for i, d := range demo {
		r, err := d.Open()
		if err != nil {
			return err
		}
		if _, err := directory.Publish(ctx, st, id, origin, r, directory.PublishOptions{
			Name: d.Name, Artist: d.Artist, MediaType: d.MediaType, Price: d.Price, Currency: d.Currency, Rights: rights[i],
		}); err != nil {
			return fmt.Errorf("publishing demo title %q: %w", d.Name, err)
		}
	}
	return nil
}

// Joined is how this device (and the app's own client) reaches it: by
// loopback when it listens on every address, else by the one address it
// listens on (--household 192.168.1.20:7443 does not answer on loopback).
func (h *Household) Joined() Joined {
	tcp := h.ln.Addr().(*net.TCPAddr)
	ip := netip.MustParseAddr("127.0.0.1")
	if a, ok := netip.AddrFromSlice(tcp.IP); ok && !a.Unmap().IsUnspecified() {
		ip = a.Unmap()
	}
	return Joined{URL: "https://" + netip.AddrPortFrom(ip, uint16(tcp.Port)).String(),
		Fingerprint: h.id.ID(), Name: h.name, Embedded: true}
}

// Port is the port it listens on.
func (h *Household) Port() string { return strconv.Itoa(h.ln.Addr().(*net.TCPAddr).Port) }

// Serve serves the directory (and its mDNS announcement) until ctx ends,
// then closes the store.
func (h *Household) Serve(ctx context.Context) error {
	defer h.st.Close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return h.srv.Serve(ctx, h.ln) })
	if h.ann != nil {
		g.Go(func() error {
			return supervise.Run(ctx, supervise.Options{Name: "household directory announcement", Logger: h.log}, h.ann.Serve)
		})
	}
	return g.Wait()
}

func splitPort(url string) (host, port string, err error) {
	u := url
	for _, p := range []string{"https://", "http://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			u = u[len(p):]
		}
	}
	return net.SplitHostPort(u)
}
