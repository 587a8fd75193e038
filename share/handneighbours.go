package share

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// Neighbours added by hand: where a household's router drops multicast,
// mDNS finds nobody, and a person types in the address another device's
// screen shows (host:port of its peer port). The address is only a hint,
// as an mDNS answer is: AddNeighbour dials it with mutual TLS and keeps it
// only when the device there proves its key (its certificate's key is its
// ID) and the directory this device is paired with knows that device as
// enrolled and not revoked. Afterwards the neighbour is dialed at that
// address as that device only (peer.NewClient pins the ID), exactly as an
// mDNS neighbour is: another device answering there is refused. The
// directory is asked again every NeighbourCheckInterval (checkHand): a
// neighbour revoked or no longer enrolled since is removed.

// probeTimeout bounds AddNeighbour's dial and handshake.
const probeTimeout = 10 * time.Second

// maxNeighbourName bounds the name kept for a neighbour added by hand
// (the directory's name of the device), in bytes.
const maxNeighbourName = 64

// ErrBadNeighbourAddr is returned (wrapped) by AddNeighbour for an address
// that is not host:port.
var ErrBadNeighbourAddr = errors.New("want HOST:PORT, the address the other device shows (its peer port)")

// ErrNoHandNeighbour is returned (wrapped) by RemoveNeighbour when no
// neighbour added by hand matches.
var ErrNoHandNeighbour = errors.New("no neighbour added by hand has that address or ID")

// ParseNeighbourAddr checks a typed neighbour address: host:port with a
// host name or IP address and a port 1..65535; it returns it in the form
// it is stored and dialed in (host in lower case, IPv6 in brackets).
func ParseNeighbourAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > library.MaxHandNeighbourAdr {
		return "", fmt.Errorf("neighbour address %q: %w", s, ErrBadNeighbourAddr)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("neighbour address %q: %w", s, ErrBadNeighbourAddr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", fmt.Errorf("neighbour address %q: port %q: %w", s, port, ErrBadNeighbourAddr)
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() || ip.IsMulticast() {
			return "", fmt.Errorf("neighbour address %q: %s is not a device's address: %w", s, host, ErrBadNeighbourAddr)
		}
		return net.JoinHostPort(ip.String(), strconv.FormatUint(p, 10)), nil
	}
	if !hostName(host) {
		return "", fmt.Errorf("neighbour address %q: host %q: %w", s, host, ErrBadNeighbourAddr)
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.FormatUint(p, 10)), nil
}

// hostName reports whether h is a DNS host name: labels of letters, digits
// and '-' (not first or last), at most 63 bytes each, 253 in all.
func hostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// AddNeighbour adds the device answering at addr (host:port of its peer
// port) as a neighbour: it must prove its device key over mutual TLS and
// be enrolled, not revoked, with this device's directory. It is stored in
// the library (kept across restarts) and listed by Neighbours until
// RemoveNeighbour. Adding an address again checks it again.
func (n *Node) AddNeighbour(ctx context.Context, addr string) (Neighbour, error) {
	addr, err := ParseNeighbourAddr(addr)
	if err != nil {
		return Neighbour{}, err
	}
	dc := n.dirClient()
	if dc == nil {
		return Neighbour{}, fmt.Errorf("adding neighbour %s: %w: pair with your household's directory first", addr, ErrNoDirectory)
	}
	id, err := n.probe(ctx, addr)
	if err != nil {
		return Neighbour{}, fmt.Errorf("adding neighbour %s: %w", addr, err)
	}
	if id == n.ID() {
		return Neighbour{}, fmt.Errorf("adding neighbour %s: that is this device's own address", addr)
	}
	d, err := dc.Whois(ctx, id)
	if err := vouched(dc, id, d, err); err != nil {
		var nv notVouchedError
		if !errors.As(err, &nv) {
			return Neighbour{}, fmt.Errorf("adding neighbour %s: %w", addr, err)
		}
		return Neighbour{}, fmt.Errorf("adding neighbour %s: %w: not added", addr, err)
	}
	name := d.Name
	if len(name) > maxNeighbourName || !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "")
		for len(name) > maxNeighbourName { // at a rune's start
			_, size := utf8.DecodeLastRuneInString(name)
			name = name[:len(name)-size]
		}
	}
	h := library.HandNeighbour{Addr: addr, Device: id, Name: name}
	if err := n.lib.AddHandNeighbour(ctx, h); err != nil {
		return Neighbour{}, err
	}
	n.loadHand(ctx)
	n.log.Info("neighbour added by hand", "addr", addr, "device", id, "name", name)
	return Neighbour{ID: id, Name: name, Addrs: []string{addr}, Hand: true}, nil
}

// probe dials addr and returns the device ID its certificate proves.
func (n *Node) probe(ctx context.Context, addr string) (identity.ID, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: n.id.ClientTLS("")}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, identity.ErrWrongPeer) {
			return "", fmt.Errorf("what answers there is not a Kith device: %w", err)
		}
		return "", fmt.Errorf("no Kith device answers there (is it running, and is this its peer port?): %w", err)
	}
	defer c.Close()
	id, _, err := identity.PeerID(c.(*tls.Conn).ConnectionState())
	if err != nil {
		return "", fmt.Errorf("what answers there is not a Kith device: %w", err)
	}
	return id, nil
}

// RemoveNeighbour removes the neighbours added by hand at addr (as typed
// or stored) or whose device ID, or its first group, is addr.
func (n *Node) RemoveNeighbour(ctx context.Context, addr string) error {
	key := strings.TrimSpace(addr)
	if a, err := ParseNeighbourAddr(key); err == nil {
		key = a
	}
	for _, h := range n.handList() {
		if strings.EqualFold(h.Device.Short(), key) {
			key = string(h.Device)
		}
	}
	removed, err := n.lib.RemoveHandNeighbour(ctx, key)
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("removing neighbour %q: %w", addr, ErrNoHandNeighbour)
	}
	n.loadHand(ctx)
	return nil
}

// checkHandEvery checks the neighbours added by hand at the directory
// every NeighbourCheckInterval (checkHand), until ctx ends.
func (n *Node) checkHandEvery(ctx context.Context) error {
	t := time.NewTicker(n.o.NeighbourCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n.checkHand(ctx)
	}
}

// checkHand asks the directory again about each neighbour added by hand,
// which it vouched for when the neighbour was added: one revoked since (a
// lost phone) or no longer enrolled (it left the household) is removed —
// no longer listed, so no download dials it — and its calls are refused
// at once (peer.Server.Refuse) rather than once the server's kept answer
// expires. A neighbour the directory cannot be asked about now is kept and
// asked about next time.
func (n *Node) checkHand(ctx context.Context) {
	dc := n.dirClient()
	if dc == nil {
		return
	}
	asked := map[identity.ID]bool{}
	removed := false
	for _, h := range n.handList() {
		if asked[h.Device] || ctx.Err() != nil {
			continue
		}
		asked[h.Device] = true
		wctx, cancel := context.WithTimeout(ctx, probeTimeout) // a directory that hangs is asked next time
		d, err := dc.Whois(wctx, h.Device)
		cancel()
		err = vouched(dc, h.Device, d, err)
		var nv notVouchedError
		if !errors.As(err, &nv) {
			if err != nil && ctx.Err() == nil {
				n.log.Warn("checking a neighbour added by hand", "addr", h.Addr, "device", h.Device, "err", err)
			}
			continue
		}
		n.srv.Refuse(h.Device)
		if _, err := n.lib.RemoveHandNeighbour(ctx, string(h.Device)); err != nil {
			n.log.Warn("removing a neighbour added by hand", "addr", h.Addr, "device", h.Device, "err", err)
			continue
		}
		removed = true
		n.revokeClient(h.Device)
		n.log.Warn("neighbour added by hand removed", "addr", h.Addr, "device", h.Device, "why", err)
	}
	if removed {
		n.loadHand(ctx)
	}
}

// revokeClient revokes and forgets the cached client for device id, which
// the directory no longer vouches for (one cached before turnClients too),
// and those peerFor replaced: a
// running download that holds one asks it for nothing more and drops it
// (peer.Client.Revoke).
func (n *Node) revokeClient(id identity.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.clients[id]; ok {
		c.Revoke()
		delete(n.clients, id)
		delete(n.clientRelay, id)
	}
	if w, ok := n.weakly[id]; ok {
		if c := w.turned.Value(); c != nil {
			c.Revoke()
		}
		for _, p := range w.replaced {
			if c := p.Value(); c != nil {
				c.Revoke()
			}
		}
		delete(n.weakly, id)
	}
}

// loadHand reads the neighbours added by hand from the library. One at a
// time: an add and a remove racing could otherwise each read the table
// before the other's change and store their lists in the other order,
// listing a removed neighbour (or missing an added one) until the next.
func (n *Node) loadHand(ctx context.Context) {
	n.handLoad.Lock()
	defer n.handLoad.Unlock()
	hs, err := n.lib.HandNeighbours(ctx)
	if err != nil {
		n.log.Warn("reading the neighbours added by hand", "err", err)
		return
	}
	n.mu.Lock()
	n.hand = hs
	n.mu.Unlock()
}

// handList is the neighbours added by hand (a copy).
func (n *Node) handList() []library.HandNeighbour {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]library.HandNeighbour(nil), n.hand...)
}

// notVouchedError: the directory does not vouch for a device (not
// enrolled, or revoked) — as opposed to a failure to ask it.
type notVouchedError struct{ msg string }

func (e notVouchedError) Error() string { return e.msg }

// vouched reads the answer (d, err) of directory dc's Whois about device
// id: nil when it is enrolled and not revoked; a notVouchedError when it
// is not; the failure to ask otherwise.
func vouched(dc *directory.Client, id identity.ID, d *directory.Device, err error) error {
	var de *directory.Error
	switch {
	case errors.As(err, &de) && de.Status == http.StatusNotFound:
		return notVouchedError{msg: fmt.Sprintf("the device there (%s) is not enrolled with this device's directory %s", id.Short(), dc.Fingerprint().Short())}
	case err != nil:
		return fmt.Errorf("asking the directory about device %s: %w", id.Short(), err)
	case d == nil || d.ID != id:
		return notVouchedError{msg: fmt.Sprintf("asked about %s, the directory answered for another device", id.Short())}
	case d.Revoked:
		return notVouchedError{msg: fmt.Sprintf("the device there (%s) is revoked at the directory", id.Short())}
	}
	return nil
}
