package peer

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/clock"
	"github.com/kith-media/kith/share/identity"
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

// partial is the set-up of every held-poll test: one content's holder (a
// real library with the manifest and no chunk yet, its server on loopback
// TLS with o's options) and another device's client of it.
type partial struct {
	c      *content
	n      int
	cid    sealed.ContentID
	lib    *library.Library
	srv    *Server
	cl     *Client
	poller identity.ID // the client's device
}

func newPartial(t *testing.T, seed uint64, o ServerOptions) *partial {
	t.Helper()
	h := &partial{c: makeContent(t, 40_000, 4096, seed), lib: newLib(t)}
	h.n, h.cid = h.c.m.NumChunks(), h.c.m.ContentID()
	if err := h.lib.AddManifest(context.Background(), h.c.m); err != nil {
		t.Fatal(err)
	}
	a, b := newIdent(t), newIdent(t)
	o.Identity, o.Library, o.Accounts = a, h.lib, everyoneEnrolled{}
	var addr string
	h.srv, addr = startServer(t, o)
	h.cl, h.poller = client(t, b, a.ID(), addr), b.ID()
	return h
}

// gain gives the holder chunk i.
func (h *partial) gain(t *testing.T, i int) {
	t.Helper()
	if err := h.lib.WriteChunk(h.cid, i, h.c.chunk(i)); err != nil {
		t.Fatal(err)
	}
}

// wanting is a want bitmap of the content with chunk i alone.
func (h *partial) wanting(i int) library.Bitmap {
	w := library.NewBitmap(h.n)
	w.Set(i)
	return w
}

// TestHaveWaitHeldUntilWanted: a held Have poll is answered when the
// holder gains a chunk the poller wants, not at another chunk; its answer
// is /have's, says the holder would hold the next one, and the poller
// counts as one while it waits; a poll whose wanted chunk is there already
// is answered at once, one that asks for no wait as before.
func TestHaveWaitHeldUntilWanted(t *testing.T) {
	ctx := context.Background()
	h := newPartial(t, 3, ServerOptions{Downloading: func(sealed.ContentID) bool { return true }})
	srv, cl, n, cid := h.srv, h.cl, h.n, h.cid
	h.gain(t, 0)
	want := h.wanting(3)
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
	if p := srv.Pollers(cid, time.Now().Add(time.Hour)); len(p) != 1 || p[0] != h.poller {
		t.Fatalf("pollers while held = %v, want [%s]", p, h.poller)
	}
	h.gain(t, 1)                      // not wanted: still held
	time.Sleep(50 * time.Millisecond) // room to answer wrongly (an answer now would lack chunk 3)
	h.gain(t, 3)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.hi.Holds || r.hi.Complete || !r.hi.Have.Has(0) || !r.hi.Have.Has(1) || !r.hi.Have.Has(3) || r.hi.Have.Count(n) != 3 {
		t.Fatalf("held answer %+v, want chunks 0, 1, 3 and Holds", r.hi)
	}
	waitHeld(t, srv, 0)

	// Wanted and there already: not held (held, this would wait an hour).
	if !srv.awaitWanted(ctx, h.poller, cid, want, time.Hour) {
		t.Fatal("no wait slot")
	}
	if hi, err := cl.HaveWait(ctx, cid, n, want, MaxHaveWait); err != nil || !hi.Have.Has(3) || !hi.Holds {
		t.Fatalf("poll for a chunk held: %+v, %v", hi, err)
	}
	// The wait runs out: the state as it is.
	want = h.wanting(5)
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
	h := newPartial(t, 4, ServerOptions{})
	srv, cl, n, cid := h.srv, h.cl, h.n, h.cid
	if _, err := cl.Have(ctx, cid, n); err != nil { // the connection (a first request goes alone)
		t.Fatal(err)
	}
	want := h.wanting(2)
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
	h.gain(t, 2)
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
	h := newPartial(t, 5, ServerOptions{})
	_, err := h.cl.get(context.Background(), "/kith/v1/have/"+h.cid.String(), http.Header{HaveWantHeader: {"AAAA"}, HaveWaitHeader: {"100"}})
	if se, ok := err.(*StatusError); !ok || se.Status != http.StatusBadRequest {
		t.Fatalf("malformed want over the wire: %v, want 400", err)
	}
	waitHeld(t, h.srv, 0)
}

// TestFetcherLearnsByHeldPoll: a fetcher whose peer holds its Have poll
// fetches each chunk the peer gains as it gains it, with no poll round
// passing: its clock (fake) never moves, so with polls every
// HaveInterval it would never learn of them.
func TestFetcherLearnsByHeldPoll(t *testing.T) {
	h := newPartial(t, 6, ServerOptions{})
	clk := clock.NewFake(clockStart)
	r := startClocked(t, h.c, FetchOptions{Clock: clk, Sources: []Source{h.cl.Source(h.c.m)}, HaveWait: MaxHaveWait})
	for i := range h.n {
		waitHeld(t, h.srv, 1) // the fetcher waits on the peer for what it lacks
		h.gain(t, i)
		r.waitChunks(t, 1)
	}
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if !clk.Now().Equal(clockStart) {
		t.Fatalf("the clock moved: %v", clk.Now())
	}
}
