package share

import (
	"context"
	"sort"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
)

// Neighbour is another device this node can talk to directly: found on the
// LAN or named by the directory.
type Neighbour struct {
	ID    identity.ID
	Name  string
	Addrs []string
	LAN   bool
	// Relay is the relay the directory reaches it through ("" when it
	// is reachable directly or not named by the directory).
	Relay string
}

// Neighbours lists the LAN neighbours (mDNS) of the same directory.
func (n *Node) Neighbours() []Neighbour {
	out := []Neighbour{}
	seen := map[identity.ID]bool{}
	if b := n.browser.Load(); b != nil {
		for _, ln := range b.Neighbours() {
			id, err := identity.ParseID(ln.DeviceID)
			if err != nil || seen[id] || id == n.ID() {
				continue
			}
			seen[id] = true
			nb := Neighbour{ID: id, Name: ln.Name, LAN: true}
			for _, a := range ln.Addrs {
				nb.Addrs = append(nb.Addrs, a.String())
			}
			out = append(out, nb)
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
	if c, ok := n.clients[id]; ok && sameAddrs(c.Addrs(), addrs) && n.clientRelay[id] == nb.Relay {
		return c, nil
	}
	c, err := n.peerClient(nb)
	if err != nil {
		return nil, err
	}
	n.clientRelay[id] = nb.Relay
	if old, ok := n.clients[id]; ok {
		old.Close()
	}
	n.clients[id] = c
	return c, nil
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
