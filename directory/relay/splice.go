package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// A session's bytes: splice runs both directions, pipe moves one under the
// caps (the kernel's splice(2) between two TCP connections on Linux,
// splice_linux.go; a buffer otherwise).

// splice copies both ways under the caps until both directions end.
func (s *Server) splice(ctx context.Context, supplier identity.ID, a, b net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.pipe(ctx, cancel, supplier, b, a) }()
	go func() { defer wg.Done(); s.pipe(ctx, cancel, supplier, a, b) }()
	stop := context.AfterFunc(ctx, func() { a.Close(); b.Close() })
	wg.Wait()
	stop()
}

// pipe moves src to dst, charging the supplier's budget and rate and the
// relay's total rate for each step before its bytes go out (so the
// counters never lag what the far end has received). EOF half-closes
// dst; any other end cancels both ways. Between two TCP connections on
// Linux the kernel moves the bytes (splice_linux.go); otherwise they are
// copied through a buffer.
func (s *Server) pipe(ctx context.Context, cancel func(), supplier identity.ID, dst, src net.Conn) {
	s.mu.Lock()
	u := s.usage[supplier]
	s.mu.Unlock()
	// room is what is left of the supplier's budget (as of its last
	// charge); a step takes no more, so the budget is spent exactly.
	room := func() int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.windowLocked(u)
		return s.o.BytesPerDevice - u.bytes
	}
	take := func(n int) bool {
		s.mu.Lock()
		s.windowLocked(u)
		u.bytes += int64(n)
		over := u.bytes > s.o.BytesPerDevice
		s.mu.Unlock()
		if over {
			s.m.refused("bytes")
			return false
		}
		if u.rate.wait(ctx, n) != nil || s.total.wait(ctx, n) != nil {
			return false
		}
		s.m.bytes.Add(int64(n))
		return true
	}
	// Bytes the relay's reader took in behind the first message go first.
	if b := leftover(src); len(b) > 0 {
		if !take(len(b)) {
			cancel()
			return
		}
		if _, err := dst.Write(b); err != nil {
			cancel()
			return
		}
	}
	sp := newSplicer(underlying(dst), underlying(src))
	if sp == nil {
		sp = &copier{dst: dst, src: src, buf: make([]byte, 64<<10)}
	}
	defer sp.close()
	// A step is at most one burst of the rate caps, so a capped session
	// moves in steps the caps smooth, not in a few big bursts.
	step := min(u.rate.size(), s.total.size())
	// The idle deadline is moved on at most every sixteenth of the
	// timeout, not every step (setting it costs a runtime timer update,
	// a few per cent of a bulk session's CPU), so a session is closed
	// after between 15/16 and all of IdleTimeout of silence.
	var set time.Time
	for {
		if now := time.Now(); now.Sub(set) >= s.o.IdleTimeout/16 {
			src.SetReadDeadline(now.Add(s.o.IdleTimeout))
			set = now
		}
		// With the budget spent, a step takes one byte, and charging it
		// cuts the session (a direction that carries nothing is not cut).
		n, err := sp.fill(int(max(1, min(room(), step))))
		if n > 0 {
			if !take(n) || sp.drain(n) != nil {
				cancel()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := underlying(dst).(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
				return
			}
			cancel()
			return
		}
		if err != nil {
			cancel()
			return
		}
	}
}

// splicer moves one direction of a session in steps: fill takes what the
// source has (up to its own bound and limit bytes) and drain sends those
// n bytes on.
type splicer interface {
	fill(limit int) (int, error)
	drain(n int) error
	close()
}

// copier is the splicer through user memory.
type copier struct {
	dst, src net.Conn
	buf      []byte
}

func (c *copier) fill(limit int) (int, error) { return c.src.Read(c.buf[:min(limit, len(c.buf))]) }
func (c *copier) drain(n int) error {
	_, err := c.dst.Write(c.buf[:n])
	return err
}
func (c *copier) close() {}

// leftover takes the bytes a connection's reader holds beyond what the
// relay parsed (an asker may send its TLS hello without waiting).
func leftover(c net.Conn) []byte {
	for {
		switch v := c.(type) {
		case *bufConn:
			n := v.r.Buffered()
			if n == 0 {
				return nil
			}
			b, _ := v.r.Peek(n)
			b = bytes.Clone(b)
			v.r.Discard(n)
			return b
		case *joinedConn:
			c = v.Conn
		default:
			return nil
		}
	}
}

// underlying unwraps the relay's connection wrappers down to the TCP conn.
func underlying(c net.Conn) net.Conn {
	for {
		switch v := c.(type) {
		case *bufConn:
			c = v.Conn
		case *joinedConn:
			c = v.Conn
		default:
			return c
		}
	}
}
