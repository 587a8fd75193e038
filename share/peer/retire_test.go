package peer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// punched marks a test connection as one the relay only coordinated.
type punched struct{ net.Conn }

func (punched) Direct() bool { return true }

// TestRetireRelayedMovesToDirect: a download that starts through the
// relay's splice moves to a direct connection mid-way when the relay
// dialer starts handing out punched connections and RetireRelayed is
// called with requests in flight: no request fails, the spliced
// connections close, the relay carries no byte after them, and the
// supplier's ledger credits the asker with every byte either way.
func TestRetireRelayedMovesToDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := makeContent(t, 4<<20, 64<<10, 11) // 64 chunks
	b := newIdent(t)
	r := newRelayRig(t, c, fakeAccounts{b.ID(): "bob"})
	// The same supplier server, also answering a direct listener (the
	// "hole" a punch would open).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()

	var direct atomic.Bool
	var directDials atomic.Int32
	viaRelay := r.dialer(t, b)
	dial := func(ctx context.Context) (net.Conn, error) {
		if direct.Load() {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			if err != nil {
				return nil, err
			}
			directDials.Add(1)
			return punched{c}, nil
		}
		return viaRelay(ctx)
	}
	cl, err := NewClient(b, r.sup.ID(), nil, ClientOptions{Relay: dial, PreferRelay: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var total atomic.Int64
	var done atomic.Int32
	fetch := func(from, to int, during func(done int32)) {
		t.Helper()
		next := make(chan int)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 { // four requests at once, like a fetcher
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					ch, err := cl.Chunk(ctx, c.m, i, nil)
					if err == nil && !bytes.Equal(ch, c.chunk(i)) {
						err = fmt.Errorf("chunk %d differs", i)
					}
					if err != nil {
						errs <- err
						return
					}
					total.Add(int64(len(ch)))
					if during != nil {
						during(done.Add(1))
					}
				}
			}()
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("chunk through the move: %v", err)
		}
	}

	fetch(0, 16, nil)
	if !cl.Relayed() || cl.Spliced() == 0 {
		t.Fatalf("relayed %v with %d spliced connections: the first chunks should go through the relay", cl.Relayed(), cl.Spliced())
	}
	if r.relay.Stats().Bytes == 0 {
		t.Fatal("the relay carried nothing")
	}
	// The punch works while chunks 16..47 are being fetched.
	var once sync.Once
	fetch(16, 48, func(n int32) {
		if n >= 20 {
			once.Do(func() {
				direct.Store(true)
				cl.RetireRelayed()
			})
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for cl.Spliced() != 0 || r.relay.Stats().Sessions != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d spliced connections and %d relay sessions left after the move", cl.Spliced(), r.relay.Stats().Sessions)
		}
		time.Sleep(10 * time.Millisecond)
	}
	moved := r.relay.Stats().Bytes
	fetch(48, 64, nil)
	if got := r.relay.Stats().Bytes; got != moved {
		t.Fatalf("the relay carried %d more bytes after the move", got-moved)
	}
	if cl.Relayed() || directDials.Load() == 0 {
		t.Fatalf("relayed %v, %d direct dials: the rest should be direct", cl.Relayed(), directDials.Load())
	}
	var want int64
	for i := range c.m.NumChunks() {
		want += int64(len(c.chunk(i)))
	}
	up := r.ledgerUp(t, b.ID(), want)
	if up != total.Load() || up != want {
		t.Fatalf("the supplier's ledger credits %d bytes up, the asker got %d of %d", up, total.Load(), want)
	}
}
