package peer

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
)

// Simultaneous open: two devices that pick each other at about the same
// moment (both find the other in the same resupply round, say) both dial,
// and until one handshake completes neither sees the other's connection
// (Server.wiresFrom). A pair used to keep both: two mutual handshakes
// where one connection carries both ways (WireProto2). Now a dial that
// offers WireProto2 gives way when the peer's WireProto2 connection to our
// server arrives before our handshake is committed (pairDial): we close
// ours at once (saving the rest of its handshake at both ends: the key
// exchange's second half, our certificate's signature and the peer's
// check of it) and send our requests over the peer's connection.
//
// At most one of the two dials gives way. Ours is committed when we are
// about to send our certificate (GetClientCertificate, the client's last
// step before its Finished), or, in a resumed handshake, which sends no
// certificate, when the session is checked (VerifyConnection, also before
// our Finished); the peer's connection reaches our server's
// list only after our server read the peer's Finished, i.e. after the
// peer committed its own dial. So a dial that gives way always has the
// peer's completed connection to go to, and the peer's dial, being
// committed, never gives way to ours.

// errPeerDialled: the dial gave way to the peer's connection to our
// server; the request goes over that one (roundTrip).
var errPeerDialled = errors.New("peer: the peer connected to us first")

// pairDial is one dial's state: given way, or committed.
type pairDial struct {
	mu        sync.Mutex
	raw       net.Conn
	committed bool // our certificate is about to go: the dial will complete
	gaveWay   bool // the peer's connection came first: raw closed
	stop      chan struct{}
}

// giveWay closes the dial's connection unless it is committed; it reports
// whether the dial gave way.
func (pd *pairDial) giveWay() bool {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if !pd.committed && !pd.gaveWay {
		pd.gaveWay = true
		pd.raw.Close()
	}
	return pd.gaveWay
}

// commit makes the dial complete whatever arrives; false if it gave way.
func (pd *pairDial) commit() bool {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	if !pd.gaveWay {
		pd.committed = true
	}
	return !pd.gaveWay
}

// done ends the watch of the dial's handshake and reports whether it gave
// way (for a nil pd, a dial not watched: false).
func (pd *pairDial) done() bool {
	if pd == nil {
		return false
	}
	close(pd.stop)
	pd.mu.Lock()
	defer pd.mu.Unlock()
	pd.committed = !pd.gaveWay
	return pd.gaveWay
}

// peerDialled reports whether the peer has a usable WireProto2
// connection to our server.
func (c *Client) peerDialled() bool { return c.srv.Connected(c.peer) }

// watchPeer watches for the peer's connection during our handshake on raw
// (until done), giving way if it comes first.
func (c *Client) watchPeer(raw net.Conn) *pairDial {
	pd := &pairDial{raw: raw, stop: make(chan struct{})}
	go func() {
		for {
			added := c.srv.wireAdded()
			if c.peerDialled() {
				pd.giveWay()
				return
			}
			select {
			case <-added:
			case <-pd.stop:
				return
			}
		}
	}()
	return pd
}

// testHookDialHandshakeDone, if set (tests only), runs in a watched dial
// of client c after its handshake returned, before the dial's watch ends.
var testHookDialHandshakeDone func(c *Client, cs tls.ConnectionState, pd *pairDial)

// yieldingConfig is cfg for one watched dial pd, which commits (see
// commitDial) as its certificate is asked for (GetClientCertificate), or,
// in a resumed handshake, which is asked for none, as its session is
// checked (VerifyConnection, which Go also calls when resuming): both
// before its Finished goes out. Without the second, two resumed dials
// could both give way after both handshakes completed (each seeing the
// other's connection before done), wasting both and sending the requests
// to connections being closed.
func (c *Client) yieldingConfig(cfg *tls.Config, pd *pairDial) *tls.Config {
	cfg = cfg.Clone()
	get, verify := cfg.GetClientCertificate, cfg.VerifyConnection
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if err := c.commitDial(pd); err != nil {
			return nil, err
		}
		return get(cri)
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return err
			}
		}
		if cs.DidResume {
			return c.commitDial(pd)
		}
		return nil
	}
	return cfg
}

// commitDial makes dial pd complete whatever arrives, unless the peer's
// connection came first: then it gives way instead (errPeerDialled).
func (c *Client) commitDial(pd *pairDial) error {
	if c.peerDialled() {
		pd.giveWay()
	}
	if !pd.commit() {
		return errPeerDialled
	}
	return nil
}

// Yields is how many dials to the peer gave way to the peer's own
// connection to our server (simultaneous open), which then carried the
// requests both ways.
func (c *Client) Yields() int64 { return c.yields.Load() }
