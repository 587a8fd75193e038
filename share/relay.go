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

// relayDialer reaches device id through the directory's relay, with a
// ticket (cached until shortly before it expires): first by a hole punch
// the relay coordinates (a direct connection; the relay carries none of
// its bytes), and when that fails, as it does behind a symmetric NAT,
// through the relay's splice for punchRetry.
func (n *Node) relayDialer(id identity.ID) func(context.Context) (net.Conn, error) {
	var mu sync.Mutex
	var tk *directory.TicketAnswer
	var punchFailed time.Time
	return func(ctx context.Context) (net.Conn, error) {
		mu.Lock()
		t := tk
		mu.Unlock()
		if t == nil || time.Until(t.Expires) < 30*time.Second {
			var err error
			if t, err = n.dirClient().RelayTicket(ctx, id); err != nil {
				return nil, fmt.Errorf("relay ticket for %s: %w", id.Short(), err)
			}
			mu.Lock()
			tk = t
			mu.Unlock()
		}
		mu.Lock()
		tryPunch := !n.o.NoHolePunch && time.Since(punchFailed) > punchRetry
		mu.Unlock()
		if tryPunch {
			c, err := relay.DialPunch(ctx, t.Relay, t.Ticket)
			if err == nil {
				n.log.Debug("node: hole punched", "peer", id.Short(), "addr", c.RemoteAddr())
				return c, nil
			}
			var re *relay.RefusedError
			if errors.As(err, &re) || ctx.Err() != nil {
				return nil, err
			}
			n.log.Info("node: hole punch failed; using the relay", "peer", id.Short(), "err", err)
			mu.Lock()
			punchFailed = time.Now()
			mu.Unlock()
		}
		return relay.Dial(ctx, t.Relay, t.Ticket)
	}
}

// peerClient builds a client for a neighbour: its addresses, and the
// directory's relay when the directory named one for it.
func (n *Node) peerClient(nb Neighbour) (*peer.Client, error) {
	o := peer.ClientOptions{Logger: n.log}
	if nb.Relay != "" && n.dirClient() != nil {
		o.Relay, o.PreferRelay = n.relayDialer(nb.ID), true
	}
	return peer.NewClient(n.id, nb.ID, nb.Addrs, o)
}
