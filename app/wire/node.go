package wire

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// Node adapts a share.Node and its directory client to app.Catalog,
// app.Library, app.Neighbours and app.Sharing. NewNode builds the device's
// share.Node, once, with the adapter's event callbacks; Serve runs the
// downloads it starts and its polling.
type Node struct {
	dir atomic.Pointer[directory.Client] // nil until paired
	log *slog.Logger
	n   *share.Node // set by NewNode, never changed

	mu       sync.Mutex
	subs     subscribers
	nsubs    subscribers
	ssubs    subscribers
	licensed map[sealed.ContentID]bool // nil until loaded
	titles   map[string]directory.Title
	uploads  map[upKey]*app.Upload // recent uploads (rates)
	watched  map[*share.Title]bool // handles the library view subscribed to
}

type upKey struct {
	peer identity.ID
	cid  sealed.ContentID
}

// NewNode builds the device's node from o (o.Directory may be nil: not
// paired yet, see SetDirectory) with the adapter's OnEvent, OnService,
// OnInstall and OnUpload, and the adapter over it.
func NewNode(o share.Options) (*Node, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a := &Node{log: o.Logger, titles: map[string]directory.Title{}, uploads: map[upKey]*app.Upload{}}
	o.OnEvent, o.OnService, o.OnInstall, o.Server.OnUpload = a.OnEvent, a.OnService, a.OnInstall, a.OnUpload
	n, err := share.NewNode(o)
	if err != nil {
		return nil, fmt.Errorf("starting: %w", err)
	}
	a.n = n
	a.dir.Store(o.Directory)
	return a, nil
}

// Share is the device's node.
func (a *Node) Share() *share.Node { return a.n }

// SetDirectory starts using dir, the directory the device just paired
// with: the catalog reads it and the running node gets it.
func (a *Node) SetDirectory(dir *directory.Client) error {
	if err := a.n.SetDirectory(dir); err != nil {
		return err
	}
	a.dir.Store(dir)
	return nil
}

// accountChanged drops what was learnt under the account before (which
// held titles have a license usable now) and tells the views.
func (a *Node) accountChanged() {
	a.mu.Lock()
	a.licensed = nil
	a.mu.Unlock()
	a.subs.notify()
	a.ssubs.notify()
}

// OnEvent receives the node's download events (share.Options.OnEvent):
// the library view reads the new state from the titles' handles.
func (a *Node) OnEvent(peer.Event) { a.subs.notify() }

// OnUpload receives the peer server's uploads (peer.ServerOptions.OnUpload).
func (a *Node) OnUpload(u peer.Upload) {
	a.mu.Lock()
	k := upKey{u.Peer, u.ContentID}
	up := a.uploads[k]
	if up == nil {
		up = &app.Upload{Peer: u.Peer, Content: u.ContentID}
		a.uploads[k] = up
	}
	up.Bytes += u.Bytes
	now := time.Now()
	if d := u.Duration.Seconds(); d > 0 {
		r := float64(u.Bytes) / d
		if up.Rate == 0 {
			up.Rate = r
		} else {
			up.Rate = 0.7*up.Rate + 0.3*r
		}
	}
	up.Last = now
	up.Active = true
	a.mu.Unlock()
	a.ssubs.notify()
	a.subs.notify()
}

// Serve polls the LAN neighbour list and ages upload rates until ctx
// ends (the node runs and waits for its downloads).
func (a *Node) Serve(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var last []share.Neighbour
	resumed := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n := a.n
		if !resumed {
			resumed = true
			a.resume(ctx)
		}
		if ns := n.Neighbours(); !slices.EqualFunc(ns, last, func(x, y share.Neighbour) bool {
			return x.ID == y.ID && x.Name == y.Name && slices.Equal(x.Addrs, y.Addrs)
		}) {
			last = ns
			a.nsubs.notify()
		}
		a.mu.Lock()
		aged := false
		for _, up := range a.uploads {
			if up.Active && time.Since(up.Last) > 3*time.Second {
				up.Active, up.Rate, aged = false, 0, true
			}
		}
		a.mu.Unlock()
		if aged {
			a.ssubs.notify()
			a.subs.notify()
		}
	}
}

// resume restarts the downloads a previous run left unfinished (licensed
// titles with chunks missing).
func (a *Node) resume(ctx context.Context) {
	items, err := a.Items(ctx)
	if err != nil {
		a.log.Warn("resuming downloads", "err", err)
		return
	}
	for _, it := range items {
		if it.State == app.StatePaused {
			a.log.Info("resuming download", "title", it.Name, "have", it.Have, "size", it.Size)
			_ = a.startFetch(it.Content)
		}
	}
}

// startFetch downloads cid in the background on the node (from peers, or
// every source when none); its handle reports through Changes.
func (a *Node) startFetch(cid sealed.ContentID, peers ...share.Neighbour) error {
	n := a.n
	t := n.Title(cid)
	a.watch(t)
	return t.Start(peers...)
}

// watch subscribes the library view to t once: its start and end change
// the items' states (progress comes through OnEvent).
func (a *Node) watch(t *share.Title) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.watched == nil {
		a.watched = map[*share.Title]bool{}
	}
	if !a.watched[t] {
		a.watched[t] = true
		t.Subscribe(a.subs.notify)
	}
}

// Titles implements app.Catalog.
func (a *Node) Titles(ctx context.Context, q string, page, perPage int) ([]directory.Title, int, error) {
	dir := a.dir.Load()
	if dir == nil {
		return nil, 0, share.ErrNoDirectory
	}
	ts, total, err := dir.Titles(ctx, q, page, perPage)
	if err == nil {
		a.mu.Lock()
		for _, t := range ts {
			a.titles[t.ID] = t
		}
		a.mu.Unlock()
	}
	return ts, total, err
}

// Buy implements app.Catalog: register (and pay), keep the license, then
// download from the ranked suppliers.
func (a *Node) Buy(ctx context.Context, t directory.Title, pay *license.Payment) (*directory.Receipt, error) {
	n := a.n
	reg, err := n.Buy(ctx, t.ID, pay)
	if err != nil {
		return nil, err
	}
	a.setLicensed(t.ContentID)
	if err := a.startFetch(t.ContentID); err != nil {
		return nil, err
	}
	return &reg.Receipt, nil
}

func (a *Node) putTitle(ctx context.Context, t directory.Title) error {
	return a.n.Library().PutTitle(ctx, library.Title{ID: t.ID, Name: t.Name, Artist: t.Artist,
		MediaType: t.MediaType, ContentID: t.ContentID, Size: t.Size, Tags: libraryTags(t)})
}

func (a *Node) setLicensed(c sealed.ContentID) {
	a.mu.Lock()
	if a.licensed != nil {
		a.licensed[c] = true
	}
	a.mu.Unlock()
}

// Items implements app.Library: everything with a manifest in the library,
// plus bought titles whose manifest has not arrived yet.
func (a *Node) Items(ctx context.Context) ([]app.Item, error) {
	n := a.n
	lib := n.Library()
	held, err := lib.HeldContent(ctx)
	if err != nil {
		return nil, err
	}
	pol, err := lib.Policies(ctx)
	if err != nil {
		return nil, err
	}
	lic, err := a.licensedSet(ctx, held)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	items := make([]app.Item, 0, len(held))
	def := directory.Policy(library.DefaultPolicy)
	if p, ok := pol[""]; ok {
		def = directory.Policy(p)
	}
	for _, h := range held {
		it := app.Item{Content: h.ContentID, Size: h.Size, Name: h.ContentID.String()[:12], Artist: "unknown", Policy: def}
		if h.Total > 0 {
			it.Have = h.Size * int64(h.Have) / int64(h.Total)
		}
		if len(h.Titles) > 0 {
			t := h.Titles[0]
			it.TitleID, it.Name, it.Artist, it.MediaType, it.Added = t.ID, t.Name, t.Artist, t.MediaType, t.Added
			it.Duration, it.Width, it.Height = t.Duration, t.Width, t.Height
			if p, ok := pol[t.ID]; ok {
				it.Policy = directory.Policy(p)
			}
			if dt, ok := a.titles[t.ID]; ok {
				it.Price, it.Currency = dt.Price, dt.Currency
			}
		}
		var pr peer.Progress
		running := false
		if t := n.Lookup(h.ContentID); t != nil && t.Downloading() {
			pr, running = t.Progress(), true
		}
		switch {
		case !lic[h.ContentID]:
			it.State = app.StateLocked
		case h.Complete:
			it.State = app.StateOwned
		case running:
			it.State = app.StateDownloading
		default:
			it.State = app.StatePaused
		}
		if running {
			it.Rate, it.Sources = pr.Rate, activeSources(pr)
			if pr.Total > 0 {
				it.Have = max(it.Have, h.Size*int64(pr.Have)/int64(pr.Total))
			}
		}
		items = append(items, it)
	}
	return items, nil
}

func activeSources(p peer.Progress) int {
	n := 0
	for _, s := range p.Sources {
		if s.State == "ok" || s.State == "" {
			n++
		}
	}
	return n
}

// licensedSet is the set of held content with a stored license usable
// under the account (share.Node.Licensed), loaded once (one lookup per
// title), kept up to date by Buy and GetKey, and dropped when the account
// changes.
func (a *Node) licensedSet(ctx context.Context, held []library.Held) (map[sealed.ContentID]bool, error) {
	a.mu.Lock()
	set := a.licensed
	a.mu.Unlock()
	if set == nil {
		set = map[sealed.ContentID]bool{}
	}
	n := a.n
	for _, h := range held {
		if _, known := set[h.ContentID]; known {
			continue
		}
		set[h.ContentID] = n.Licensed(ctx, h.ContentID)
	}
	a.mu.Lock()
	if a.licensed == nil {
		a.licensed = set
	} else {
		for k, v := range set {
			a.licensed[k] = a.licensed[k] || v
		}
		set = a.licensed
	}
	out := make(map[sealed.ContentID]bool, len(set))
	for k, v := range set {
		out[k] = v
	}
	a.mu.Unlock()
	return out, nil
}

// GetKey implements app.Library.
func (a *Node) GetKey(ctx context.Context, c sealed.ContentID, pay *license.Payment) (*directory.Receipt, error) {
	n := a.n
	l, err := n.GetKey(ctx, c, pay)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.licensed != nil {
		a.licensed[c] = true
	}
	a.mu.Unlock()
	a.subs.notify()
	if st, err := n.Library().Status(ctx, c); err == nil && !st.Complete {
		_ = a.startFetch(c)
	}
	return &directory.Receipt{PurchaseID: l.ID, TitleID: l.TitleID, Account: l.Account, Time: l.IssuedAt}, nil
}

// Suppliers implements app.Library.
func (a *Node) Suppliers(ctx context.Context, c sealed.ContentID) ([]directory.Supplier, error) {
	dir := a.dir.Load()
	if dir == nil {
		return nil, share.ErrNoDirectory
	}
	return dir.Suppliers(ctx, c)
}

// Fetch implements app.Library: from "" uses every source.
func (a *Node) Fetch(ctx context.Context, c sealed.ContentID, from identity.ID) error {
	if from == "" {
		return a.startFetch(c)
	}
	sups, err := a.Suppliers(ctx, c)
	if err != nil {
		return err
	}
	for _, s := range sups {
		if s.Device == from {
			if s.Origin || len(s.Addrs) == 0 {
				return a.startFetch(c)
			}
			return a.startFetch(c, share.Neighbour{ID: s.Device, Addrs: s.Addrs})
		}
	}
	return fmt.Errorf("device %s no longer supplies this title", from.Short())
}

// Swarm implements app.Library.
func (a *Node) Swarm(c sealed.ContentID) app.Swarm {
	sw := app.Swarm{Content: c}
	if t := a.n.Lookup(c); t != nil {
		for _, s := range t.Progress().Sources {
			if s.State == "banned" || s.State == "dropped" {
				continue
			}
			name := s.ID.Short()
			if s.Origin {
				name = "origin"
			}
			sw.Links = append(sw.Links, app.Link{Peer: s.ID, Name: name, Incoming: true, Origin: s.Origin, Rate: s.Rate, Bytes: s.Bytes})
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, up := range a.uploads {
		if k.cid == c && up.Active {
			sw.Links = append(sw.Links, app.Link{Peer: k.peer, Name: k.peer.Short(), Rate: up.Rate, Bytes: up.Bytes})
		}
	}
	return sw
}

// Changes implements app.Library.
func (a *Node) Changes(fn func()) func() { return a.subs.add(fn) }
