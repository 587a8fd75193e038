package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/share/identity"
)

// RelayInfo names the relay a directory offers: suppliers that cannot be
// reached directly keep a control connection to it, askers reach them
// through it with a ticket (POST /v1/relay/ticket).
type RelayInfo struct {
	Addr string      `json:"addr"` // host:port
	ID   identity.ID `json:"id"`   // the relay's device ID, pinned by suppliers
}

// Reach values of a Supplier: how the asker can connect to it.
const (
	ReachDirect      = "direct"      // the directory connected to it at its public address
	ReachRelayed     = "relayed"     // not reachable directly; keeps a connection to Relay
	ReachUnreachable = "unreachable" // neither: only its LAN neighbours can connect
)

// AnnounceAnswer is the directory's answer to an announcement.
type AnnounceAnswer struct {
	Expires    time.Time `json:"expires"`
	TTLSeconds int       `json:"ttl_seconds"`
	PublicIP   string    `json:"public_ip"` // the address the directory saw the device at
	// Reachable is whether the directory could open a TLS connection to the
	// device's peer port at PublicIP; absent when it did not check (it
	// checks only when it has a relay to offer).
	Reachable *bool      `json:"reachable,omitempty"`
	Relay     *RelayInfo `json:"relay,omitempty"` // the relay to keep a connection to when not reachable
	// SuppliersBin is the lookup the announcement asked for
	// (?suppliers=, Client.AnnounceSuppliers) in SuppliersMediaType's
	// binary form; absent when it asked none or the directory answered
	// none (see announcelookup.go).
	SuppliersBin []byte `json:"suppliers_bin,omitempty"`
}

// TicketRequest asks for a relay ticket to reach Supplier.
type TicketRequest struct {
	Supplier identity.ID `json:"supplier"`
}

// TicketAnswer is a relay ticket (package directory/relay) and where to use it.
type TicketAnswer struct {
	Ticket  []byte    `json:"ticket"`
	Relay   string    `json:"relay"` // the relay's host:port
	Expires time.Time `json:"expires"`
}

// reachability records, per device, what the directory learnt of its
// peer port from outside: checked by connecting to the address it
// announced from (only there: the directory never dials an address a
// device names), again after reachTTL or when that address changes.
type reachability struct {
	mu  sync.Mutex
	m   map[identity.ID]*reachEntry
	sem chan struct{} // probes at once
}

type reachEntry struct {
	key       string // public IP and announced ports the check was for
	reachable bool
	checked   time.Time
	probing   bool
	relay     string // the relay the device says it keeps a connection to
}

const (
	reachTTL       = 10 * time.Minute
	reachTimeout   = 3 * time.Second
	maxReachProbes = 16
	maxReachPorts  = 4
	maxReachDevs   = 200_000
)

func newReachability() *reachability {
	return &reachability{m: map[identity.ID]*reachEntry{}, sem: make(chan struct{}, maxReachProbes)}
}

// probeKey is what a check depends on: the public IP and the ports.
func probeKey(ip string, addrs []string) (string, []string) {
	var ports []string
	seen := map[string]bool{}
	for _, a := range addrs {
		_, p, err := net.SplitHostPort(a)
		if err != nil || seen[p] || len(ports) == maxReachPorts {
			continue
		}
		seen[p] = true
		ports = append(ports, p)
	}
	sort.Strings(ports)
	key := ip
	for _, p := range ports {
		key += "," + p
	}
	return key, ports
}

// observe records an announcement's relay and returns what is known of the
// device's reachability, checking it first (for at most reachTimeout) when
// nothing is known for its address yet, and in the background when the
// last check is old.
func (s *Server) observe(ctx context.Context, dev identity.ID, ip string, a *Announcement) *bool {
	rc := s.reach
	key, ports := probeKey(ip, a.Addrs)
	if _, err := netip.ParseAddr(ip); err != nil || len(ports) == 0 {
		return nil
	}
	now := s.now()
	rc.mu.Lock()
	e := rc.m[dev]
	if e == nil || e.key != key {
		if len(rc.m) >= maxReachDevs {
			clear(rc.m)
		}
		e = &reachEntry{key: key}
		rc.m[dev] = e
	}
	e.relay = ""
	if a.Relay != "" && s.o.Relay != nil && a.Relay == s.o.Relay.Addr {
		e.relay = a.Relay
	}
	fresh := !e.checked.IsZero()
	stale := !fresh || now.Sub(e.checked) > reachTTL
	start := stale && !e.probing
	if start {
		e.probing = true
	}
	rc.mu.Unlock()
	if start {
		done := make(chan struct{})
		go func() {
			defer close(done)
			ok := s.probe(dev, ip, ports)
			rc.mu.Lock()
			if cur := rc.m[dev]; cur == e {
				e.reachable, e.checked, e.probing = ok, s.now(), false
			}
			rc.mu.Unlock()
		}()
		if !fresh {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if e.checked.IsZero() {
		return nil
	}
	v := e.reachable
	return &v
}

// probe reports whether a TLS handshake with dev succeeds at ip on any of
// ports. A probe waits for a free slot (maxReachProbes) no longer than
// the timeout: a directory busy probing answers "unknown".
func (s *Server) probe(dev identity.ID, ip string, ports []string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	select {
	case s.reach.sem <- struct{}{}:
		defer func() { <-s.reach.sem }()
	case <-ctx.Done():
		return false
	}
	cfg := s.id.ClientTLS(dev)
	cfg.NextProtos = []string{"http/1.1"}
	for _, p := range ports {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, p))
		if err != nil {
			continue
		}
		tc := tls.Client(c, cfg)
		err = tc.HandshakeContext(ctx)
		tc.Close()
		if err == nil {
			return true
		}
	}
	return false
}

// reachOf returns the reach class and relay of an announced device.
func (s *Server) reachOf(dev identity.ID) (reach, relayAddr string) {
	s.reach.mu.Lock()
	defer s.reach.mu.Unlock()
	e := s.reach.m[dev]
	switch {
	case e == nil || e.checked.IsZero():
		return "", ""
	case e.reachable:
		return ReachDirect, ""
	case e.relay != "":
		return ReachRelayed, e.relay
	}
	return ReachUnreachable, ""
}

// unreachableFrom tells the origin budget which holders an asker at ip
// cannot connect to: checked, not reachable directly, no relay, and not
// behind the asker's own public address. They cannot pass the origin's
// chunks on to it (nil without a relay: nothing is checked).
func (s *Server) unreachableFrom(ip string) func(identity.ID, string) bool {
	if s.o.Relay == nil {
		return nil
	}
	return func(dev identity.ID, publicIP string) bool {
		if publicIP == ip {
			return false
		}
		reach, _ := s.reachOf(dev)
		return reach == ReachUnreachable
	}
}

// reachRank orders suppliers: same LAN, then direct (or not checked), then
// relayed, then unreachable. (A hole-punched class would sit between
// direct and relayed.)
func reachRank(s *Supplier) int {
	switch {
	case s.SameLAN:
		return 0
	case s.Reach == ReachRelayed:
		return 3
	case s.Reach == ReachUnreachable:
		return 4
	}
	return 1
}

// addReach fills in each answered supplier's reach and relay and moves
// relayed and unreachable ones after the others, keeping the ranking's
// order within each class. Only a directory with a relay checks reach.
func (s *Server) addReach(out []Supplier) {
	if s.o.Relay == nil {
		return
	}
	for i := range out {
		if out[i].Origin {
			continue
		}
		out[i].Reach, out[i].Relay = s.reachOf(out[i].Device)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Origin != out[b].Origin {
			return out[b].Origin
		}
		return reachRank(&out[a]) < reachRank(&out[b])
	})
}

// handleTicket issues a relay ticket to an asker allowed to look up the
// supplier: online, and holding something whose copy restriction lets
// the asker copy it. Everything else is one 404, so the answer says
// nothing more than a supplier lookup would.
func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.o.Relay == nil {
		return newError(http.StatusNotFound, CodeNotFound, "this directory offers no relay")
	}
	var tr TicketRequest
	if err := decodeStrict(rq.body, &tr); err != nil {
		return err
	}
	if !tr.Supplier.Valid() {
		return fieldErrorf("supplier", "not a device id")
	}
	ix, err := s.online(r.Context())
	if err != nil {
		return err
	}
	if tr.Supplier == rq.device.ID || !ix.allowsAny(tr.Supplier, rq.device, s.now()) {
		return newError(http.StatusNotFound, CodeNotFound, "no supplier %s for this device", tr.Supplier.Short())
	}
	exp := s.now().Add(relay.DefaultTicketTTL)
	tk, err := relay.SignTicket(s.id, relay.Ticket{Asker: rq.device.ID, Supplier: tr.Supplier, Expires: exp})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TicketAnswer{Ticket: tk, Relay: s.o.Relay.Addr, Expires: exp})
	return nil
}

// allowsAny reports whether device sup is online and one of its holdings
// may be copied by asker.
func (ix *onlineIndex) allowsAny(sup identity.ID, asker *Device, now time.Time) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	d := ix.devs[sup]
	if d == nil || d.expires <= now.UnixMilli() {
		return false
	}
	for _, h := range d.held {
		if b := ix.buckets[h.bucket]; int(h.pos) < len(b.holders) {
			if sl := &b.holders[h.pos]; sl.dev == d.ref && ix.pols[sl.policy].p.Allows(d.account, asker.ID, asker.Account) {
				return true
			}
		}
	}
	return false
}

var errNoRelay = errors.New("the directory offers no relay")

// RelayTicket asks the directory for a ticket to reach supplier through
// its relay.
func (c *Client) RelayTicket(ctx context.Context, supplier identity.ID) (*TicketAnswer, error) {
	var out TicketAnswer
	if err := c.do(ctx, http.MethodPost, "/v1/relay/ticket", TicketRequest{Supplier: supplier}, asDevice, &out); err != nil {
		return nil, err
	}
	if len(out.Ticket) == 0 || out.Relay == "" {
		return nil, errNoRelay
	}
	return &out, nil
}

// AnnounceStatus is Announce returning the directory's answer: whether it
// could reach the device directly and which relay it offers.
func (c *Client) AnnounceStatus(ctx context.Context, a Announcement) (*AnnounceAnswer, error) {
	var out AnnounceAnswer
	if err := c.announce(ctx, "/v1/announce", a, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
