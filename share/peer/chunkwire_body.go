package peer

// An answer's body on the client's side of the chunk wire
// (chunkwire_client.go): read by its caller straight from the connection,
// which waits for it to be read or closed before it reads the next frame.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// wireBody is an answer's body, read straight from the connection. Its
// request's context ending while it is read (a fetcher's timeout, a
// steal's cancel) ends its reads at once, as over HTTP/2: each Read checks
// the context first, and interrupt cuts a read already waiting; a peer that
// stalls mid-chunk would otherwise hold the caller, and every answer
// behind it on the connection, until the read deadline (30 s or 90 s).
type wireBody struct {
	wc     *wireConn
	ctx    context.Context // the request's
	stop   func() bool     // stops interrupt
	mu     sync.Mutex
	n      int64 // bytes left
	done   chan error
	ended  bool // done was sent
	over   bool // under wc.mu: ended, interrupt must not cut the reads
	closed bool
	err    error
}

// bodyLeft is what a body left unread when its caller gave up on it or
// closed it: the read loop skips the bytes.
type bodyLeft int64

func (bodyLeft) Error() string { return "body left unread" }

// interrupt cuts the body's reads short (its request's context ended): the
// connection's read deadline goes to the past until the body has ended.
func (b *wireBody) interrupt() {
	wc := b.wc
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if !b.over {
		wc.cut = true
		wc.tc.SetReadDeadline(time.Unix(1, 0))
	}
}

// end hands the connection back to the read loop (b.mu held): err nil for
// a body read to its end, a bodyLeft for one left unread, else the error
// that broke the connection.
func (b *wireBody) end(err error) {
	if b.ended {
		return
	}
	b.ended = true
	b.stop()
	wc := b.wc
	wc.mu.Lock()
	b.over = true
	if wc.cut {
		wc.cut = false
		wc.tc.SetReadDeadline(wc.deadline)
	}
	wc.mu.Unlock()
	b.done <- err
}

func (b *wireBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return 0, errors.New("chunk wire: read on a closed body")
	case b.err != nil:
		return 0, b.err
	case b.n == 0:
		return 0, io.EOF
	case b.ctx.Err() != nil:
		// Its caller gave up (a timeout, a steal's cancel): not one more
		// byte, though the connection's buffer may hold some that
		// interrupt's deadline would not stop. A body read on after its
		// cancel is a chunk hashed and written for nothing, as its
		// other source's copy is. The read loop skips the rest.
		b.err = fmt.Errorf("chunk wire from %s: %w", b.wc.peerName(), context.Cause(b.ctx))
		b.end(bodyLeft(b.n))
		return 0, b.err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	k, err := b.wc.br.Read(p)
	b.n -= int64(k)
	if err != nil && b.ctx.Err() != nil {
		// Cut by interrupt (or broken as the caller gave up): the
		// caller's error; the read loop skips the rest.
		b.err = fmt.Errorf("chunk wire from %s: %w", b.wc.peerName(), context.Cause(b.ctx))
		b.end(bodyLeft(b.n))
		return k, b.err
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = fmt.Errorf("chunk wire from %s: %w", b.wc.peerName(), err)
		b.end(b.err)
		return k, b.err
	}
	if b.n == 0 {
		b.end(nil)
	}
	return k, nil
}

// Close leaves what is left of the body to the read loop, which skips it
// and reads on; it does not wait for it.
func (b *wireBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.ended {
		return nil
	}
	b.end(bodyLeft(b.n))
	b.n = 0
	return nil
}
