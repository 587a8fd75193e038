package wire

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
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

// subscribers is a set of change funcs.
type subscribers struct {
	mu  sync.Mutex
	fns map[int]func()
	n   int
}

func (s *subscribers) add(fn func()) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(){}
	}
	id := s.n
	s.n++
	s.fns[id] = fn
	return func() {
		s.mu.Lock()
		delete(s.fns, id)
		s.mu.Unlock()
	}
}

func (s *subscribers) notify() {
	s.mu.Lock()
	fns := make([]func(), 0, len(s.fns))
	for _, f := range s.fns {
		fns = append(fns, f)
	}
	s.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// Neighbours implements app.Neighbours.
func (a *Node) Neighbours() []app.Neighbour {
	var out []app.Neighbour
	for _, n := range a.n.Neighbours() {
		nb := app.Neighbour{ID: n.ID, Name: n.Name, Seen: time.Now(), ByHand: n.Hand}
		if nb.Name == "" {
			nb.Name = n.ID.Short()
		}
		if len(n.Addrs) > 0 {
			nb.Addr = n.Addrs[0]
		}
		out = append(out, nb)
	}
	return out
}

func (a *Node) neighbour(id identity.ID) (share.Neighbour, error) {
	node := a.n
	for _, n := range node.Neighbours() {
		if n.ID == id {
			return n, nil
		}
	}
	return share.Neighbour{}, fmt.Errorf("device %s is no longer on the network", id.Short())
}

// Offer implements app.Neighbours: what the neighbour offers us, with the
// catalog's price and rights where the directory knows the title.
func (a *Node) Offer(ctx context.Context, id identity.ID) ([]app.Offer, error) {
	nb, err := a.neighbour(id)
	if err != nil {
		return nil, err
	}
	offers, err := a.n.Offers(ctx, nb)
	var se *peer.StatusError
	if errors.As(err, &se) && se.Status == http.StatusForbidden {
		return nil, fmt.Errorf("%s: %w", nb.Name, app.ErrRestricted)
	}
	if err != nil {
		return nil, err
	}
	out := make([]app.Offer, 0, len(offers))
	for _, o := range offers {
		t := directory.Title{ID: o.TitleID, Name: o.Name, Artist: o.Artist, MediaType: o.MediaType, ContentID: o.Content, Size: o.Size}
		if dt, err := a.catalogTitle(ctx, o.TitleID); err == nil {
			t = *dt
		}
		out = append(out, app.Offer{Title: t, Complete: o.Complete})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Title.Name < out[j].Title.Name })
	return out, nil
}

func (a *Node) catalogTitle(ctx context.Context, id string) (*directory.Title, error) {
	a.mu.Lock()
	t, ok := a.titles[id]
	a.mu.Unlock()
	if ok {
		return &t, nil
	}
	dir := a.dir.Load()
	if dir == nil || id == "" {
		return nil, share.ErrNoDirectory
	}
	dt, err := dir.Title(ctx, id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.titles[id] = *dt
	a.mu.Unlock()
	return dt, nil
}

// FetchFrom implements app.Neighbours: relayed registration then download
// from the neighbour, or ciphertext first with no key.
func (a *Node) FetchFrom(ctx context.Context, id identity.ID, o app.Offer, mode app.FetchMode, pay *license.Payment) error {
	nb, err := a.neighbour(id)
	if err != nil {
		return err
	}
	if err := a.putTitle(ctx, o.Title); err != nil {
		return err
	}
	if mode == app.FetchRelay { // the title row is in: RegisterVia keeps it
		if _, err := a.n.RegisterVia(ctx, nb, o.Title.ID, pay); err != nil {
			return err
		}
		a.setLicensed(o.Title.ContentID)
	}
	return a.startFetch(o.Title.ContentID, nb)
}

// NeighbourChanges is app.Neighbours' Changes (named apart from the
// library's); use NeighboursView to get an app.Neighbours.
func (a *Node) neighbourChanges(fn func()) func() { return a.nsubs.add(fn) }

// NeighboursView is a as app.Neighbours.
func (a *Node) NeighboursView() app.Neighbours { return neighboursView{a} }

type neighboursView struct{ *Node }

func (v neighboursView) Changes(fn func()) func() { return v.neighbourChanges(fn) }

// Discovery implements app.Neighbours from the node's LAN service status.
func (v neighboursView) Discovery() string {
	for _, s := range v.n.Services() {
		if s.Name == share.ServiceLAN && !s.Up() {
			return "LAN discovery is unavailable: " + s.Err.Error()
		}
	}
	return ""
}

// Add implements app.Neighbours (share.Node.AddNeighbour).
func (v neighboursView) Add(ctx context.Context, addr string) (app.Neighbour, error) {
	n, err := v.n.AddNeighbour(ctx, addr)
	if err != nil {
		return app.Neighbour{}, err
	}
	v.nsubs.notify()
	return app.Neighbour{ID: n.ID, Name: n.Name, Addr: n.Addrs[0], Seen: time.Now(), ByHand: true}, nil
}

// Address implements app.Neighbours (share.Node.LANAddr).
func (v neighboursView) Address() string { return v.n.LANAddr() }

// Remove implements app.Neighbours (share.Node.RemoveNeighbour).
func (v neighboursView) Remove(ctx context.Context, id identity.ID) error {
	if err := v.n.RemoveNeighbour(ctx, string(id)); err != nil {
		return err
	}
	v.nsubs.notify()
	return nil
}

// OnService receives the node's service changes (share.Options.OnService).
func (a *Node) OnService(share.ServiceStatus) { a.nsubs.notify() }

// OnInstall is share.Options.OnInstall: the package offered changed.
func (a *Node) OnInstall() { a.ssubs.notify() }

// SharingView is a as app.Sharing.
func (a *Node) SharingView() app.Sharing { return sharingView{a} }

type sharingView struct{ *Node }

func (v sharingView) Changes(fn func()) func() { return v.ssubs.add(fn) }

// Enabled implements app.Sharing: off means the default policy is
// "nobody" (titles with their own rule keep it); the library keeps it.
func (v sharingView) Enabled() bool {
	on, _ := v.sharing()
	return on
}

// sharing is the library's sharing switch and the default policy that
// applies while it is on.
func (v sharingView) sharing() (bool, directory.Policy) {
	on, p, err := v.n.Library().Sharing(context.Background())
	if err != nil {
		v.log.Warn("reading the sharing switch", "err", err)
		return true, directory.Policy(library.DefaultPolicy)
	}
	return on, directory.Policy(p)
}

// SetEnabled implements app.Sharing.
func (v sharingView) SetEnabled(ctx context.Context, on bool) error {
	n := v.n
	if err := n.SetSharing(ctx, on); err != nil {
		return err
	}
	v.ssubs.notify()
	return nil
}

// DefaultPolicy implements app.Sharing: while sharing is off, the one
// that returns when it is switched on.
func (v sharingView) DefaultPolicy() directory.Policy {
	_, p := v.sharing()
	return p
}

// SetDefaultPolicy implements app.Sharing (while sharing is off it
// applies when sharing is switched back on).
func (v sharingView) SetDefaultPolicy(ctx context.Context, p directory.Policy) error {
	n := v.n
	if err := n.SetPolicy(ctx, "", p); err != nil {
		return err
	}
	v.ssubs.notify()
	return nil
}

// SetPolicy implements app.Sharing: every title of content gets p.
func (v sharingView) SetPolicy(ctx context.Context, c sealed.ContentID, p directory.Policy) error {
	ts, err := v.n.Library().TitlesFor(ctx, c)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		return errors.New("this content has no title to set a rule on")
	}
	for _, t := range ts {
		if err := v.n.SetPolicy(ctx, t.ID, p); err != nil {
			return err
		}
	}
	v.subs.notify()
	return nil
}

// Uploads implements app.Sharing: the ledger of what we supplied, with
// live rates from recent uploads.
func (v sharingView) Uploads() []app.Upload {
	ctx := context.Background()
	node := v.n
	if node == nil {
		return nil
	}
	lib := node.Library()
	led, err := lib.Ledger(ctx, "", 500)
	if err != nil {
		v.log.Warn("reading upload ledger", "err", err)
	}
	names := map[identity.ID]string{}
	for _, n := range node.Neighbours() {
		names[n.ID] = n.Name
	}
	titles := map[sealed.ContentID]string{}
	var out []app.Upload
	v.mu.Lock()
	live := make(map[upKey]app.Upload, len(v.uploads))
	for k, u := range v.uploads {
		live[k] = *u
	}
	v.mu.Unlock()
	for _, e := range led {
		if e.Direction != library.Up {
			continue
		}
		name, ok := titles[e.ContentID]
		if !ok {
			if ts, err := lib.TitlesFor(ctx, e.ContentID); err == nil && len(ts) > 0 {
				name = ts[0].Name
			} else {
				name = e.ContentID.String()[:12]
			}
			titles[e.ContentID] = name
		}
		u := app.Upload{Peer: e.Peer, PeerName: names[e.Peer], Content: e.ContentID, Title: name, Bytes: e.Bytes, Last: e.Last}
		if l, ok := live[upKey{e.Peer, e.ContentID}]; ok && l.Active {
			u.Active, u.Rate = true, l.Rate
		}
		out = append(out, u)
	}
	return out
}

// Install implements app.Sharing: the node's install page and the package
// it offers there.
func (v sharingView) Install() app.InstallOffer {
	node := v.n
	if node == nil {
		return app.InstallOffer{}
	}
	info, err := node.InstallPackage()
	if err != nil {
		v.log.Warn("reading the install package", "err", err)
	}
	return app.InstallOffer{URL: node.InstallURL(), Available: info.Available, SHA256: info.SHA256,
		Size: info.Size, Problem: info.Problem, Dir: info.Dir, Preparing: info.Preparing}
}

// Supplied implements app.Sharing.
func (v sharingView) Supplied() int64 {
	var n int64
	for _, u := range v.Uploads() {
		n += u.Bytes
	}
	return n
}
