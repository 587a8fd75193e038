package share

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
)

// ServiceRelay names the relay presence among a node's services: the
// control connection a supplier the directory cannot reach keeps to the
// directory's relay, so askers elsewhere reach it through the relay.
const ServiceRelay = "relay"

// relayPresence keeps this node's relay listener in step with what the
// directory says: started when it finds us unreachable and offers a
// relay, stopped when it reaches us directly.
type relayPresence struct {
	mu     sync.Mutex
	want   *directory.RelayInfo // latest wish from an announcement answer
	cur    *directory.RelayInfo
	ln     *relay.Listener
	poke   chan struct{}
	closed bool
}

// relayWanted records the relay the directory's latest answer asks for
// (nil: none) and wakes the relay loop when it changes.
func (n *Node) relayWanted(ans *directory.AnnounceAnswer) {
	var want *directory.RelayInfo
	switch {
	case ans.Reachable == nil:
		return // the directory did not check: keep what we have
	case !*ans.Reachable && ans.Relay != nil:
		want = ans.Relay
	}
	rp := &n.relay
	rp.mu.Lock()
	changed := !sameRelay(rp.want, want)
	rp.want = want
	rp.mu.Unlock()
	if changed {
		select {
		case rp.poke <- struct{}{}:
		default:
		}
	}
}

func sameRelay(a, b *directory.RelayInfo) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// relayAnnounced is the relay address to announce: ours once the control
// connection is up, "" otherwise.
func (n *Node) relayAnnounced() string {
	rp := &n.relay
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.ln != nil && rp.ln.Connected() {
		return rp.cur.Addr
	}
	return ""
}

// serveRelay runs the relay listener the directory asks for (and the peer
// server over it) until ctx ends, switching when the wish changes.
func (n *Node) serveRelay(ctx context.Context) error {
	rp := &n.relay
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-rp.poke:
		}
		rp.mu.Lock()
		want := rp.want
		same := sameRelay(want, rp.cur)
		rp.mu.Unlock()
		if same {
			continue
		}
		if stop != nil {
			stop()
			stop = nil
		}
		rp.mu.Lock()
		rp.cur, rp.ln = want, nil
		rp.mu.Unlock()
		if want == nil {
			n.log.Info("node: reachable directly; leaving the relay")
			n.announceSoon()
			continue
		}
		ln, err := relay.NewListener(relay.ListenerOptions{Identity: n.id, Addr: want.Addr, RelayID: want.ID, Logger: n.log,
			OnConnected: func(up bool) {
				n.announceSoon() // the directory learns our relay (or that we lost it)
				n.reportRelay(up, want.Addr)
			}})
		if err != nil {
			n.log.Warn("node: relay offered by the directory", "err", err)
			continue
		}
		n.log.Info("node: not reachable directly; serving through the relay", "relay", want.Addr)
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); ln.Serve(rctx) }()
		go func() {
			defer wg.Done()
			if err := n.srv.Serve(rctx, ln); err != nil {
				n.log.Warn("node: serving through the relay", "err", err)
			}
		}()
		rp.mu.Lock()
		rp.ln = ln
		rp.mu.Unlock()
		stop = func() { cancel(); ln.Close(); wg.Wait() }
	}
}

// reportRelay tells OnService how the relay presence stands.
func (n *Node) reportRelay(up bool, addr string) {
	st := ServiceStatus{Name: ServiceRelay}
	if !up {
		st.Err = fmt.Errorf("no control connection to relay %s", addr)
	}
	n.mu.Lock()
	n.services[ServiceRelay] = st
	n.mu.Unlock()
	if n.o.OnService != nil {
		n.o.OnService(st)
	}
}

// punchRetry is how long after a failed hole punch to a device the next
// connections go straight to the relay's splice.
const punchRetry = 10 * time.Minute

// punchedKeep is how long a hole-punched connection waits for the
// client's next dial before it is closed unused.
const punchedKeep = 30 * time.Second

// relayPath is how this node reaches one device behind NAT: the relay's
// ticket, and whether hole punching works to it.
type relayPath struct {
	mu          sync.Mutex
	tk          *directory.TicketAnswer
	punched     bool      // a punch to the device worked: connections punch first
	punchFailed time.Time // the last punch that failed
	punching    bool      // a punch runs in the background
	ready       net.Conn  // a punched connection no dial has taken yet
	client      *peer.Client
}

// punchedConn is a direct connection the relay only coordinated: the peer
// client neither blames the relay for it nor retires it (peer.Client.RetireRelayed).
type punchedConn struct{ net.Conn }

func (punchedConn) Direct() bool { return true }

// relayDialer reaches device id through the directory's relay, with a
// ticket (cached until shortly before it expires). The first connection
// is the relay's splice, at once, so the transfer starts without waiting
// for a punch; meanwhile the relay coordinates a hole punch in the
// background. When it opens a direct connection (behind NATs that keep a
// local port's public port, as Linux masquerade does), the client retires
// its spliced connections once their current request ends
// (peer.Client.RetireRelayed) and its next dial takes the punched
// connection, so the transfer moves off the relay mid-way; later
// connections to the device punch first. Behind a symmetric NAT the punch
// fails and the splice carries everything (no punch again for
// punchRetry). A node that is not serving (no background) punches before
// it splices, as a connection of its own.
func (n *Node) relayDialer(id identity.ID) (func(context.Context) (net.Conn, error), *relayPath) {
	p := &relayPath{}
	return func(ctx context.Context) (net.Conn, error) {
		t, err := n.relayTicket(ctx, id, p)
		if err != nil {
			return nil, err
		}
		if n.o.NoHolePunch {
			return relay.Dial(ctx, t.Relay, t.Ticket)
		}
		p.mu.Lock()
		if c := p.ready; c != nil {
			p.ready = nil
			p.mu.Unlock()
			return punchedConn{c}, nil
		}
		mayPunch := time.Since(p.punchFailed) > punchRetry
		punchNow, punchLater := mayPunch && p.punched, false
		sctx, serr := n.serving()
		if mayPunch && !p.punched {
			if serr != nil {
				punchNow = true
			} else if !p.punching {
				p.punching, punchLater = true, true
			}
		}
		p.mu.Unlock()
		if punchLater {
			n.downloads.Add(1)
			go func() {
				defer n.downloads.Done()
				n.punchInBackground(sctx, id, t, p)
			}()
		}
		if punchNow {
			c, err := relay.DialPunch(ctx, t.Relay, t.Ticket)
			if err == nil {
				n.log.Debug("node: hole punched", "peer", id.Short(), "addr", c.RemoteAddr())
				return punchedConn{c}, nil
			}
			var re *relay.RefusedError
			if errors.As(err, &re) || ctx.Err() != nil {
				return nil, err
			}
			n.log.Info("node: hole punch failed; using the relay", "peer", id.Short(), "err", err)
			p.mu.Lock()
			p.punched, p.punchFailed = false, time.Now()
			p.mu.Unlock()
		}
		return relay.Dial(ctx, t.Relay, t.Ticket)
	}, p
}

// relayTicket returns the cached ticket to reach id, or a new one.
func (n *Node) relayTicket(ctx context.Context, id identity.ID, p *relayPath) (*directory.TicketAnswer, error) {
	p.mu.Lock()
	t := p.tk
	p.mu.Unlock()
	if t != nil && time.Until(t.Expires) >= 30*time.Second {
		return t, nil
	}
	t, err := n.dirClient().RelayTicket(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("relay ticket for %s: %w", id.Short(), err)
	}
	p.mu.Lock()
	p.tk = t
	p.mu.Unlock()
	return t, nil
}

// punchInBackground tries a hole punch to id while the first connection
// goes through the splice; when it works, the punched connection waits
// for the client's next dial and the client's spliced connections retire.
func (n *Node) punchInBackground(ctx context.Context, id identity.ID, t *directory.TicketAnswer, p *relayPath) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := relay.DialPunch(ctx, t.Relay, t.Ticket)
	p.mu.Lock()
	p.punching = false
	if err != nil {
		p.punchFailed = time.Now()
		p.mu.Unlock()
		n.log.Info("node: hole punch failed; staying on the relay", "peer", id.Short(), "err", err)
		return
	}
	p.punched = true
	old := p.ready
	p.ready = c
	cl := p.client
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	n.log.Info("node: hole punched; moving off the relay", "peer", id.Short(), "addr", c.RemoteAddr())
	time.AfterFunc(punchedKeep, func() {
		p.mu.Lock()
		unused := p.ready == c
		if unused {
			p.ready = nil
		}
		p.mu.Unlock()
		if unused {
			c.Close()
		}
	})
	if cl != nil {
		cl.RetireRelayed()
	}
}

// peerClient builds a client for a neighbour: its addresses, and the
// directory's relay when the directory named one for it.
func (n *Node) peerClient(nb Neighbour) (*peer.Client, error) {
	// Our server answers the peer over the connection we dial, and our
	// requests go over one the peer dialled, if it did: one per pair.
	o := peer.ClientOptions{Logger: n.log, Server: n.srv}
	var p *relayPath
	if nb.Relay != "" && n.dirClient() != nil {
		o.Relay, p = n.relayDialer(nb.ID)
		o.PreferRelay = true
	}
	c, err := peer.NewClient(n.id, nb.ID, nb.Addrs, o)
	if err == nil && p != nil {
		p.mu.Lock()
		p.client = c
		p.mu.Unlock()
	}
	return c, err
}
