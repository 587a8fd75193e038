package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/assets"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/player"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/install"
	"github.com/kith-media/kith/share/playback"
	"github.com/kith-media/kith/share/sealed"
)

// Config is what the desktop app is started with.
type Config struct {
	DataDir string // required
	// Directory is "https://host:port#fingerprint" (https only, the
	// fingerprint required); "" means the one joined before, else — when
	// directories answer on the LAN — none until the user pairs with one
	// (Kith.Pairing), else the household directory embedded in this app.
	Directory     string
	Listen        string        // peer server address (default ":0")
	HouseholdAddr string        // embedded directory address (default ":7443")
	DeviceName    string        // shown to peers (default: host name)
	LANWait       time.Duration // how long to look for a directory when started with none chosen yet (default 3 s); the welcome screen's searches take at least 2 s
	NoLAN         bool          // no mDNS at all (tests, locked-down networks)
	Output        player.Output // nil = the system's audio output
	// PackSelf offers neighbours a package made from the running program
	// (with the icon and desktop entry) when <DataDir>/install holds none;
	// it is made the first time it is asked for (the Sharing screen, the
	// install page): about 2 s of CPU for a 40 MB program.
	PackSelf bool
	Logger   *slog.Logger
}

// Kith is a started device: everything the GUI needs, not yet serving.
type Kith struct {
	Backend   app.Backend
	Device    *identity.Identity
	Joined    Joined // zero until paired (see Paired)
	Session   *Session
	Adapter   *Node
	Player    *Player
	household *Household // opened by Start, run by Serve
	player    *player.Player
	cfg       Config
	log       *slog.Logger
	n         *share.Node // built once by Start, whether paired and signed in or not
	mu        sync.Mutex  // guards Joined and the household fields once serving
	// runningHousehold is the embedded directory, for showing join codes.
	runningHousehold *Household
	late             chan *Household // opened after Start (Pairing.StartHousehold), for Serve
	unlock           func()          // releases the data folder (Close)
}

// node is the device's node.
func (k *Kith) node() *share.Node { return k.n }

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
	// The layout kithctl shares (migrating its old one), locked until Close
	// or the end of Serve.
	data, unlock, err := datadir.Open(c.DataDir, log)
	if err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	k := &Kith{log: log, cfg: c, late: make(chan *Household, 1), unlock: unlock}
	ok := false
	defer func() {
		if !ok {
			k.Close()
		}
	}()
	dev, created, err := identity.LoadOrCreate(data.DeviceKey())
	if err != nil {
		return nil, fmt.Errorf("starting: device keys: %w", err)
	}
	if created {
		log.Info("created device keys", "device", dev.ID())
	}
	k.Device = dev
	paired := false
	if k.Joined, paired, err = k.chooseDirectory(ctx, c); err != nil {
		return nil, err
	}
	var client *directory.Client // nil until paired: nothing is sent to an unpaired directory
	info := app.DirectoryInfo{}
	if paired {
		client, err = directory.NewClient(directory.ClientOptions{URL: k.Joined.URL, Fingerprint: k.Joined.Fingerprint, Device: dev, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("starting: directory %s: %w", k.Joined, err)
		}
		info = infoOf(k.Joined)
	}
	if k.Session, err = NewSession(client, info, c.DataDir); err != nil {
		return nil, err
	}
	if client == nil {
		if err := k.Session.SetAccount(""); err != nil { // an account belongs to a directory
			return nil, err
		}
	} else if k.Session.Account() == "" {
		k.learnAccount(ctx, client)
	}

	// The node is built once, now: a directory paired with later is given
	// to it (Node.SetDirectory), an account signed in later too (SetAccount).
	o := share.Options{DataDir: data.Library(), Identity: dev, Directory: client,
		Account: k.Session.Account(), ListenAddr: c.Listen, Name: c.DeviceName, LAN: !c.NoLAN, LANIPv4Only: true,
		InstallDir: data.Install(), Logger: log}
	if c.PackSelf {
		o.InstallSelf = &install.SelfPackage{Name: "kith", Icon: assets.Icon, Desktop: assets.Desktop}
	}
	if k.Adapter, err = NewNode(o); err != nil {
		return nil, err
	}
	k.n = k.Adapter.Share()
	k.householdPublishes(k.Session.Account())
	k.Session.OnSignedIn = func(account string) {
		k.householdPublishes(account)
		k.n.SetAccount(account) // the running node follows; nothing is rebuilt
		k.Adapter.accountChanged()
	}
	k.Session.Leave = func(ctx context.Context, account string) error {
		if err := k.n.LeaveAccount(ctx); err != nil {
			return err
		}
		k.Adapter.accountChanged()
		return nil
	}
	if k.player, err = player.New(player.Options{Source: playback.Source{Node: k.n}, Positions: playback.Positions{Node: k.n}, Output: c.Output, Logger: log}); err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	k.Player = NewPlayer(k.player, k.artist)
	k.Backend = app.Backend{Session: k.Session, Pairing: k.Pairing(), Catalog: k.Adapter, Library: k.Adapter,
		Neighbours: k.Adapter.NeighboursView(), Sharing: k.Adapter.SharingView(), Player: k.Player,
		Media: k.Adapter.MediaView(), Video: k.Player}
	ok = true
	return k, nil
}

// chooseDirectory: the flag, else the remembered one, else — when
// directories answer on the LAN — none (paired is false: the user pairs
// from the welcome screen), else the household directory (opened here).
func (k *Kith) chooseDirectory(ctx context.Context, c Config) (j Joined, paired bool, err error) {
	log := c.Logger
	if c.Directory != "" {
		base, fp, err := directory.ParseURL(c.Directory)
		if err != nil {
			return Joined{}, false, fmt.Errorf("--directory: %w", err)
		}
		if fp == "" {
			return Joined{}, false, fmt.Errorf("--directory: %w", errMissingFingerprint(c.Directory))
		}
		j := Joined{URL: base, Fingerprint: fp}
		if old, ok, _ := LoadJoined(c.DataDir); !ok || old.Fingerprint != fp || old.URL != base {
			if err := SaveJoined(c.DataDir, j); err != nil {
				return Joined{}, false, err
			}
		}
		return j, true, nil
	}
	j, ok, err := LoadJoined(c.DataDir)
	if err != nil {
		return Joined{}, false, err
	}
	if ok && j.FoundOnLAN && !j.Paired {
		// Joined by an older Kith that trusted the first LAN answer.
		log.Warn("the saved directory was never paired; pair with it again", "url", j.URL, "fingerprint", j.Fingerprint)
		ok = false
	}
	if !ok && !c.NoLAN {
		log.Info("looking for a directory on the LAN", "wait", c.LANWait)
		found, err := SearchLAN(ctx, c.LANWait, nil, log)
		if err != nil {
			log.Warn("LAN search failed; starting a household directory", "err", err)
		}
		if len(found) > 0 {
			log.Info("directories answer on the LAN: pair with one from the welcome screen", "found", len(found))
			return Joined{}, false, nil
		}
	}
	if ok && !j.Embedded {
		return j, true, nil
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
		return Joined{}, false, err
	}
	k.runningHousehold = k.household
	hj := k.household.Joined()
	if !ok || hj != j {
		if err := SaveJoined(c.DataDir, hj); err != nil {
			return Joined{}, false, err
		}
	}
	log.Info("household directory", "url", hj.URL, "fingerprint", hj.Fingerprint)
	return hj, true, nil
}

// householdPublishes lets account publish to the household directory this
// app runs, if it runs one: a household's own files (Music screen, "Add")
// go to its own directory.
func (k *Kith) householdPublishes(account string) {
	if h := k.runningHousehold; h != nil {
		if err := h.AllowPublishing(account); err != nil {
			k.log.Warn("letting the household publish", "account", account, "err", err)
		}
	}
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
	ts, err := k.n.Library().TitlesFor(context.Background(), cid)
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
	h := k.household
	k.household = nil // its Serve closes it
	go func() {
		if h == nil { // unless the user starts one (Pairing.StartHousehold)
			select {
			case h = <-k.late:
			case <-hctx.Done():
				hdone <- nil
				return
			}
		}
		hdone <- h.Serve(hctx)
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return k.n.Serve(gctx) })
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
	k.unlockData() // everything using the data folder has stopped
	return err
}

// unlockData releases the data folder's lock (once).
func (k *Kith) unlockData() {
	if k.unlock != nil {
		k.unlock()
		k.unlock = nil
	}
}

// Close releases what Start opened, for when Serve never runs.
func (k *Kith) Close() {
	if k.household != nil {
		k.household.st.Close()
		k.household.ln.Close()
		k.household = nil
	}
	select {
	case h := <-k.late:
		h.st.Close()
		h.ln.Close()
	default:
	}
	if k.n != nil {
		k.n.Close()
	}
	k.unlockData()
}
