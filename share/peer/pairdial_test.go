package peer

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdingListener holds each connection it accepts until release is
// closed: a dial to it stays in its handshake, waiting for the server's
// answer.
type holdingListener struct {
	*countingListener
	accepted chan struct{} // a connection is being held
	release  chan struct{}
}

func (l *holdingListener) Accept() (net.Conn, error) {
	c, err := l.countingListener.Accept()
	if err == nil {
		select {
		case l.accepted <- struct{}{}:
		default:
		}
		<-l.release
	}
	return c, err
}

// TestSimultaneousOpen: A dials B, whose server has not answered yet (its
// listener holds the connection: A's handshake waits for B's answer), and
// B dials A meanwhile. A's dial gives way to B's connection as it arrives,
// and A's request goes over it: the pair has one connection, one
// handshake, and B serves A's request as A's (its upload counted to A).
func TestSimultaneousOpen(t *testing.T) {
	ctx := context.Background()
	cb := makeContent(t, 100_000, 16<<10, 36)
	a := startBothEnd(t, newIdent(t), newLib(t), everyoneEnrolled{})
	hold := &holdingListener{countingListener: countingLoopback(t), accepted: make(chan struct{}, 1), release: make(chan struct{})}
	b := startBothEndOn(t, newIdent(t), holder(t, cb), everyoneEnrolled{}, hold.countingListener, hold)
	var once sync.Once
	release := func() { once.Do(func() { close(hold.release) }) }
	t.Cleanup(release) // before the servers stop (cleanups run last first)
	ab, ba := a.clientOf(t, b), b.clientOf(t, a)

	got := make(chan error, 1)
	go func() {
		_, err := ab.Chunk(ctx, cb.m, 0, nil)
		got <- err
	}()
	<-hold.accepted // A's dial is in its handshake with B
	if _, err := ba.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("A's request after its dial gave way: %v", err)
		}
	case <-time.After(20 * time.Second):
		release()
		t.Fatalf("A's request waited for its own dial (%v) after B's connection came", <-got)
	}
	release()
	if ab.Handshakes() != 0 || ab.Yields() != 1 || ba.Handshakes() != 1 {
		t.Errorf("A: %d handshakes, %d dials given way; B: %d handshakes; want 0, 1, 1", ab.Handshakes(), ab.Yields(), ba.Handshakes())
	}
	if n := b.uploads(a.id.ID()); n != 1 {
		t.Errorf("B counted %d uploads to A, want 1", n)
	}
	// Later requests go over B's connection too.
	if _, err := ab.Chunk(ctx, cb.m, 1, nil); err != nil {
		t.Fatal(err)
	}
	if ab.Handshakes() != 0 || a.ln.n.Load() != 1 {
		t.Errorf("A dialled again (%d handshakes; A's server accepted %d)", ab.Handshakes(), a.ln.n.Load())
	}
}

// TestSimultaneousOpenNeverBoth: two devices dialling each other at the
// same moment, many times over: every request of both is answered (never
// do both dials give way, leaving the pair without a connection), and a
// pair opens at most two connections.
func TestSimultaneousOpenNeverBoth(t *testing.T) {
	ctx := context.Background()
	ca := makeContent(t, 50_000, 16<<10, 37)
	cb := makeContent(t, 50_000, 16<<10, 38)
	yields := int64(0)
	for round := range 12 {
		a := startBothEnd(t, newIdent(t), holder(t, ca), everyoneEnrolled{})
		b := startBothEnd(t, newIdent(t), holder(t, cb), everyoneEnrolled{})
		ab, ba := a.clientOf(t, b), b.clientOf(t, a)
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() {
			<-start
			_, err := ab.Chunk(ctx, cb.m, 0, nil)
			errs <- err
		}()
		go func() {
			<-start
			_, err := ba.Chunk(ctx, ca.m, 0, nil)
			errs <- err
		}()
		close(start)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if n := ab.Handshakes() + ba.Handshakes(); n < 1 || n > 2 {
			t.Errorf("round %d: %d handshakes", round, n)
		}
		if ab.Yields() > 0 && ba.Yields() > 0 {
			t.Errorf("round %d: both dials gave way", round)
		}
		yields += ab.Yields() + ba.Yields()
	}
	t.Logf("dials given way in 12 rounds: %d", yields)
}

// finishGate holds, while armed, a server connection's reads after the
// server first wrote (in a TLS 1.3 handshake: the client's Finished), so
// the client's handshake completes while the server has not yet listed
// its connection.
type finishGate struct {
	*countingListener
	armed   atomic.Bool
	release chan struct{}
}

func (l *finishGate) Accept() (net.Conn, error) {
	c, err := l.countingListener.Accept()
	if err != nil || !l.armed.Load() {
		return c, err
	}
	return &gatedConn{Conn: c, release: l.release}, nil
}

type gatedConn struct {
	net.Conn
	release chan struct{}
	wrote   atomic.Bool
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.wrote.Store(true)
	return c.Conn.Write(p)
}

func (c *gatedConn) Read(p []byte) (int, error) {
	if c.wrote.Load() {
		<-c.release
	}
	return c.Conn.Read(p)
}

// TestSimultaneousOpenResumedCommits: a dial that resumes a TLS session
// sends no certificate, so it must commit before its Finished some other
// way. A resumes its session with B and completes its handshake; before
// A's dial ends its watch, B's own connection to A arrives (B's server
// had not yet read A's Finished, so B did not give way). A's dial, whose
// handshake completed, must not give way now: were both resumed, both
// could give way, each to a connection the other is closing.
func TestSimultaneousOpenResumedCommits(t *testing.T) {
	ctx := context.Background()
	cb := makeContent(t, 50_000, 16<<10, 39)
	a := startBothEnd(t, newIdent(t), newLib(t), everyoneEnrolled{})
	gate := &finishGate{countingListener: countingLoopback(t), release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(gate.release) }) }
	t.Cleanup(release)
	b := startBothEndOn(t, newIdent(t), holder(t, cb), everyoneEnrolled{}, gate.countingListener, gate)
	ab, ba := a.clientOf(t, b), b.clientOf(t, a)

	// A's first connection to B: a full handshake, a session ticket kept.
	if _, err := ab.Chunk(ctx, cb.m, 0, nil); err != nil {
		t.Fatal(err)
	}
	ab.Close()
	deadline := time.Now().Add(20 * time.Second)
	for len(b.srv.wiresFrom(a.id.ID())) > 0 || len(a.srv.wiresFrom(b.id.ID())) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("A's first connection still listed 20 s after A closed it")
		}
		time.Sleep(10 * time.Millisecond)
	}

	resumed := make(chan bool, 1)
	testHookDialHandshakeDone = func(c *Client, cs tls.ConnectionState, pd *pairDial) {
		if c != ab {
			return // B's own dial to A, below
		}
		resumed <- cs.DidResume
		// B dials A meanwhile; its server has not read A's Finished, so
		// B's dial completes and A's server lists it.
		if _, err := ba.Hello(ctx); err != nil {
			t.Errorf("B's dial to A: %v", err)
		}
		// Give A's watch every chance to act on B's connection.
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			pd.mu.Lock()
			settled := pd.gaveWay || pd.committed
			pd.mu.Unlock()
			if settled {
				break
			}
		}
		release()
	}
	t.Cleanup(func() { testHookDialHandshakeDone = nil })
	gate.armed.Store(true)
	if _, err := ab.Chunk(ctx, cb.m, 1, nil); err != nil {
		t.Fatal(err)
	}
	testHookDialHandshakeDone = nil
	if !<-resumed {
		t.Fatal("A's second dial did not resume its session: the test does not test what it says")
	}
	if ab.Yields() != 0 || ab.Handshakes() != 2 {
		t.Errorf("A's resumed dial completed its handshake, then gave way to B's connection (%d dials given way, %d handshakes; want 0, 2)", ab.Yields(), ab.Handshakes())
	}
}
