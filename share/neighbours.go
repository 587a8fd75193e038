package share

import (
	"context"
	"slices"
	"sort"
	"weak"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
)

// Neighbour is another device this node can talk to directly: found on the
// LAN, added by hand (AddNeighbour) or named by the directory.
type Neighbour struct {
	ID    identity.ID
	Name  string
	Addrs []string
	LAN   bool // found by mDNS
	Hand  bool // added by hand (its typed address is among Addrs)
	// Relay is the relay the directory reaches it through ("" when it
	// is reachable directly or not named by the directory).
	Relay string
}

// Neighbours lists the LAN neighbours (mDNS) of the same directory that
// the directory vouched for (lanneighbours.go) and,
// once the node has its directory, the neighbours added by hand (a device
// both found and added is listed once, its typed address after the found
// ones).
func (n *Node) Neighbours() []Neighbour {
	out := []Neighbour{}
	seen := map[identity.ID]int{}
	if b := n.browser.Load(); b != nil {
		for _, ln := range b.Neighbours() {
			id, err := identity.ParseID(ln.DeviceID)
			if _, dup := seen[id]; err != nil || dup || id == n.ID() || !n.lanVouched(id) {
				continue
			}
			seen[id] = len(out)
			nb := Neighbour{ID: id, Name: ln.Name, LAN: true}
			for _, a := range ln.Addrs {
				nb.Addrs = append(nb.Addrs, a.String())
			}
			out = append(out, nb)
		}
	}
	if n.dirClient() != nil {
		for _, h := range n.handList() {
			if i, ok := seen[h.Device]; ok {
				out[i].Hand = true
				if !slices.Contains(out[i].Addrs, h.Addr) {
					out[i].Addrs = append(out[i].Addrs, h.Addr)
				}
				continue
			}
			seen[h.Device] = len(out)
			out = append(out, Neighbour{ID: h.Device, Name: h.Name, Addrs: []string{h.Addr}, Hand: true})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Peer returns a (cached) client for device id at addrs.
func (n *Node) Peer(id identity.ID, addrs []string) (*peer.Client, error) {
	return n.peerFor(Neighbour{ID: id, Addrs: addrs})
}

// peerFor returns a (cached) client for a neighbour: its addresses, and
// its relay when the directory named one.
func (n *Node) peerFor(nb Neighbour) (*peer.Client, error) {
	id, addrs := nb.ID, nb.Addrs
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.cachedClient(id)
	if ok && sameAddrs(c.Addrs(), addrs) && n.clientRelay[id] == nb.Relay {
		return c, nil
	}
	nc, err := n.peerClient(nb)
	if err != nil {
		return nil, err
	}
	if ok {
		c.Close()
		n.keepReplaced(id, c)
	} else if len(n.clients) >= maxClients {
		n.turnClients()
	}
	n.clients[id], n.clientRelay[id] = nc, nb.Relay
	return nc, nil
}

// dialledClient is our client of device id, which dialled us: the one
// cached (peerFor's, with its addresses), or else one with no address,
// which reaches the device only over its connection to our server
// (peer.NewClient), cached until an answer tells us its addresses.
func (n *Node) dialledClient(id identity.ID) (*peer.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.cachedClient(id); ok {
		return c, nil
	}
	c, err := n.peerClient(Neighbour{ID: id})
	if err != nil {
		return nil, err
	}
	if len(n.clients) >= maxClients {
		n.turnClients()
	}
	n.clients[id], n.clientRelay[id] = c, ""
	return c, nil
}

// cachedClient is the client cached for device id, if any: also one
// cached before the last turnClients, which a download may still hold
// (cached again). n.mu held.
func (n *Node) cachedClient(id identity.ID) (*peer.Client, bool) {
	c, ok := n.clients[id]
	if w, kept := n.weakly[id]; kept && !ok {
		if c = w.turned.Value(); c != nil {
			ok = true
			n.clients[id], n.clientRelay[id] = c, w.relay
		}
		w.turned, w.relay = weak.Pointer[peer.Client]{}, ""
		n.setWeak(id, w)
	}
	return c, ok
}

// maxClients bounds the clients cached strongly (about 4 KiB each, and
// a TLS session per connection made): beyond, turnClients.
const maxClients = 1024

// weakClients are the clients of one device the node keeps only weakly
// (Node.weakly), for revokeClient: a running download may still hold them.
type weakClients struct {
	// turned: the cache's client before the last turnClients, cached
	// again when the device is asked for again (same client: no second
	// connection), with the relay it was built with.
	turned weak.Pointer[peer.Client]
	relay  string
	// replaced: the clients peerFor replaced (the device's addresses
	// changed), closed; at most maxReplaced, the newest.
	replaced []weak.Pointer[peer.Client]
}

// turnClients keeps the cached clients only weakly from now on (n.mu
// held): one a running download holds is still found (and revoked) by
// device, and cached again when asked for; one nobody holds is collected.
// The cache used to keep a client for every device this node ever asked
// for, for the node's whole life: a crowd of 200 is 200 devices.
func (n *Node) turnClients() {
	for id, c := range n.clients {
		w := n.weakly[id]
		w.turned, w.relay = weak.Make(c), n.clientRelay[id]
		n.weakly[id] = w
	}
	n.clients, n.clientRelay = map[identity.ID]*peer.Client{}, map[identity.ID]string{}
	n.sweepWeak()
}

// maxReplaced bounds the clients of one device kept after peerFor
// replaced them (its addresses changed), for revokeClient: the oldest
// are the least likely to be held by a download still running.
const maxReplaced = 4

// keepReplaced keeps a client peerFor replaced, which a running download
// may still hold, for revokeClient (n.mu held). Only weakly: once nothing
// holds a replaced client it is collected and dropped here, the device's
// when it next has one replaced, every device's at the next sweep (the
// map used to grow by every device whose address ever changed, each entry
// pinning up to maxReplaced clients).
func (n *Node) keepReplaced(id identity.ID, old *peer.Client) {
	w := n.weakly[id]
	live := held(w.replaced)
	w.replaced = append(live[max(0, len(live)+1-maxReplaced):], weak.Make(old))
	n.weakly[id] = w
	n.sweepWeak()
}

// setWeak stores w as device id's weakly kept clients, or drops the entry
// when it keeps none (n.mu held).
func (n *Node) setWeak(id identity.ID, w weakClients) {
	if w.turned.Value() == nil && len(w.replaced) == 0 {
		delete(n.weakly, id)
		return
	}
	n.weakly[id] = w
}

// sweepWeak drops the collected clients of every device, once the map has
// doubled since the last sweep (n.mu held).
func (n *Node) sweepWeak() {
	if len(n.weakly) < n.weakSweep {
		return
	}
	for id, w := range n.weakly {
		w.replaced = held(w.replaced)
		n.setWeak(id, w)
	}
	n.weakSweep = 2*len(n.weakly) + 64
}

// held is ws without the clients collected (in place).
func held(ws []weak.Pointer[peer.Client]) []weak.Pointer[peer.Client] {
	return slices.DeleteFunc(ws, func(w weak.Pointer[peer.Client]) bool { return w.Value() == nil })
}

func sameAddrs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Offers asks a neighbour what it offers to us (its owner's policy applied).
func (n *Node) Offers(ctx context.Context, nb Neighbour) ([]peer.Offer, error) {
	c, err := n.Peer(nb.ID, nb.Addrs)
	if err != nil {
		return nil, err
	}
	return c.Offer(ctx)
}
