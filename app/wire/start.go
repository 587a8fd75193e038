package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/playback"
	"github.com/kith-media/kith/share/sealed"
)

// Config is what the desktop app is started with.
type Config struct {
	DataDir string // required
	// Directory is "https://host:port#fingerprint"; "" means the one
	// joined before, else one found on the LAN, else the household
	// directory embedded in this app.
	Directory     string
	Listen        string        // peer server address (default ":0")
	HouseholdAddr string        // embedded directory address (default ":7443")
	DeviceName    string        // shown to peers (default: host name)
	LANWait       time.Duration // first run: how long to look for a directory (default 3 s)
	NoLAN         bool          // no mDNS at all (tests, locked-down networks)
	Output        player.Output // nil = the system's audio output
	Logger        *slog.Logger
}

// Kith is a started device: everything the GUI needs, not yet serving.
type Kith struct {
	Backend   app.Backend
	Device    *identity.Identity
	Joined    Joined
	Session   *Session
	Adapter   *Node
	Player    *Player
	household *Household
	player    *player.Player
	log       *slog.Logger
	nodeOpts  share.Options
	signedIn  chan string // the node opened at the first sign-in, for Serve to run
	mu        sync.Mutex
	n         *share.Node // nil until the device is enrolled
}

// openNode builds the node for account (the peer server and the library
// need to know whose household they serve).
func (k *Kith) openNode(account string) error {
	o := k.nodeOpts
	o.Account = account
	n, err := share.NewNode(o)
	if err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	k.mu.Lock()
	k.n = n
	k.mu.Unlock()
	k.Adapter.Attach(n)
	return nil
}

// node is the device's node, nil before the first sign-in.
func (k *Kith) node() *share.Node {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// Start opens the device keys, picks the directory (first run: LAN, else an
// embedded household directory with the demo catalog), and builds the node,
// the player and their adapters. It starts no goroutines; Serve runs them.
func Start(ctx context.Context, c Config) (*Kith, error) {
	if c.DataDir == "" {
		return nil, errors.New("starting: no data folder")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Listen == "" {
		c.Listen = ":0"
	}
	if c.HouseholdAddr == "" {
		c.HouseholdAddr = ":7443"
	}
	if c.LANWait <= 0 {
		c.LANWait = 3 * time.Second
	}
	if c.DeviceName == "" {
		c.DeviceName, _ = os.Hostname()
	}
	log := c.Logger
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	dev, created, err := identity.LoadOrCreate(filepath.Join(c.DataDir, "device.key"))
	if err != nil {
		return nil, fmt.Errorf("starting: device keys: %w", err)
	}
	if created {
		log.Info("created device keys", "device", dev.ID())
	}
	k := &Kith{Device: dev, log: log}
	ok := false
	defer func() {
		if !ok {
			k.Close()
		}
	}()
	if k.Joined, err = k.chooseDirectory(ctx, c); err != nil {
		return nil, err
	}
	client, err := directory.NewClient(directory.ClientOptions{URL: k.Joined.URL, Fingerprint: k.Joined.Fingerprint, Device: dev, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("starting: directory %s: %w", k.Joined, err)
	}
	info := app.DirectoryInfo{Name: k.Joined.Name, URL: k.Joined.URL, Fingerprint: k.Joined.Fingerprint,
		Embedded: k.Joined.Embedded, FoundOnLAN: k.Joined.FoundOnLAN}
	if info.Name == "" {
		info.Name = "Kith directory"
	}
	if k.Session, err = NewSession(client, info, c.DataDir); err != nil {
		return nil, err
	}
	if k.Session.Account() == "" {
		k.learnAccount(ctx, client)
	}

	k.Adapter = NewNode(client, log)
	k.nodeOpts = share.Options{DataDir: filepath.Join(c.DataDir, "library"), Identity: dev, Directory: client,
		ListenAddr: c.Listen, Name: c.DeviceName, LAN: !c.NoLAN, LANIPv4Only: true,
		InstallDir: filepath.Join(c.DataDir, "install"), OnEvent: k.Adapter.OnEvent, Logger: log}
	k.nodeOpts.Server.OnUpload = k.Adapter.OnUpload
	k.signedIn = make(chan string, 1)
	k.Session.OnSignedIn = func(account string) {
		if k.node() != nil {
			return
		}
		if err := k.openNode(account); err != nil {
			log.Error("starting the node after sign-in", "err", err)
			return
		}
		k.signedIn <- account // Serve runs it
	}
	if a := k.Session.Account(); a != "" {
		if err := k.openNode(a); err != nil {
			return nil, err
		}
	}
	if k.player, err = player.New(player.Options{Source: playback.Source{Node: k.node}, Positions: playback.Positions{Node: k.node}, Prefetcher: playback.Prefetcher{Node: k.node}, Output: c.Output, Logger: log}); err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	k.Player = NewPlayer(k.player, k.artist)
	k.Backend = app.Backend{Session: k.Session, Catalog: k.Adapter, Library: k.Adapter,
		Neighbours: k.Adapter.NeighboursView(), Sharing: k.Adapter.SharingView(), Player: k.Player}
	ok = true
	return k, nil
}

// chooseDirectory: the flag, else the remembered one, else the LAN, else
// the household directory (opened here when it is ours).
func (k *Kith) chooseDirectory(ctx context.Context, c Config) (Joined, error) {
	log := c.Logger
	if c.Directory != "" {
		base, fp, err := directory.ParseURL(c.Directory)
		if err != nil {
			return Joined{}, fmt.Errorf("--directory: %w", err)
		}
		j := Joined{URL: base, Fingerprint: fp}
		if old, ok, _ := LoadJoined(c.DataDir); !ok || old.Fingerprint != fp {
			if err := SaveJoined(c.DataDir, j); err != nil {
				return Joined{}, err
			}
		}
		return j, nil
	}
	j, ok, err := LoadJoined(c.DataDir)
	if err != nil {
		return Joined{}, err
	}
	if !ok && !c.NoLAN {
		log.Info("looking for a directory on the LAN", "wait", c.LANWait)
		found, got, err := FindOnLAN(ctx, c.LANWait, log)
		if err != nil {
			log.Warn("LAN search failed; starting a household directory", "err", err)
		}
		if got {
			log.Info("joining the directory found on the LAN", "url", found.URL, "fingerprint", found.Fingerprint)
			if err := SaveJoined(c.DataDir, found); err != nil {
				return Joined{}, err
			}
			return found, nil
		}
	}
	if ok && !j.Embedded {
		return j, nil
	}
	name := c.DeviceName + " household"
	if j.Name != "" {
		name = j.Name
	}
	addr := c.HouseholdAddr
	if ok { // keep the port devices already know, on the host asked for
		host, _, herr := net.SplitHostPort(addr)
		if _, port, err := splitPort(j.URL); err == nil && herr == nil {
			addr = net.JoinHostPort(host, port)
		}
	}
	k.household, err = OpenHousehold(ctx, HouseholdOptions{DataDir: c.DataDir, Addr: addr, Name: name, LAN: !c.NoLAN, Logger: log})
	if err != nil {
		return Joined{}, err
	}
	hj := k.household.Joined()
	if !ok || hj != j {
		if err := SaveJoined(c.DataDir, hj); err != nil {
			return Joined{}, err
		}
	}
	log.Info("household directory", "url", hj.URL, "fingerprint", hj.Fingerprint)
	return hj, nil
}

// learnAccount asks the directory which account this device is enrolled
// under (a device enrolled elsewhere, or before the account file existed).
func (k *Kith) learnAccount(ctx context.Context, c *directory.Client) {
	if k.household != nil {
		return // not serving yet; sign-in will tell
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d, err := c.Whois(ctx, k.Device.ID())
	if err != nil || d.Revoked || d.Account == "" {
		return
	}
	if err := k.Session.SetAccount(d.Account); err != nil {
		k.log.Warn("remembering account", "err", err)
	}
}

func (k *Kith) artist(id string) string {
	cid, err := sealed.ParseContentID(id)
	if err != nil {
		return ""
	}
	n := k.node()
	if n == nil {
		return ""
	}
	ts, err := n.Library().TitlesFor(context.Background(), cid)
	if err != nil || len(ts) == 0 {
		return ""
	}
	return ts[0].Artist
}

// Serve runs the household directory (if ours), the node, the player and
// the adapters until ctx ends or one of them fails. The household
// directory stops last, so the node can withdraw from it.
func (k *Kith) Serve(ctx context.Context) error {
	hctx, stopHousehold := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHousehold()
	hdone := make(chan error, 1)
	if h := k.household; h != nil {
		k.household = nil // its Serve closes it
		go func() { hdone <- h.Serve(hctx) }()
	} else {
		hdone <- nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if k.node() == nil { // first run: the node starts at sign-in
			select {
			case <-gctx.Done():
				return nil
			case <-k.signedIn: // opened by OnSignedIn
			}
		}
		return k.node().Serve(gctx)
	})
	g.Go(func() error { return k.Adapter.Serve(gctx) })
	g.Go(func() error { return k.player.Serve(gctx) })
	g.Go(func() error { return k.Player.Serve(gctx) })
	// The household directory failing stops everything too.
	g.Go(func() error {
		select {
		case err := <-hdone:
			hdone <- err
			if err != nil {
				return fmt.Errorf("household directory: %w", err)
			}
		case <-gctx.Done():
		}
		return nil
	})
	err := g.Wait()
	stopHousehold()
	if herr := <-hdone; herr != nil && err == nil {
		err = herr
	}
	return err
}

// Close releases what Start opened, for when Serve never runs.
func (k *Kith) Close() {
	if k.household != nil {
		k.household.st.Close()
		k.household.ln.Close()
		k.household = nil
	}
	if n := k.node(); n != nil {
		n.Close()
	}
}
