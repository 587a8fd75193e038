package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// The fetcher's timing rules on a fake clock (FetchOptions.Clock): each is
// checked at its threshold, and each duration is far longer than a test
// runs, so a rule timed on the wall clock instead would fail these tests
// (nothing would happen before their 5 s waits end).

var clockStart = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// scripted is an in-process source; chunk requests go through do, which
// returns an error to fail the request, or nil to answer it.
type scripted struct {
	*memSource
	clk   *clock.Fake
	asked chan asked
	do    func(ctx context.Context, n, i int) error // n: this source's request count, from 0
	mu    sync.Mutex
	n     int
}

// asked is one chunk request: the chunk, the fake time it was made at,
// and how it ended (sent once the request returns).
type asked struct {
	chunk int
	at    time.Time
}

func newScripted(t *testing.T, clk *clock.Fake, c *content, do func(ctx context.Context, n, i int) error) *scripted {
	return &scripted{memSource: &memSource{id: newIdent(t).ID(), c: c}, clk: clk, asked: make(chan asked, 1000), do: do}
}

func (s *scripted) Chunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	s.mu.Lock()
	n := s.n
	s.n++
	s.mu.Unlock()
	s.asked <- asked{i, s.clk.Now()}
	if s.do != nil {
		if err := s.do(ctx, n, i); err != nil {
			return nil, err
		}
	}
	return s.memSource.Chunk(ctx, i, dst)
}

// stallUntilDone is a request that never answers: it ends when its
// context does, with the context's error.
func stallUntilDone(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// clockedFetch is a fetcher running on a fake clock.
type clockedFetch struct {
	clk    *clock.Fake
	f      *Fetcher
	lib    *library.Library
	chunks chan int
	prog   chan Progress
	done   chan error
}

func startClocked(t *testing.T, c *content, o FetchOptions) *clockedFetch {
	t.Helper()
	r := &clockedFetch{clk: o.Clock.(*clock.Fake), lib: newLib(t), chunks: make(chan int, 10000),
		prog: make(chan Progress, 10000), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	o.Manifest, o.Sink, o.Logger = c.m, r.lib, quiet
	o.ProgressInterval = 100 * time.Millisecond // one Progress per tick: the test's step signal
	o.OnEvent = func(e Event) {
		switch e.Kind {
		case EventChunk:
			r.chunks <- e.Chunk
		case EventProgress:
			r.prog <- e.Progress
		}
	}
	f, err := NewFetcher(o)
	if err != nil {
		t.Fatal(err)
	}
	r.f = f
	go func() { r.done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// step advances the clock by d (≥ the fetcher's 100 ms tick) and returns
// the Progress of the fetcher's first round at the new time: what it
// decided then is in it (requests launched show as InFlight). The fetcher
// emits one Progress per 100 ms of its clock, so a test that moves the
// clock only through step reads each round's Progress once.
func (r *clockedFetch) step(t *testing.T, d time.Duration) Progress {
	t.Helper()
	r.clk.Advance(d)
	select {
	case p := <-r.prog:
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("no fetcher round at %v", r.clk.Now().Sub(clockStart))
		return Progress{}
	}
}

// waitChunks waits for n chunk events.
func (r *clockedFetch) waitChunks(t *testing.T, n int) {
	t.Helper()
	for k := 0; k < n; k++ {
		select {
		case <-r.chunks:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d chunks arrived", k, n)
		}
	}
}

func (r *clockedFetch) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("the download did not end (progress %+v)", r.f.Progress())
		return nil
	}
}

func stats(p Progress, id identity.ID) SourceStats {
	for _, s := range p.Sources {
		if s.ID == id {
			return s
		}
	}
	return SourceStats{}
}

func nextAsk(t *testing.T, s *scripted) asked {
	t.Helper()
	select {
	case a := <-s.asked:
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was not asked", s.id.Short())
		return asked{}
	}
}

func noAsk(t *testing.T, s *scripted, when string) {
	t.Helper()
	select {
	case a := <-s.asked:
		t.Fatalf("%s: %s asked for chunk %d at %v", when, s.id.Short(), a.chunk, a.at.Sub(clockStart))
	case <-time.After(20 * time.Millisecond):
	}
}

// waitState waits (in real time; the fake clock stays) until the fetcher
// reports source id in state st: the request's end was handled.
func (r *clockedFetch) waitState(t *testing.T, id identity.ID, st string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if stats(r.f.Progress(), id).State == st {
			return
		}
	}
	t.Fatalf("source %s never %q: %+v", id.Short(), st, r.f.Progress().Sources)
}

// A chunk stalled at one source is asked of another idle one exactly when
// its request is StealAfter old, not a tick before; the stalled request
// is then cancelled (the race is won), which blames nobody.
func TestFakeClockStallIsStolen(t *testing.T) {
	c := makeContent(t, 8<<10, 1024, 21)
	clk := clock.NewFake(clockStart)
	stalled := newScripted(t, clk, c, func(ctx context.Context, _, _ int) error { return stallUntilDone(ctx) })
	fast := newScripted(t, clk, c, nil)
	const steal = 30 * time.Second
	r := startClocked(t, c, FetchOptions{Sources: []Source{stalled, fast}, PerSource: 1, Clock: clk,
		StealAfter: steal, Timeout: 10 * time.Minute})
	x := nextAsk(t, stalled).chunk
	r.waitChunks(t, c.m.NumChunks()-1) // the fast source did the rest at time 0
	<-r.prog                           // the first round's, at time 0
	for len(fast.asked) > 0 {
		if a := <-fast.asked; a.chunk == x {
			t.Fatalf("chunk %d asked of the fast source at once", x)
		}
	}
	r.step(t, steal-200*time.Millisecond)
	if p := r.step(t, 100*time.Millisecond); stats(p, fast.id).InFlight != 0 || stats(p, stalled.id).InFlight != 1 {
		t.Fatalf("at StealAfter − 100 ms: %+v", p.Sources)
	}
	noAsk(t, fast, "before StealAfter")
	p := r.step(t, 100*time.Millisecond)
	if stats(p, fast.id).InFlight != 1 {
		t.Fatalf("at StealAfter the stalled chunk was not asked elsewhere: %+v", p.Sources)
	}
	if a := nextAsk(t, fast); a.chunk != x || !a.at.Equal(clockStart.Add(steal)) {
		t.Fatalf("stolen: chunk %d at %v, want chunk %d at %v", a.chunk, a.at.Sub(clockStart), x, steal)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, r.lib, c)
	if fl := r.f.Faults(); len(fl) != 0 {
		t.Errorf("a stall that lost the race was blamed: %+v", fl)
	}
}

// A request that gets no answer ends at its timeout (half of Timeout while
// the source's speed is unknown), not a moment before; the source then
// backs off 100 ms (its first failure) before it is asked again.
func TestFakeClockRequestTimeoutAndBackoff(t *testing.T) {
	c := makeContent(t, 4<<10, 1024, 22)
	clk := clock.NewFake(clockStart)
	ended := make(chan error, 1)
	src := newScripted(t, clk, c, func(ctx context.Context, n, _ int) error {
		if n > 0 {
			return nil
		}
		err := stallUntilDone(ctx)
		ended <- err
		return err
	})
	const timeout = 40 * time.Second // unknown speed: requests time out after 20 s
	r := startClocked(t, c, FetchOptions{Sources: []Source{src}, PerSource: 1, Clock: clk, Timeout: timeout})
	first := nextAsk(t, src)
	if !first.at.Equal(clockStart) {
		t.Fatalf("first request at %v", first.at.Sub(clockStart))
	}
	r.clk.Advance(timeout/2 - time.Millisecond)
	select {
	case err := <-ended:
		t.Fatalf("the request ended before its timeout: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	r.clk.Advance(time.Millisecond)
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the request's context ended without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request did not end at its timeout")
	}
	r.waitState(t, src.id, "backoff")
	noAsk(t, src, "during the back-off")
	r.clk.Advance(99 * time.Millisecond)
	noAsk(t, src, "99 ms into a 100 ms back-off")
	r.clk.Advance(time.Millisecond) // the tick at 20.1 s
	if a := nextAsk(t, src); a.chunk != first.chunk || !a.at.Equal(clockStart.Add(timeout/2+100*time.Millisecond)) {
		t.Fatalf("asked again for chunk %d at %v, want chunk %d at %v", a.chunk, a.at.Sub(clockStart), first.chunk, timeout/2+100*time.Millisecond)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, r.lib, c)
}

// A busy source (503 with Retry-After) is left alone for exactly the time
// it named, and it is not counted as failing.
func TestFakeClockBusyRetryAfter(t *testing.T) {
	c := makeContent(t, 4<<10, 1024, 23)
	clk := clock.NewFake(clockStart)
	const wait = 7 * time.Second
	src := newScripted(t, clk, c, func(ctx context.Context, n, _ int) error {
		if n == 0 {
			return &StatusError{Status: http.StatusServiceUnavailable, RetryAfter: wait}
		}
		return nil
	})
	r := startClocked(t, c, FetchOptions{Sources: []Source{src}, PerSource: 1, Clock: clk, MaxFailures: 1})
	nextAsk(t, src)
	r.waitState(t, src.id, "backoff")
	r.clk.Advance(wait - 100*time.Millisecond)
	noAsk(t, src, "before Retry-After")
	if st := stats(r.f.Progress(), src.id).State; st != "backoff" {
		t.Fatalf("100 ms before Retry-After the source is %q", st)
	}
	r.clk.Advance(100 * time.Millisecond)
	if a := nextAsk(t, src); !a.at.Equal(clockStart.Add(wait)) {
		t.Fatalf("asked again at %v, want %v", a.at.Sub(clockStart), wait)
	}
	if err := r.wait(t); err != nil {
		t.Fatalf("%v (a busy answer dropped the source: MaxFailures is 1)", err)
	}
	if fl := r.f.Faults(); len(fl) != 0 {
		t.Errorf("a busy source was blamed: %+v", fl)
	}
}

// stalledHaver is a partial source whose Have polls never answer: each
// ends when its context does, and reports the error it ended with.
type stalledHaver struct {
	*memSource
	clk    *clock.Fake
	polled chan time.Time
	ended  chan error
}

func (s stalledHaver) Have(ctx context.Context) (HaveInfo, error) {
	s.polled <- s.clk.Now()
	<-ctx.Done()
	s.ended <- ctx.Err()
	return HaveInfo{}, ctx.Err()
}

// A Have poll that gets no answer ends at HaveTimeout on the fetcher's
// clock, not before, and counts against the source (it backs off).
func TestFakeClockHaveTimeout(t *testing.T) {
	c := makeContent(t, 4<<10, 1024, 24)
	clk := clock.NewFake(clockStart)
	h := stalledHaver{memSource: &memSource{id: newIdent(t).ID(), c: c, have: library.NewBitmap(c.m.NumChunks())},
		clk: clk, polled: make(chan time.Time, 10), ended: make(chan error, 10)}
	const haveTimeout = 30 * time.Second
	r := startClocked(t, c, FetchOptions{Sources: []Source{h}, Clock: clk, HaveTimeout: haveTimeout})
	select {
	case at := <-h.polled:
		if !at.Equal(clockStart) {
			t.Fatalf("first poll at %v", at.Sub(clockStart))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the partial source was never polled")
	}
	r.clk.Advance(haveTimeout - time.Millisecond)
	select {
	case err := <-h.ended:
		t.Fatalf("the poll ended before HaveTimeout: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	r.clk.Advance(time.Millisecond)
	select {
	case err := <-h.ended:
		if err == nil {
			t.Fatal("the poll's context ended without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the poll did not end at HaveTimeout")
	}
	r.waitState(t, h.id, "backoff")
}

// An address that presented another device's certificate is dialled last
// for wrongAddrMemory (10 min) by the client's clock, then takes its
// place in the list again.
func TestFakeClockWrongAddressMemory(t *testing.T) {
	c := makeContent(t, 8<<10, 1024, 25)
	a, b := newIdent(t), newIdent(t)
	_, good := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
	rogue := hostileServer(t, newIdent(t), c, honest) // another device's certificate
	const unused = "127.0.0.1:1"
	clk := clock.NewFake(clockStart)
	cl, err := NewClient(b, a.ID(), []string{rogue, good, unused}, ClientOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := cl.Chunk(context.Background(), c.m, 0, nil); err != nil {
		t.Fatalf("chunk past a rogue address: %v", err)
	}
	order := func() string { return strings.Join(cl.dialOrder(), " ") }
	last := strings.Join([]string{good, unused, rogue}, " ")
	if got := order(); got != last {
		t.Fatalf("after the rogue answered: dial order %s, want %s", got, last)
	}
	clk.Advance(wrongAddrMemory - time.Millisecond)
	if got := order(); got != last {
		t.Fatalf("1 ms before wrongAddrMemory: dial order %s, want %s", got, last)
	}
	clk.Advance(time.Millisecond)
	if got, want := order(), strings.Join([]string{good, rogue, unused}, " "); got != want {
		t.Fatalf("after wrongAddrMemory: dial order %s, want %s (the address in its place again)", got, want)
	}
}

// A relay whose stream fails the TLS handshake (it may have altered the
// bytes) is tried last for relayBadMemory (1 min) by the client's clock,
// even for a peer the directory said to reach through it first.
func TestFakeClockRelayBadMemory(t *testing.T) {
	c := makeContent(t, 4<<10, 1024, 26)
	a, b := newIdent(t), newIdent(t)
	const unreachable = "127.0.0.1:1"
	garbling := func(ctx context.Context) (net.Conn, error) { // a relay that answers noise
		mine, theirs := net.Pipe() // synchronous: read what the client sends while answering
		go io.Copy(io.Discard, theirs)
		go func() {
			theirs.Write(bytes.Repeat([]byte{0x15, 0x03, 0x03, 0, 2, 2, 40}, 4)) // alert records
			theirs.Close()
		}()
		return mine, nil
	}
	clk := clock.NewFake(clockStart)
	cl, err := NewClient(b, a.ID(), []string{unreachable}, ClientOptions{Relay: garbling, PreferRelay: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	order := func() string { return strings.Join(cl.dialOrder(), " ") }
	first := relayAddr + " " + unreachable
	if got := order(); got != first {
		t.Fatalf("a peer to reach through the relay: dial order %s, want %s", got, first)
	}
	if _, err := cl.Chunk(context.Background(), c.m, 0, nil); !errors.Is(err, ErrRelay) {
		t.Fatalf("chunk through a garbling relay: %v, want ErrRelay", err)
	}
	last := unreachable + " " + relayAddr
	if got := order(); got != last {
		t.Fatalf("after the relay's stream failed its handshake: dial order %s, want %s", got, last)
	}
	clk.Advance(relayBadMemory - time.Millisecond)
	if got := order(); got != last {
		t.Fatalf("1 ms before relayBadMemory: dial order %s, want %s", got, last)
	}
	clk.Advance(time.Millisecond)
	if got := order(); got != first {
		t.Fatalf("after relayBadMemory: dial order %s, want %s (the relay first again)", got, first)
	}
}
