package share

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/pairs"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/peer/sched"
	"github.com/kith-media/kith/share/sealed"
)

// manifest returns the manifest of cid: ours, the directory's, or a
// neighbour's (verified against the directory's key).
func (n *Node) manifest(ctx context.Context, cid sealed.ContentID, from []*peer.Client) (*sealed.Manifest, error) {
	if m, err := n.lib.Manifest(ctx, cid); err == nil {
		return m, nil
	}
	var errs []error
	if n.dirClient() != nil {
		m, err := n.dirClient().Manifest(ctx, cid)
		if err == nil {
			return m, nil
		}
		errs = append(errs, err)
	}
	info, err := n.directoryInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", cid, errors.Join(append(errs, err)...))
	}
	for _, c := range from {
		m, err := c.Manifest(ctx, cid)
		if err == nil {
			if err = m.Verify(info.Keys.Sign); err == nil {
				return m, nil
			}
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("manifest of %s: %w", cid, errors.Join(errs...))
}

// Fetch is Title(cid).Fetch: it downloads cid and returns when it is
// complete (or waits for the download already running).
func (n *Node) Fetch(ctx context.Context, cid sealed.ContentID, peers ...Neighbour) error {
	return n.Title(cid).Fetch(ctx, peers...)
}

func (n *Node) fetch(ctx context.Context, t *Title, peers []Neighbour) error {
	cid := t.cid
	viaDirectory := len(peers) == 0
	origin := false
	var crowd directory.Crowd
	k := 0 // MaxPeers of the content
	if viaDirectory {
		if n.dirClient() == nil {
			return fmt.Errorf("fetching %s: no sources and %w", cid, ErrNoDirectory)
		}
		// Announce the download before asking for suppliers, so a crowd
		// arriving together finds itself.
		var m *sealed.Manifest
		err := retryBusy(ctx, func() (err error) { m, err = n.manifest(ctx, cid, nil); return err })
		if err != nil {
			return fmt.Errorf("fetching %s: %w", cid, err)
		}
		if err := n.lib.AddManifest(ctx, m); err != nil {
			return fmt.Errorf("fetching %s: %w", cid, err)
		}
		peers, origin, crowd, err = n.announceSuppliers(ctx, cid)
		if err != nil {
			return fmt.Errorf("fetching %s: %w", cid, err)
		}
		k = n.maxPeers(m)
	}
	// Only a peer downloading too picks peers (a complete holder waits to
	// be asked), and one reached through a relay speaks HTTP/1.1 there.
	downloading := crowd.Downloads()
	var all []Neighbour             // every supplier, in the order we pick
	var paired map[identity.ID]bool // our pairs in the crowd's pair graph (pairs.First)
	ordered := viaDirectory && crowd.Ordered()
	if viaDirectory {
		// Only an answer that lists the whole crowd is the same for all
		// of it: from a sample (a crowd bigger than an answer lists) each
		// device pairs differently, and takes the first of pairOrder:
		// half our k are downloads we dial, the other half those that
		// dial us (resupply adopts them: adoptDialled).
		all = peers
		peers, paired = pairs.First(cid, n.ID(), all, nbID, nbNear,
			pairs.Answer{Ordered: ordered, Full: crowd.Full, Arrival: crowd.Arrival, Downloading: downloading}, k)
	}
	seen := map[identity.ID]bool{n.ID(): true}
	var clients, later []*peer.Client
	for _, p := range peers {
		if seen[p.ID] {
			continue
		}
		seen[p.ID] = true
		c, err := n.peerFor(p)
		if err != nil {
			return fmt.Errorf("fetching %s: %w", cid, err)
		}
		// A pair whose other end has the smaller ID (in the order of
		// arrival: came later) is its to dial: we wait a moment for its
		// connection (pairYield).
		if viaDirectory && downloading[p.ID] && p.Relay == "" && (ordered && crowd.Arrival[p.ID] > 0 ||
			!ordered && (paired[p.ID] && p.ID < n.ID() || paired == nil && picksUs(cid, n.ID(), p.ID, all, k))) {
			later = append(later, c)
			continue
		}
		clients = append(clients, c)
	}
	m, err := n.manifest(ctx, cid, clients)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", cid, err)
	}
	if err := n.lib.AddManifest(ctx, m); err != nil {
		return fmt.Errorf("fetching %s: %w", cid, err)
	}
	fo := n.o.Fetch
	fo.Manifest, fo.Sink, fo.Sources, fo.Logger, fo.Self = m, n.lib, nil, n.log, n.ID()
	fo.Demand = func() bool { return time.Since(n.srv.LastPolled(cid)) < 5*time.Second }
	if len(clients) == 0 && !origin {
		clients, later = later, nil
	}
	for _, c := range clients {
		fo.Sources = append(fo.Sources, c.Source(m))
	}
	if origin {
		fo.Sources = append(fo.Sources, peer.OriginSource(n.dirClient(), m))
	}
	if n.o.OnEvent != nil { // events cost a progress snapshot each: only when someone listens
		fo.OnEvent = func(e peer.Event) {
			t.onEvent(e)
			n.o.OnEvent(e)
		}
	}
	ft, err := peer.NewFetcher(fo)
	if err != nil {
		return err
	}
	// The crowd across suppliers answers (a bigger crowd than an answer
	// lists is answered a new sample each time: sched.CrowdView).
	view := &sched.CrowdView{Memory: sched.CrowdMemoryRounds * n.resupplyInterval()}
	ft.SetCrowd(view.Update(time.Now(), crowd.Downloading, crowd.Complete, crowd.Full))
	t.setFetcher(ft) // with the chunk a reader asked for before
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Our pairs that connect first (the smaller ID) join once they have.
	var waiting atomic.Int32
	waiting.Store(int32(len(later)))
	for _, c := range later {
		go func() {
			c.AwaitPeer(rctx, pairYield)
			if rctx.Err() == nil {
				ft.AddSource(c.Source(m))
			}
			waiting.Add(-1)
		}()
	}
	if viaDirectory {
		// Others in the same crowd find us (and we them) while downloading.
		// A crowd arriving together finds itself quickly; from a sample
		// of a bigger crowd, the first round waits for the devices that
		// picked us to have dialled (sched.SampledFirstRound; an ordered
		// answer is never full).
		go n.resupply(rctx, cid, m, ft, seen, view, &waiting, crowd.Full)
	}
	if err := ft.Run(rctx); err != nil {
		return err
	}
	if n.dirClient() != nil {
		n.announceCompleted(ctx, cid)
	}
	return nil
}

// announceCompleted tells the directory we now hold cid whole. While the
// heartbeat runs, that is its next announcement, sent at once
// (announceSoon): the download is complete without waiting for the
// directory's answer (a round trip and its store commit, 2–40 ms in a
// small crowd), a busy directory is asked again after the wait it names
// (retryBusy; an announcement here was dropped until the next heartbeat,
// 30 s later), and downloads completing together share one announcement.
// A node not serving announces now.
func (n *Node) announceCompleted(ctx context.Context, cid sealed.ContentID) {
	if n.beating.Load() {
		n.announceSoon()
		return
	}
	if err := n.Announce(ctx); err != nil {
		n.log.Warn("node: announcing a new holding", "content", cid, "err", err)
	}
}

// suppliers asks the directory for every device it knows supplies cid (up
// to directory.MaxSuppliers: answerSize) and whether the origin does. It returns the
// peers to connect to: LAN neighbours first, then the rest, each in
// pairOrder (so a crowd's members pick different peers and spread the
// upload load, and a pair mostly picks each other), all of them: the
// caller keeps at most MaxPeers; and
// the crowd: the devices still downloading cid (incomplete holders), among
// which the fetcher splits the origin's chunks.
func (n *Node) suppliers(ctx context.Context, cid sealed.ContentID) (peers []Neighbour, origin bool, crowd directory.Crowd, err error) {
	sups, err := n.dirClient().SuppliersN(ctx, cid, n.answerSize())
	if err != nil {
		return nil, false, directory.Crowd{}, err
	}
	peers, origin, crowd = n.supplied(cid, sups, true)
	return peers, origin, crowd, nil
}

// announceSuppliers announces the download of cid, then asks for its
// suppliers (as suppliers does): in one round trip when the directory
// answers both (directory.Client.AnnounceSuppliers: it records the
// announcement before it looks up) and nobody else is downloading cid (a
// download alone, or from complete holders), else as two requests. The
// announcement is asked again while the directory is busy: a download it
// does not know of is not part of the crowd (the origin serves a device
// it thinks alone in full, and others cannot find it); one that fails
// otherwise is logged and the lookup still made. The two are not sent
// side by side: the directory client's one connection makes a second
// request wait for it or dial another (a mutual handshake).
func (n *Node) announceSuppliers(ctx context.Context, cid sealed.ContentID) (peers []Neighbour, origin bool, crowd directory.Crowd, err error) {
	var sups []directory.Supplier
	answered := false
	err = retryBusy(ctx, func() error {
		return n.sendAnnouncement(ctx, func(a directory.Announcement) (ans *directory.AnnounceAnswer, err error) {
			ans, sups, answered, err = n.dirClient().AnnounceSuppliers(ctx, a, cid, n.answerSize())
			return ans, err
		})
	})
	if err != nil {
		n.log.Warn("node: announcing a download", "err", err)
	}
	if answered {
		peers, origin, crowd = n.supplied(cid, sups, true)
		if len(crowd.Downloading) == 0 || crowd.Ordered() {
			// Alone, or the answer says who came first (arrivalPairs):
			// those after us pick us, we need not know them yet.
			return peers, origin, crowd, nil
		}
		// Others are downloading it now: a crowd is forming, and the list
		// names only those announced before us. Asked again, one round
		// trip after our announcement as the lookup always was, it names
		// those announced meanwhile too, so members arriving together see
		// each other before they choose peers and pair up (answered
		// alone, each of ten arriving at once saw only those before it,
		// and the crowd opened 3.0 connections a device instead of 2.4–2.8).
		if p, o, c, err := n.suppliers(ctx, cid); err == nil {
			peers, origin, crowd = p, o, c
		}
		return peers, origin, crowd, nil
	}
	err = retryBusy(ctx, func() (err error) { peers, origin, crowd, err = n.suppliers(ctx, cid); return err })
	return peers, origin, crowd, err
}

// supplied is what suppliers answers for the directory's list sups;
// without pick, no peers (a download that takes no new peer this round
// orders none: resupply).
func (n *Node) supplied(cid sealed.ContentID, sups []directory.Supplier, pick bool) (peers []Neighbour, origin bool, crowd directory.Crowd) {
	var lanPeers, far []Neighbour
	if pick {
		far = make([]Neighbour, 0, len(sups)) // sized once
	}
	named := make([]identity.ID, 0, len(sups))
	own := map[identity.ID]string{}
	mine := n.accountName()
	for i, s := range sups {
		if n.o.noArrivals {
			sups[i].Arrival = 0 // read as a v1 answer
		}
		if !s.Origin && s.Device != n.ID() {
			named = append(named, s.Device)
			if s.Account != "" && strings.EqualFold(s.Account, mine) {
				own[s.Device] = s.Account
			}
		}
	}
	// The directory vouched for these devices: when they call us (a crowd
	// polls each other from the start), looking them up is not a
	// stranger spending our quota; and it named the account of those of
	// our own account, which a lookup would only repeat.
	n.srv.Expect(named)
	n.srv.KnownAccounts(own)
	crowd = directory.ReadCrowd(sups, n.ID(), n.answerSize())
	if pick {
		for _, nb := range n.Neighbours() {
			if nb.LAN || nb.Hand {
				lanPeers = append(lanPeers, nb)
			}
		}
	}
	for _, s := range sups {
		switch {
		case s.Origin:
			origin = true
		case pick && s.Device != n.ID() && (len(s.Addrs) > 0 || s.Relay != ""):
			far = append(far, Neighbour{ID: s.Device, Addrs: s.Addrs, Relay: s.Relay})
		}
	}
	if pick {
		pairOrder(cid, n.ID(), lanPeers)
		pairOrder(cid, n.ID(), far)
		peers = append(lanPeers, far...) // close first
	}
	return peers, origin, crowd
}

// answerSize is how many suppliers a download asks for: as many as the
// directory answers (directory.MaxSuppliers).
func (n *Node) answerSize() int {
	if n.o.answerSize > 0 {
		return n.o.answerSize
	}
	return directory.MaxSuppliers
}

// resupplyInterval is Options.ResupplyInterval or its default.
func (n *Node) resupplyInterval() time.Duration {
	if n.o.ResupplyInterval > 0 {
		return n.o.ResupplyInterval
	}
	return DefaultResupplyInterval
}

// maxPeers is how many peers a download of m connects to: Options.MaxPeers
// (or its default), fewer for a title of few chunks (sched.Peers).
func (n *Node) maxPeers(m *sealed.Manifest) int {
	limit := DefaultMaxPeers
	if n.o.MaxPeers > 0 {
		limit = n.o.MaxPeers
	}
	return sched.Peers(limit, m.NumChunks())
}

// resupply, while a download runs, tells the
// fetcher who is in the crowd now (view: across answers, when a crowd is
// bigger than an answer lists) and connects to new suppliers the
// directory names (up to MaxPeers live ones: dropped peers do not count),
// and back to crowd members that
// download from us (up to twice MaxPeers): a device that joined late, when
// the others had their peers already, would otherwise be polled by nobody
// and the origin chunks it owns would reach nobody else (over the
// connection it dialled us: peer.WireProto2). waiting: picks still
// waiting for their peer to connect (pairYield), counted as peers we have.
// From an answer with the order of arrival (directory.Crowd.Ordered), the
// downloads after us that pick us (arrivalPairs) are adopted (they dial
// us: the crowd's first device, which started alone, gets its pairs so),
// and we dial no download that is not our
// pair (its slots are filled by its own pairs: a connection only one end
// picked is a handshake the graph does not need) unless it polls us or
// our pairs have failed us (fewer live than arrivalPicks). Once the
// crowd has stopped growing (an answer ranks no more downloads than the
// last), the pairs are arrivalFilled's: the last arrivals, below k, pair
// among themselves. From a sample of a bigger crowd, the devices that
// dialled us become sources over their connections first (adoptDialled),
// and only then does the answer fill our room; between rounds (every
// 500 ms, no directory call) those that dialled us since are taken too.
func (n *Node) resupply(ctx context.Context, cid sealed.ContentID, m *sealed.Manifest, ft *peer.Fetcher, seen map[identity.ID]bool, view *sched.CrowdView, waiting *atomic.Int32, full bool) {
	every := n.resupplyInterval()
	limit := n.maxPeers(m)
	// live counts our sources (dropped and banned ones leave room) and the
	// picks still waiting for their peer to connect.
	live := func() int {
		k := int(waiting.Load())
		for _, st := range ft.Progress().Sources {
			if !st.Origin && st.State != "dropped" && st.State != "banned" {
				k++
			}
		}
		return k
	}
	// Between rounds the download is looked at (no directory call): one
	// its peers have not fed for sched.HungryAfter gets its round at once,
	// though not within the hungry rounds' wait (sched.Rounds) nor a busy
	// directory's.
	rounds := sched.NewRounds(time.Now(), full, every)
	busy := 0
	var growth pairs.Growth // the crowd's order of arrival across rounds (pairs.Round: Filled once settled)
	// The contended rule: a download whose peers have answered busy
	// ContendedAfter times since its last round, their upload slots full
	// (others share their uplinks), has a round at once (sched.Rounds.Early)
	// and takes one more peer there, as a hungry one does.
	contendedAt := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(rounds.Wait(time.Now())):
		}
		now := time.Now()
		contended := ft.Contended()-contendedAt >= sched.ContendedAfter && live() < pairs.Cap(limit)
		due, _ := rounds.Due(now, ft.Unfed())
		if !due && contended {
			due = rounds.Early(now)
		}
		if !due {
			if full {
				// From a sample of a bigger crowd, the devices that dialled
				// us are taken between rounds too (no directory call): the
				// one the origin gave a first copy to may be polled by
				// nobody else, and with rounds 5 s apart a whole 8 MiB
				// N=200 crowd waited for its chunk until the hungry rule
				// (5 of 28 traced runs: 160-185 devices, 1.2-1.6 s).
				if added := live(); added < pairs.Cap(limit) {
					n.adoptDialled(m, ft, n.pollers(cid, now, every), seen, pairs.Cap(limit)-added)
				}
			}
			continue
		}
		// No announcement here: the download was announced when it started
		// and the heartbeat keeps it fresh; one per resupply round doubled
		// a big crowd's load on the directory for nothing new.
		contendedAt = ft.Contended()
		sups, err := n.dirClient().SuppliersN(ctx, cid, n.answerSize())
		if err != nil {
			// A busy directory is asked less often until it answers.
			var de *directory.Error
			if errors.As(err, &de) && (de.Code == directory.CodeBusy || de.Code == directory.CodeRateLimited) {
				busy++
				rounds.Until(now.Add(max(every, backoff(busy), min(de.RetryAfter, 8*time.Second))))
			}
			continue
		}
		busy = 0
		// Peers the fetcher dropped (timeouts, refusals) leave room for new
		// ones: a device whose peers all failed it is not left with only the
		// origin, which leaves to the crowd what the crowd already has.
		// A download its peers have brought nothing for HungryAfter, while
		// none of them has a chunk it needs, takes one more peer a round
		// (pairs.Room): devices that picked each other, none of which got a
		// first copy from the origin (which answers them "ask your peers"),
		// otherwise waited for the repeat budget or the end of the crowd
		// (8 MiB N=200: 75 devices without a chunk 30 s in).
		pollers := n.pollers(cid, now, every)
		room := pairs.NewRoom(limit, live(), ft.Unfed() >= sched.HungryAfter || contended, seen, pollers)
		pick := room.Wants()
		// Only then are the answer's peers ordered (pairOrder hashes each
		// pair, LAN neighbours are listed): a download that has its peers
		// (most rounds of a big crowd's) takes only the crowd from it.
		peers, _, crowd := n.supplied(cid, sups, pick)
		full = crowd.Full
		ft.SetCrowd(view.Update(time.Now(), crowd.Downloading, crowd.Complete, crowd.Full))
		if !pick {
			continue
		}
		ans := pairs.Answer{Ordered: crowd.Ordered(), Full: crowd.Full, Arrival: crowd.Arrival, Downloading: crowd.Downloads()}
		switch pairs.Round(room, cid, n.ID(), peers, nbID, nbNear, ans, &growth) {
		case pairs.AdoptLater:
			room.Added += n.adoptLater(ctx, m, ft, peers, room.Paired, crowd.Arrival, seen, waiting)
		case pairs.AdoptDialled:
			room.Added += n.adoptDialled(m, ft, pollers, seen, pairs.Cap(limit)-room.Added)
		}
		for _, p := range peers {
			take, extra := room.Take(p.ID)
			if !take {
				continue
			}
			c, err := n.peerFor(p)
			if err != nil {
				continue
			}
			seen[p.ID] = true
			room.Took(extra)
			ft.AddSource(c.Source(m))
		}
	}
}

// pollers is the set of devices that polled us for cid in the last two
// rounds (every) before now.
func (n *Node) pollers(cid sealed.ContentID, now time.Time, every time.Duration) map[identity.ID]bool {
	ids := n.srv.Pollers(cid, now.Add(-2*every))
	set := make(map[identity.ID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}

// adoptDialled takes as sources, up to room (twice MaxPeers, as the
// devices polling us are called back), the devices that poll us and are
// not sources yet, whose connection to our server carries our requests
// too (peer.WireProto2): no handshake. In a crowd bigger than the
// directory's answer, each device dials only half its peers from its own
// sample (pairs.Sampled) and takes the devices that dialled it for the
// other half, though no answer of ours may list them (a client with no
// address: peer.NewClient). It returns how many it took.
func (n *Node) adoptDialled(m *sealed.Manifest, ft *peer.Fetcher, pollers map[identity.ID]bool, seen map[identity.ID]bool, room int) int {
	ids := make([]identity.ID, 0, len(pollers))
	for id := range pollers {
		if !seen[id] && n.srv.Connected(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // the same choice for the same pollers, run to run
	took := 0
	for _, id := range ids {
		if took >= room {
			break
		}
		c, err := n.dialledClient(id)
		if err != nil {
			continue
		}
		seen[id] = true
		took++
		ft.AddSource(c.Source(m))
	}
	return took
}

// Repair re-hashes cid on disk and downloads again every chunk that fails
// (from the directory's suppliers): our own damage is fetched again and
// never blamed on a peer. It returns how many chunks were damaged.
func (n *Node) Repair(ctx context.Context, cid sealed.ContentID) (int, error) {
	bad, err := n.lib.Verify(ctx, cid)
	if err != nil {
		return len(bad), fmt.Errorf("repairing %s: %w", cid, err)
	}
	if len(bad) == 0 {
		return 0, nil
	}
	n.log.Warn("node: repairing damaged chunks", "content", cid, "chunks", len(bad))
	return len(bad), n.Fetch(ctx, cid)
}
