package peer

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// waitHeld waits (in real time) until srv holds n Have polls.
func waitHeld(t *testing.T, srv *Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		srv.mu.Lock()
		got := srv.heldTotal
		srv.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("the server never held %d polls", n)
}

// TestHaveWaitHeldUntilWanted: a held Have poll is answered when the
// holder gains a chunk the poller wants, not at another chunk; its answer
// is /have's, says the holder would hold the next one, and the poller
// counts as one while it waits; a poll whose wanted chunk is there already
// is answered at once, one that asks for no wait as before.
func TestHaveWaitHeldUntilWanted(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 40_000, 4096, 3)
	n := c.m.NumChunks()
	cid := c.m.ContentID()
	lib := newLib(t)
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	if err := lib.WriteChunk(cid, 0, c.chunk(0)); err != nil {
		t.Fatal(err)
	}
	a, b := newIdent(t), newIdent(t)
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{},
		Downloading: func(sealed.ContentID) bool { return true }})
	cl := client(t, b, a.ID(), addr)

	want := library.NewBitmap(n)
	want.Set(3)
	type answer struct {
		hi  HaveInfo
		err error
	}
	got := make(chan answer, 1)
	go func() {
		hi, err := cl.HaveWait(ctx, cid, n, want, time.Minute) // cut to MaxHaveWait
		got <- answer{hi, err}
	}()
	waitHeld(t, srv, 1)
	if p := srv.Pollers(cid, time.Now().Add(time.Hour)); len(p) != 1 || p[0] != b.ID() {
		t.Fatalf("pollers while held = %v, want [%s]", p, b.ID())
	}
	if err := lib.WriteChunk(cid, 1, c.chunk(1)); err != nil { // not wanted: still held
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // room to answer wrongly (an answer now would lack chunk 3)
	if err := lib.WriteChunk(cid, 3, c.chunk(3)); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.hi.Holds || r.hi.Complete || !r.hi.Have.Has(0) || !r.hi.Have.Has(1) || !r.hi.Have.Has(3) || r.hi.Have.Count(n) != 3 {
		t.Fatalf("held answer %+v, want chunks 0, 1, 3 and Holds", r.hi)
	}
	waitHeld(t, srv, 0)

	// Wanted and there already: not held (held, this would wait an hour).
	if !srv.awaitWanted(ctx, b.ID(), cid, want, time.Hour) {
		t.Fatal("no wait slot")
	}
	if hi, err := cl.HaveWait(ctx, cid, n, want, MaxHaveWait); err != nil || !hi.Have.Has(3) || !hi.Holds {
		t.Fatalf("poll for a chunk held: %+v, %v", hi, err)
	}
	// The wait runs out: the state as it is.
	want = library.NewBitmap(n)
	want.Set(5)
	if hi, err := cl.HaveWait(ctx, cid, n, want, time.Millisecond); err != nil || hi.Have.Count(n) != 3 || !hi.Holds {
		t.Fatalf("poll whose wait ran out: %+v, %v", hi, err)
	}
	// A plain poll is answered at once and says the holder holds polls.
	if hi, err := cl.Have(ctx, cid, n); err != nil || hi.Have.Count(n) != 3 || !hi.Holds {
		t.Fatalf("plain poll: %+v, %v", hi, err)
	}
}

// TestHaveWaitSlots: a device gets maxHeldPerPeer held polls at once;
// beyond, its polls are answered at once and say the holder would not
// hold the next (the poller falls back to polling at intervals).
func TestHaveWaitSlots(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 40_000, 4096, 4)
	n := c.m.NumChunks()
	cid := c.m.ContentID()
	lib := newLib(t)
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	a, b := newIdent(t), newIdent(t)
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{}})
	cl := client(t, b, a.ID(), addr)
	if _, err := cl.Have(ctx, cid, n); err != nil { // the connection (a first request goes alone)
		t.Fatal(err)
	}
	want := library.NewBitmap(n)
	want.Set(2)
	errs := make(chan error, maxHeldPerPeer)
	for range maxHeldPerPeer {
		go func() {
			hi, err := cl.HaveWait(ctx, cid, n, want, MaxHaveWait)
			if err == nil && !hi.Have.Has(2) {
				err = errNotAnswered
			}
			errs <- err
		}()
	}
	waitHeld(t, srv, maxHeldPerPeer)
	if hi, err := cl.HaveWait(ctx, cid, n, want, MaxHaveWait); err != nil || hi.Holds {
		t.Fatalf("poll beyond the wait slots: %+v, %v (want an answer at once, without Holds)", hi, err)
	}
	if err := lib.WriteChunk(cid, 2, c.chunk(2)); err != nil {
		t.Fatal(err)
	}
	for range maxHeldPerPeer {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if hi, err := cl.Have(ctx, cid, n); err != nil || !hi.Holds {
		t.Fatalf("after the held polls ended: %+v, %v", hi, err)
	}
}

var errNotAnswered = errors.New("answered without the wanted chunk")

// TestHaveWaitMalformed: wait headers that are not exactly a bitmap of
// the content's length and a decimal number of milliseconds from 1 are
// refused (400) before anything is held.
func TestHaveWaitMalformed(t *testing.T) {
	const n = 20 // 3 bytes of bitmap
	ok := base64.RawURLEncoding.EncodeToString(make([]byte, 3))
	for _, h := range []http.Header{
		{HaveWantHeader: {ok}},
		{HaveWaitHeader: {"100"}},
		{HaveWantHeader: {ok}, HaveWaitHeader: {"0"}},
		{HaveWantHeader: {ok}, HaveWaitHeader: {"-5"}},
		{HaveWantHeader: {ok}, HaveWaitHeader: {"012"}},
		{HaveWantHeader: {ok}, HaveWaitHeader: {"+12"}},
		{HaveWantHeader: {ok}, HaveWaitHeader: {"1e3"}},
		{HaveWantHeader: {ok}, HaveWaitHeader: {"99999999999"}},
		{HaveWantHeader: {ok + "A"}, HaveWaitHeader: {"100"}},
		{HaveWantHeader: {base64.RawURLEncoding.EncodeToString(make([]byte, 2))}, HaveWaitHeader: {"100"}},
		{HaveWantHeader: {base64.StdEncoding.EncodeToString(make([]byte, 3))[:3] + "="}, HaveWaitHeader: {"100"}},
		{HaveWantHeader: {"_w_*"}, HaveWaitHeader: {"100"}},
	} {
		if want, wait, err := haveWait(h, n); err == nil {
			t.Errorf("%v accepted: want %v, wait %v", h, want, wait)
		}
	}
	if want, wait, err := haveWait(http.Header{HaveWantHeader: {ok}, HaveWaitHeader: {"999999"}}, n); err != nil || len(want) != 3 || wait != MaxHaveWait {
		t.Errorf("a valid long wait: %v %v %v (want it cut to %v)", want, wait, err, MaxHaveWait)
	}
	if want, _, err := haveWait(http.Header{}, n); err != nil || want != nil {
		t.Errorf("no wait asked: %v, %v", want, err)
	}
	// Over the wire: 400, and nothing held.
	ctx := context.Background()
	c := makeContent(t, 40_000, 4096, 5)
	lib := newLib(t)
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	a, b := newIdent(t), newIdent(t)
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{}})
	cl := client(t, b, a.ID(), addr)
	_, err := cl.get(ctx, "/kith/v1/have/"+c.m.ContentID().String(), http.Header{HaveWantHeader: {"AAAA"}, HaveWaitHeader: {"100"}})
	if se, ok := err.(*StatusError); !ok || se.Status != http.StatusBadRequest {
		t.Fatalf("malformed want over the wire: %v, want 400", err)
	}
	waitHeld(t, srv, 0)
}

// TestFetcherLearnsByHeldPoll: a fetcher whose peer holds its Have poll
// fetches each chunk the peer gains as it gains it, with no poll round
// passing: its clock (fake) never moves, so with polls every
// HaveInterval it would never learn of them.
func TestFetcherLearnsByHeldPoll(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 40_000, 4096, 6)
	n := c.m.NumChunks()
	cid := c.m.ContentID()
	plib := newLib(t)
	if err := plib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	a, b := newIdent(t), newIdent(t)
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: plib, Accounts: everyoneEnrolled{}})
	cl := client(t, b, a.ID(), addr)
	clk := clock.NewFake(clockStart)
	r := startClocked(t, c, FetchOptions{Clock: clk, Sources: []Source{cl.Source(c.m)}, HaveWait: MaxHaveWait})
	for i := range n {
		waitHeld(t, srv, 1) // the fetcher waits on the peer for what it lacks
		if err := plib.WriteChunk(cid, i, c.chunk(i)); err != nil {
			t.Fatal(err)
		}
		r.waitChunks(t, 1)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if !clk.Now().Equal(clockStart) {
		t.Fatalf("the clock moved: %v", clk.Now())
	}
}
