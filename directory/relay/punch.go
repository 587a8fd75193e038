package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Hole punching: TCP simultaneous open, coordinated by the relay. The
// asker sends ConnectPunch (a ticket) and the supplier is invited with
// InvitePunch; the supplier joins as for a splice, and the relay then
// sends each data connection a Punch message, the other side's address
// as the relay saw it, and closes both. Each side then dials that address
// from the local port its relay connection used (SO_REUSEPORT), for up to
// punchWindow: behind NATs that keep one public port per local port
// ("endpoint-independent", as Linux masquerade does when it can), each
// router has let its own side's attempt out before the other's arrives,
// so the crossing SYNs meet and one TCP connection opens between the two
// (the asker is its TLS client). Behind a NAT that picks a new port per
// connection (symmetric), the addresses are wrong and the attempts fail:
// the asker then asks for a splice as before.

const (
	punchDelay  = 200 * time.Millisecond // both sides wait this long after the Punch message
	punchWindow = 3 * time.Second        // how long they keep trying
)

// ErrPunchFailed is returned by DialPunch when no direct connection opened.
var ErrPunchFailed = errors.New("hole punch failed")

// punchVia opens a data connection to the relay from a reusable local
// port, sends typ with body, waits for the Punch message, and dials the
// address it names from that same local port.
//
// The local port is bound before connecting (a wildcard address, port
// chosen at bind) and the relay connection stays open until the punch
// ends, so no other connection of this host takes the port meanwhile.
func punchVia(ctx context.Context, relayAddr string, typ byte, body []byte) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, Control: reuse, LocalAddr: &net.TCPAddr{}}
	c, err := d.DialContext(ctx, "tcp", relayAddr)
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", relayAddr, err)
	}
	defer c.Close()
	local := &net.TCPAddr{Port: c.LocalAddr().(*net.TCPAddr).Port}
	wait, peer, err := punchPreamble(ctx, c, typ, body)
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", relayAddr, err)
	}
	return simultaneousOpen(ctx, local, peer, wait)
}

// punchPreamble is preamble for a punch: the answer is a Punch message
// (or a Result refusing).
func punchPreamble(ctx context.Context, c net.Conn, typ byte, body []byte) (time.Duration, netip.AddrPort, error) {
	dl := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	msg := append([]byte(magic), byte(typ), byte(len(body)>>8), byte(len(body)))
	if len(body) > maxBody {
		return 0, netip.AddrPort{}, fmt.Errorf("%w: body of %d bytes", errFrame, len(body))
	}
	if _, err := c.Write(append(msg, body...)); err != nil {
		return 0, netip.AddrPort{}, err
	}
	rt, rb, err := readFrame(c)
	if err != nil {
		return 0, netip.AddrPort{}, fmt.Errorf("reading the relay's answer: %w", err)
	}
	switch rt {
	case msgResult:
		if err := parseResult(rb); err != nil {
			return 0, netip.AddrPort{}, err
		}
		return 0, netip.AddrPort{}, fmt.Errorf("%w: ok instead of a punch", errFrame)
	case msgPunch:
		return parsePunch(rb)
	}
	return 0, netip.AddrPort{}, fmt.Errorf("%w: type %d instead of a punch", errFrame, rt)
}

// simultaneousOpen dials peer from local after wait, again and again
// until one attempt connects or punchWindow has passed.
func simultaneousOpen(ctx context.Context, local *net.TCPAddr, peer netip.AddrPort, wait time.Duration) (net.Conn, error) {
	t := time.NewTimer(wait)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, punchWindow)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		d := net.Dialer{LocalAddr: local, Control: reuse, Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", peer.String())
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	return nil, fmt.Errorf("%w: %s to %s: %w", ErrPunchFailed, local, peer, last)
}

// DialPunch asks the relay at addr to coordinate a direct connection to
// the supplier named in ticket (hole punching) and returns it, or an error
// wrapping ErrPunchFailed when the NATs between did not let it open (the
// caller then uses Dial), or a *RefusedError.
func DialPunch(ctx context.Context, addr string, ticket []byte) (net.Conn, error) {
	return punchVia(ctx, addr, msgConnectPunch, ticket)
}

// punch answers an invitation to punch: join from a reusable port, then
// dial the asker directly and hand the connection to Accept.
func (l *Listener) punch(ctx context.Context, v *invite) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := punchVia(ctx, l.o.Addr, msgJoin, v.key[:])
	if err != nil {
		l.log.Debug("relay: hole punch", "asker", v.asker, "err", err)
		return
	}
	l.deliver(ctx, &Conn{Conn: c, Asker: v.asker, Punched: true, remote: relayAddr(c.RemoteAddr().String())})
}
