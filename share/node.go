package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/supervise"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/install"
	"github.com/kith-media/kith/share/lan"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// Defaults for Options.
const (
	DefaultAnnounceInterval = 30 * time.Second // heartbeat to the directory
	DefaultResupplyInterval = 5 * time.Second  // re-asking for suppliers during a download
	DefaultMaxPeers         = 16               // peers one download connects to (its crowd may be bigger)
	// DefaultNeighbourCheckInterval: how often neighbours added by hand
	// are checked again at the directory (handneighbours.go).
	DefaultNeighbourCheckInterval = time.Minute
)

// Options configure a Node.
type Options struct {
	DataDir   string             // library folder (required)
	Identity  *identity.Identity // the device's keys (required)
	Directory *directory.Client  // nil: no directory (LAN-only, no purchases)
	// ListenAddr is the peer server's address (default "127.0.0.1:0";
	// ":7143" or similar to serve the LAN).
	ListenAddr string
	// AdvertiseAddrs are announced to the directory; default: the
	// listener's address, or every interface's address when it listens on
	// all of them.
	AdvertiseAddrs []string
	Name           string // device name shown to peers
	// InstallDir holds the packaged app (Kith.tar.xz, as `make package`
	// writes it) that the peer port offers to browsers on a plain install
	// page (share/install); default <DataDir>/install.
	InstallDir string
	// InstallSelf, if set, makes the package from the running program
	// when InstallDir holds none (install.Options.Self), so every device
	// offers Kith to its neighbours.
	InstallSelf *install.SelfPackage
	// OnInstall is told when the package offered changes (the one made
	// from the program is ready); it must not block.
	OnInstall func()
	// Account is the owner's account (household policies); "" = asked of
	// the directory (Whois of our own ID) when Serve starts.
	Account string

	AnnounceInterval time.Duration // default DefaultAnnounceInterval
	ResupplyInterval time.Duration // default DefaultResupplyInterval
	MaxPeers         int           // default DefaultMaxPeers
	// NeighbourCheckInterval: how often the neighbours added by hand are
	// asked about at the directory again (default
	// DefaultNeighbourCheckInterval); one revoked or gone is removed.
	NeighbourCheckInterval time.Duration
	// NoHolePunch reaches suppliers behind NAT only through the relay's
	// splice, never by a hole punch: a punched connection shows the
	// supplier this device's public address, a relayed one only the relay's.
	NoHolePunch bool
	// LAN announces and browses mDNS neighbours of the same directory.
	LAN           bool
	LANInterfaces []string // default: every multicast interface
	LANIPv4Only   bool

	Server peer.ServerOptions // upload limits and timeouts (Identity, Library, ... are filled in)
	Fetch  peer.FetchOptions  // tuning for downloads (Manifest, Sink, Sources are filled in)

	// OnService is told when an optional service (LAN discovery, the
	// install page) starts or fails; it must not block.
	OnService func(ServiceStatus)
	// OnEvent receives download events (progress bars, swarm views). It is
	// called from the fetchers' goroutines and must not block.
	OnEvent func(peer.Event)
	Logger  *slog.Logger

	// noArrivals makes a node pick its peers as versions before the order
	// of arrival did (directory.Supplier.Arrival ignored): tests of a
	// crowd mixing them with this version.
	noArrivals bool
	// answerSize is how many suppliers a download asks the directory for
	// (0: directory.MaxSuppliers): tests of a crowd bigger than an
	// answer, with a few real nodes.
	answerSize int
}

// Node is one device in the Kith network: its library, its peer server,
// its downloads, its LAN presence and its directory client.
type Node struct {
	o       Options
	log     *slog.Logger
	id      *identity.Identity
	lib     *library.Library
	dir     atomic.Pointer[directory.Client] // nil until set (Options.Directory, SetDirectory); never unset
	dirSet  chan struct{}                    // closed when dir is set
	srv     *peer.Server
	ln      net.Listener
	demux   *install.Demux // splits ln: TLS to srv, plain HTTP to site
	site    *install.Site
	browser atomic.Pointer[lan.Browser] // with the directory, when Options.LAN

	mu          sync.Mutex
	account     string
	dirInfo     *directory.Info
	clients     map[identity.ID]*peer.Client
	clientRelay map[identity.ID]string      // the relay each client was built with
	hand        []library.HandNeighbour     // neighbours added by hand (handneighbours.go)
	handLoad    sync.Mutex                  // one loadHand at a time
	lanVouch    map[identity.ID]lanVouch    // the directory's answers about mDNS neighbours (lanneighbours.go)
	titles      map[sealed.ContentID]*Title // live handles (Title)
	ctx         context.Context             // Serve's, for downloads Title.Start runs
	downloads   sync.WaitGroup              // those downloads, waited for by Serve
	announceCh  chan struct{}
	beating     atomic.Bool // the heartbeat loop runs (announceCompleted)
	services    map[string]ServiceStatus
	served      bool
	relay       relayPresence

	announceSeq    atomic.Uint64 // announcements begun (sendAnnouncement)
	announceLanded atomic.Uint64 // the latest of them answered

	// weakly: the clients of a device kept out of the cache (turned out
	// of it, or replaced), which a running download may still hold;
	// revokeClient reaches them. Weak: one nobody holds any more is
	// collected, and sweepWeak drops its entry.
	weakly    map[identity.ID]weakClients
	weakSweep int // len(weakly) at which sweepWeak sweeps it
}

// NewNode opens the library and the listening socket; Serve runs the node.
func NewNode(o Options) (*Node, error) {
	if o.DataDir == "" || o.Identity == nil {
		return nil, errors.New("node: DataDir and Identity are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ListenAddr == "" {
		o.ListenAddr = "127.0.0.1:0"
	}
	if o.AnnounceInterval <= 0 {
		o.AnnounceInterval = DefaultAnnounceInterval
	}
	if o.NeighbourCheckInterval <= 0 {
		o.NeighbourCheckInterval = DefaultNeighbourCheckInterval
	}
	if o.InstallDir == "" {
		o.InstallDir = filepath.Join(o.DataDir, "install")
	}
	lib, err := library.Open(filepath.Join(o.DataDir), library.Options{Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n := &Node{o: o, log: o.Logger, id: o.Identity, lib: lib, dirSet: make(chan struct{}), account: o.Account,
		clients: map[identity.ID]*peer.Client{}, weakly: map[identity.ID]weakClients{}, clientRelay: map[identity.ID]string{}, lanVouch: map[identity.ID]lanVouch{},
		titles: map[sealed.ContentID]*Title{}, announceCh: make(chan struct{}, 1),
		services: map[string]ServiceStatus{}, relay: relayPresence{poke: make(chan struct{}, 1)}}
	so := o.Server
	so.Identity, so.Library, so.Logger = o.Identity, lib, o.Logger
	if so.Name == "" {
		so.Name = o.Name
	}
	// The directory may come later (SetDirectory): the server asks it
	// through the node, and refuses everybody but hello until then.
	so.Accounts = peer.WhoisAccounts(nodeDirectory{n})
	so.Relayer = nodeDirectory{n}
	so.Owner = o.Account
	so.Downloading = func(cid sealed.ContentID) bool { return n.Lookup(cid).Downloading() }
	so.Fetching = func(cid sealed.ContentID) library.Bitmap { return n.Lookup(cid).originChunks() }
	if n.srv, err = peer.NewServer(so); err != nil {
		lib.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.ln, err = net.Listen("tcp", o.ListenAddr); err != nil {
		lib.Close()
		return nil, fmt.Errorf("node: listening: %w", err)
	}
	n.demux = install.NewDemux(n.ln, install.DemuxOptions{Logger: o.Logger})
	n.site = install.NewSite(install.Options{Dir: o.InstallDir, DeviceName: o.Name, Self: o.InstallSelf,
		OnChange: o.OnInstall, Logger: o.Logger})
	n.loadHand(context.Background())
	if o.Directory != nil {
		if err := n.SetDirectory(o.Directory); err != nil {
			n.ln.Close()
			lib.Close()
			return nil, err
		}
	}
	return n, nil
}

// SetDirectory gives the node its directory, for a device that pairs with
// one after the node was built (Options.Directory otherwise): the peer
// server shows its fingerprint and places callers through it, and a
// serving node starts its heartbeat and LAN presence at once. A node has
// one directory for its life: setting another one is an error.
func (n *Node) SetDirectory(c *directory.Client) error {
	if c == nil {
		return errors.New("node: no directory given")
	}
	if old := n.dir.Load(); old != nil {
		if old.Fingerprint() == c.Fingerprint() {
			return nil
		}
		return fmt.Errorf("node: already uses directory %s, not %s: a new directory needs a restart", old.Fingerprint().Short(), c.Fingerprint().Short())
	}
	if n.o.LAN {
		b, err := lan.NewBrowser(lan.BrowserOptions{Kind: lan.Device, Fingerprint: string(c.Fingerprint()),
			Self: string(n.id.ID()), Interfaces: n.o.LANInterfaces, IPv4Only: n.o.LANIPv4Only, Logger: n.log})
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		n.browser.Store(b)
	}
	if !n.dir.CompareAndSwap(nil, c) {
		return errors.New("node: directory set twice at once")
	}
	n.srv.SetDirectory(c.Fingerprint())
	n.srv.ForgetAccounts() // "no directory yet" answers
	close(n.dirSet)
	return nil
}

// dirClient is the node's directory client, nil until it has one; once
// set it never changes.
func (n *Node) dirClient() *directory.Client { return n.dir.Load() }

// nodeDirectory is the peer server's way to the node's directory, which
// may be set after the server is built.
type nodeDirectory struct{ n *Node }

var errNoDirectoryYet = errors.New("this device has no directory yet")

func (d nodeDirectory) Whois(ctx context.Context, id identity.ID) (*directory.Device, error) {
	c := d.n.dirClient()
	if c == nil {
		return nil, errNoDirectoryYet
	}
	return c.Whois(ctx, id)
}

func (d nodeDirectory) Relay(ctx context.Context, r *license.Relayed) (*license.SealedReply, error) {
	c := d.n.dirClient()
	if c == nil {
		return nil, errNoDirectoryYet
	}
	return c.Relay(ctx, r)
}

// serving returns Serve's context, for downloads in the background.
func (n *Node) serving() (context.Context, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx == nil || n.ctx.Err() != nil {
		return nil, errNotServing
	}
	return n.ctx, nil
}

// ID is the device ID.
func (n *Node) ID() identity.ID { return n.id.ID() }

// Addr is the peer server's listening address.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// InstallURL is the install page a neighbour without Kith opens in a
// browser: http:// and LANAddr.
func (n *Node) InstallURL() string { return "http://" + n.LANAddr() + "/" }

// LANAddr is the address another device on the LAN reaches this one at:
// the first advertised address (a private IPv4 one when there is one), at
// the peer port — what a neighbour types in to add this device by hand
// (AddNeighbour).
func (n *Node) LANAddr() string {
	addrs := n.advertise()
	best := addrs[0]
	for _, a := range addrs {
		if ap, err := netip.ParseAddrPort(a); err == nil && ap.Addr().Is4() && ap.Addr().IsPrivate() {
			best = a
			break
		}
	}
	return best
}

// InstallPackage describes the package the install page offers (checksum,
// size; Available false when InstallDir holds none). It may hash the
// package (tens of milliseconds) when it is new or changed.
func (n *Node) InstallPackage() (install.Info, error) { return n.site.Info() }

// Library is the node's local store.
func (n *Node) Library() *library.Library { return n.lib }

// Server is the node's peer server.
func (n *Node) Server() *peer.Server { return n.srv }

// Close releases the listener and the library (Serve does it on return).
func (n *Node) Close() error {
	n.ln.Close()
	return n.lib.Close()
}

// Serve runs the peer server, the directory heartbeat and the LAN presence
// until ctx is cancelled; then it withdraws from the directory and closes
// the library.
func (n *Node) Serve(ctx context.Context) error {
	n.mu.Lock()
	if n.served {
		n.mu.Unlock()
		return errors.New("node: Serve called twice")
	}
	n.served = true
	sctx, stop := context.WithCancel(ctx)
	n.ctx = sctx
	n.mu.Unlock()
	defer n.lib.Close()
	defer n.downloads.Wait() // before the library closes
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.demux.Serve(gctx) })
	g.Go(func() error { return n.srv.Serve(gctx, n.demux.TLS()) })
	// The install page and mDNS are extras: their failure is reported
	// (Services) and retried, and never ends the node.
	g.Go(func() error {
		return n.supervise(gctx, ServiceInstallPage, func(ctx context.Context) error { return n.site.Serve(ctx, n.demux.Plain()) })
	})
	// What needs the directory starts when the node has one.
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case <-n.dirSet:
		}
		n.learnAccount(gctx)
		g.Go(func() error { return n.heartbeat(gctx) })
		g.Go(func() error { return n.serveRelay(gctx) })
		g.Go(func() error { return n.checkHandEvery(gctx) })
		if b := n.browser.Load(); b != nil {
			g.Go(func() error { return n.supervise(gctx, ServiceLAN, n.announceLAN) })
			g.Go(func() error { return b.Serve(gctx) }) // never fails: logs a failed round
			g.Go(func() error { return n.checkLANEvery(gctx, b) })
		}
		return nil
	})
	err := g.Wait()
	if c := n.dirClient(); c != nil && n.accountName() != "" {
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if werr := c.Withdraw(wctx); werr != nil {
			n.log.Warn("node: withdrawing from the directory", "err", werr)
		}
		cancel()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// learnAccount asks the directory which account this device is enrolled
// under, when the node was not told (Options.Account, SetAccount).
func (n *Node) learnAccount(ctx context.Context) {
	if n.accountName() != "" {
		return
	}
	d, err := n.dirClient().Whois(ctx, n.ID())
	if err != nil {
		n.log.Info("node: no account at the directory yet", "err", err)
		return
	}
	n.mu.Lock()
	learnt := n.account == "" && !d.Revoked
	if learnt {
		n.account = d.Account
	}
	n.mu.Unlock()
	if learnt {
		n.srv.SetOwner(d.Account)
		n.announceSoon()
	}
}

// Names of the services a Node runs under supervision (ServiceStatus.Name).
const (
	ServiceLAN         = "LAN discovery" // mDNS announcer and browser
	ServiceInstallPage = "install page"  // the plain-HTTP side of the peer port
)

// ServiceStatus is where one of the node's optional services stands: a
// failed one is retried with backoff while the node goes on.
type ServiceStatus = supervise.Status

func (n *Node) supervise(ctx context.Context, name string, serve func(context.Context) error) error {
	return supervise.Run(ctx, supervise.Options{Name: name, Logger: n.log, OnStatus: func(s ServiceStatus) {
		n.mu.Lock()
		n.services[name] = s
		n.mu.Unlock()
		if n.o.OnService != nil {
			n.o.OnService(s)
		}
	}}, serve)
}

// Services reports the node's optional services (LAN discovery, the
// install page) once Serve started them: a failed one carries its error.
func (n *Node) Services() []ServiceStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]ServiceStatus, 0, len(n.services))
	for _, s := range n.services {
		out = append(out, s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// announceLAN announces this device by mDNS; it fails when no responder
// can start (no multicast-capable interface).
func (n *Node) announceLAN(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(n.Addr())
	p, _ := strconv.Atoi(port)
	a, err := lan.NewAnnouncer(lan.AnnouncerOptions{Service: lan.Service{Kind: lan.Device, DeviceID: string(n.ID()),
		Fingerprint: string(n.dirClient().Fingerprint()), Name: n.o.Name, Port: p, Proto: peer.ProtoVersion},
		Interfaces: n.o.LANInterfaces, IPv4Only: n.o.LANIPv4Only, Logger: n.log})
	if err != nil {
		return err
	}
	return a.Serve(ctx)
}

// heartbeat announces our holdings now, every AnnounceInterval, and soon
// after each change (a completed download, a policy change).
func (n *Node) heartbeat(ctx context.Context) error {
	n.beating.Store(true)
	defer n.beating.Store(false)
	t := time.NewTicker(n.o.AnnounceInterval)
	defer t.Stop()
	for {
		// A busy directory is asked again after the wait it names, not a
		// whole interval later: lapsed announcements take a device out of
		// its crowds.
		if err := retryBusy(ctx, func() error { return n.Announce(ctx) }); err != nil && ctx.Err() == nil {
			n.log.Warn("node: announcing to the directory", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.announceCh:
		}
	}
}

func (n *Node) announceSoon() {
	select {
	case n.announceCh <- struct{}{}:
	default:
	}
}

// Announce tells the directory now what we hold, with our policies.
func (n *Node) Announce(ctx context.Context) error {
	return n.sendAnnouncement(ctx, func(a directory.Announcement) (*directory.AnnounceAnswer, error) {
		return n.dirClient().AnnounceStatus(ctx, a)
	})
}

// sendAnnouncement builds the announcement and sends it with send (nothing
// when signed out). The directory keeps the last announcement it
// receives: one built before a change (the heartbeat's, slow on its way)
// that arrives after the one carrying the change (SetPolicy's, a
// download's start) left it with the old state — a title no longer
// shared still listed, a download its crowd cannot find — until the next
// heartbeat, 30 s later. So when an announcement begun after this one
// was answered before it, the heartbeat announces once more, now (not
// sent in turn instead: a heartbeat's request stuck on a dead connection
// would hold a download's start; and only then, not at every overlap: a
// crowd's start overlaps its heartbeat's first announcement, and each
// extra one costs both ends a round trip). The same when one begun
// before this one was answered while this one was on its way: the order
// of the answers is not the order the directory applied them in (a
// handler, or the goroutine reading its answer, waits its turn on a
// loaded machine), and the older one may have overwritten ours. In the
// 64 MiB flash crowd a lone downloader's completion, announced while it
// stopped sharing, was listed as a complete holder for up to a
// heartbeat: the crowd was refused its parts by the device and by the
// origin (handed out to that holder) for ~5 s, about 1 run in 20
// (TestAnnouncementsInOrderAnsweredFirst).
func (n *Node) sendAnnouncement(ctx context.Context, send func(directory.Announcement) (*directory.AnnounceAnswer, error)) error {
	seq := n.announceSeq.Add(1)
	a, ok, err := n.announcement(ctx)
	if err != nil || !ok {
		return err
	}
	before := n.announceLanded.Load()
	ans, err := send(a)
	for {
		landed := n.announceLanded.Load()
		if landed > seq {
			n.announceSoon() // a newer one was answered first: ours may have overwritten it
			break
		}
		if err != nil {
			break
		}
		if n.announceLanded.CompareAndSwap(landed, seq) {
			if landed != before {
				n.announceSoon() // an older one was answered while ours was on its way: it may have overwritten ours
			}
			break
		}
	}
	if err != nil {
		return fmt.Errorf("announcing: %w", err)
	}
	n.relayWanted(ans)
	return nil
}

// announcement is what Announce sends now; !ok when signed out (nothing is
// offered through the directory then).
func (n *Node) announcement(ctx context.Context) (a directory.Announcement, ok bool, err error) {
	if n.dirClient() == nil {
		return a, false, errors.New("announcing: no directory")
	}
	if n.accountName() == "" {
		return a, false, nil
	}
	held, err := n.lib.HeldContent(ctx)
	if err != nil {
		return a, false, fmt.Errorf("announcing: %w", err)
	}
	pols, err := n.lib.Policies(ctx)
	if err != nil {
		return a, false, fmt.Errorf("announcing: %w", err)
	}
	def, ok := pols[""]
	if !ok {
		def = library.DefaultPolicy
	}
	a = directory.Announcement{Addrs: n.advertise(), Load: n.srv.Load(), PrivateAddrs: privateAddrs(), Relay: n.relayAnnounced()}
	for _, h := range held {
		if t := n.Lookup(h.ContentID); h.Have == 0 && (t == nil || !t.Downloading()) { // a download in progress is announced at once
			continue
		}
		p := def
		if len(h.Titles) > 0 {
			if tp, ok := pols[h.Titles[0].ID]; ok {
				p = tp
			}
		}
		a.Holdings = append(a.Holdings, directory.Holding{Content: h.ContentID, Complete: h.Complete, Policy: directory.Policy(p)})
	}
	return a, true, nil
}

// advertise lists the addresses peers should dial.
func (n *Node) advertise() []string {
	if len(n.o.AdvertiseAddrs) > 0 {
		return n.o.AdvertiseAddrs
	}
	ap, err := netip.ParseAddrPort(n.Addr())
	if err != nil || !ap.Addr().IsUnspecified() {
		return []string{n.Addr()}
	}
	var out []string
	addrs := ifaceAddrs()
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok && !p.IP.IsLinkLocalUnicast() && !p.IP.IsLoopback() {
			out = append(out, net.JoinHostPort(p.IP.String(), strconv.Itoa(int(ap.Port()))))
		}
	}
	if len(out) == 0 {
		out = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ap.Port())))}
	}
	return out[:min(len(out), directory.MaxAddrs)]
}

// privateAddrs are our private LAN networks, for the directory's same-LAN ranking.
func privateAddrs() []string {
	var out []string
	addrs := ifaceAddrs()
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok && p.IP.IsPrivate() {
			out = append(out, p.String())
		}
	}
	return out[:min(len(out), directory.MaxAddrs)]
}

// SetSharing switches sharing off (the default policy becomes "nobody")
// or back on, stored so it survives a restart, and re-announces.
func (n *Node) SetSharing(ctx context.Context, on bool) error {
	if err := n.lib.SetSharing(ctx, on); err != nil {
		return err
	}
	n.announceSoon()
	return nil
}

// SetPolicy sets the share policy of a title ("" = the default for every
// title) and re-announces.
func (n *Node) SetPolicy(ctx context.Context, titleID string, p directory.Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("setting policy: %w", err)
	}
	if err := n.lib.SetPolicy(ctx, titleID, library.Policy(p)); err != nil {
		return err
	}
	// The directory names a caller's account to our peer server only when
	// our announced policies name it: announce now, then forget what the
	// server was told before (a pseudonym for an account just denied).
	if n.dirClient() != nil {
		if err := n.Announce(ctx); err != nil {
			n.log.Warn("node: announcing a changed policy", "err", err)
			n.announceSoon()
		}
	}
	n.srv.ForgetAccounts()
	return nil
}
