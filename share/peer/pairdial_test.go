package peer

import (
	"context"
	"net"
	"sync"
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
