package peer

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// A Have poll may be held (a long poll): the poller sends the chunks it
// still needs that it does not know the holder has (HaveWantHeader) and
// how long it is ready to wait (HaveWaitHeader); the holder answers as
// soon as it holds one of them (or is complete), or when the wait runs
// out. Every /have answer of a holder that would hold the next poll says
// so (HaveHoldsHeader), so the poller may ask again at once. A crowd thus learns of a peer's new chunk when it
// arrives, not at the next poll: with polls every HaveInterval an 8 MiB
// crowd of 10 spent half its time waiting for the next round. A poll
// without the headers, or beyond the holder's wait slots, is answered at
// once, as before.
const (
	HaveWantHeader  = "Kith-Have-Want"  // request: unpadded base64url bitmap of the chunks wanted (the have bitmap's length)
	HaveWaitHeader  = "Kith-Have-Wait"  // request: the longest wait, in milliseconds (1 to MaxHaveWait)
	HaveHoldsHeader = "Kith-Have-Holds" // answer: "true" when the holder would hold the next poll (it has a wait slot for the poller)
)

// MaxHaveWait is the longest a peer server holds a Have poll; longer
// asked waits are cut to it.
const MaxHaveWait = 10 * time.Second

// Wait slots: Have polls held at once, per polling device and in total
// (each holds a request, a goroutine and a timer). Beyond them a poll is
// answered at once.
const (
	maxHeldPerPeer = 8
	maxHeld        = 512
)

// haveWait reads the long-poll headers of a /have request for a content
// of n chunks: want nil when the request asks for no wait; an error when
// a header is malformed (the caller answers 400).
func haveWait(h http.Header, n int) (want library.Bitmap, wait time.Duration, err error) {
	ws, ms := h.Get(HaveWantHeader), h.Get(HaveWaitHeader)
	if ws == "" && ms == "" {
		return nil, 0, nil
	}
	size := len(library.NewBitmap(n))
	if size > maxCarriedHave || len(ws) != base64.RawURLEncoding.EncodedLen(size) {
		return nil, 0, fmt.Errorf("%s of %d characters, want %d", HaveWantHeader, len(ws), base64.RawURLEncoding.EncodedLen(size))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(ws)
	if err != nil || len(b) != size {
		return nil, 0, fmt.Errorf("%s: not %d bytes of base64url", HaveWantHeader, size)
	}
	v, err := strconv.Atoi(ms)
	if err != nil || v < 1 || len(ms) > 6 || ms[0] < '1' || ms[0] > '9' {
		return nil, 0, fmt.Errorf("%s %q: not a number of milliseconds from 1", HaveWaitHeader, ms)
	}
	return library.Bitmap(b), min(time.Duration(v)*time.Millisecond, MaxHaveWait), nil
}

// canHold reports whether peer has a wait slot free (one it holds now
// counts as free: it ends with this answer).
func (s *Server) canHold(peer identity.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heldTotal < maxHeld && s.heldPer[peer] < maxHeldPerPeer
}

// hold takes a wait slot for peer; false when it has none left. refused
// is closed when Refuse refuses peer, and is closed already when Refuse
// refused it after the poll's permit, before its slot: Refuse keeps the
// refusal in the account cache before it takes s.mu, so under s.mu either
// the cache says so here or the channel made here is Refuse's to close.
// (Else such a poll waited its whole wait, up to MaxHaveWait, and only
// then was answered 403.)
func (s *Server) hold(peer identity.ID, cid sealed.ContentID) (refused <-chan struct{}, ok bool) {
	if testHookBeforeHold != nil {
		testHookBeforeHold(s, peer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.heldTotal >= maxHeld || s.heldPer[peer] >= maxHeldPerPeer {
		return nil, false
	}
	if s.held == nil {
		s.held, s.heldPer, s.refused = map[pollKey]int{}, map[identity.ID]int{}, map[identity.ID]chan struct{}{}
	}
	s.held[pollKey{cid, peer}]++
	s.heldPer[peer]++
	s.heldTotal++
	ch, ok := s.refused[peer]
	if !ok {
		ch = make(chan struct{})
		s.refused[peer] = ch
	}
	if s.accts.refused(peer) {
		closed := make(chan struct{})
		close(closed)
		return closed, true
	}
	return ch, true
}

// testHookBeforeHold, if set (tests only), runs in hold before it takes
// the wait slot: after the poll's permit.
var testHookBeforeHold func(s *Server, peer identity.ID)

func (s *Server) unhold(peer identity.ID, cid sealed.ContentID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := pollKey{cid, peer}
	if s.held[k]--; s.held[k] <= 0 {
		delete(s.held, k)
	}
	if s.heldPer[peer]--; s.heldPer[peer] <= 0 {
		delete(s.heldPer, peer)
		delete(s.refused, peer)
	}
	s.heldTotal--
}

// awaitWanted holds a Have poll until this device holds a chunk of want,
// holds them all, or wait runs out (or the request ends, or Refuse
// refuses peer). It returns whether it held the poll (false: no slot,
// answer at once).
func (s *Server) awaitWanted(ctx context.Context, peer identity.ID, cid sealed.ContentID, want library.Bitmap, wait time.Duration) bool {
	refused, ok := s.hold(peer, cid)
	if !ok {
		return false
	}
	defer s.unhold(peer, cid)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		have, changed, err := s.o.Library.Watch(ctx, cid)
		if err != nil || intersects(have, want) {
			return true
		}
		if st, err := s.o.Library.Status(ctx, cid); err != nil || st.Complete {
			return true
		}
		select {
		case <-changed:
		case <-t.C:
			return true
		case <-refused:
			return true
		case <-ctx.Done():
			return true
		}
	}
}

// intersects reports whether a and b share a chunk.
func intersects(a, b library.Bitmap) bool {
	for i := range min(len(a), len(b)) {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

// HaveWait is Have held by the peer until it holds a chunk of want (the
// chunks we need that we do not know it has), it is complete, or wait
// runs out; HaveInfo.Holds tells whether the peer would hold the next
// one (a peer without wait slots answers at once). want must be the content's bitmap
// length (n chunks).
func (c *Client) HaveWait(ctx context.Context, cid sealed.ContentID, n int, want library.Bitmap, wait time.Duration) (HaveInfo, error) {
	if len(want) != len(library.NewBitmap(n)) {
		return HaveInfo{}, fmt.Errorf("have of %s: want bitmap of %d bytes for %d chunks", c.peer.Short(), len(want), n)
	}
	hdr := http.Header{}
	hdr.Set(HaveWantHeader, base64.RawURLEncoding.EncodeToString(want))
	hdr.Set(HaveWaitHeader, strconv.FormatInt(max(1, wait.Milliseconds()), 10))
	// Revoke ends the poll at once: the download drops the peer now, not
	// when its answer comes.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(c.gone, func() { cancel(ErrRevoked) })()
	hi, err := c.have(ctx, cid, n, hdr)
	if err != nil && context.Cause(ctx) == ErrRevoked {
		return HaveInfo{}, fmt.Errorf("have of %s: %w", c.peer.Short(), ErrRevoked)
	}
	return hi, err
}

// HavePolls is how many Have polls (held or not) the client has sent to
// the peer: each is a request and an answer at both ends.
func (c *Client) HavePolls() int64 { return c.havePolls.Load() }

// have is Have with request headers hdr.
func (c *Client) have(ctx context.Context, cid sealed.ContentID, n int, hdr http.Header) (HaveInfo, error) {
	c.havePolls.Add(1)
	resp, err := c.get(ctx, "/kith/v1/have/"+cid.String(), hdr)
	if err != nil {
		return HaveInfo{}, fmt.Errorf("have of %s: %w", c.peer.Short(), err)
	}
	defer resp.Body.Close()
	want := len(library.NewBitmap(n))
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(2*want+1)))
	if err != nil {
		return HaveInfo{}, fmt.Errorf("have of %s: %w", c.peer.Short(), err)
	}
	if len(b) != 2*want {
		return HaveInfo{}, fmt.Errorf("have of %s: %w: %d bytes, want %d", c.peer.Short(), ErrMisbehaving, len(b), 2*want)
	}
	return HaveInfo{Have: library.Bitmap(b[:want]), Fetching: library.Bitmap(b[want:]),
		Complete: resp.Header.Get(HaveHeader) == "true", Downloading: resp.Header.Get(DownloadingHeader) == "true",
		Holds: resp.Header.Get(HaveHoldsHeader) == "true"}, nil
}

// HaveWaiter is implemented by partial sources that can hold a Have poll
// (a peer's, HaveWantHeader): the fetcher, once it knows a source's
// state, asks it to answer when it gains a chunk the fetcher needs.
type HaveWaiter interface {
	HaveWait(ctx context.Context, want library.Bitmap, wait time.Duration) (HaveInfo, error)
}

func (p *peerSource) HaveWait(ctx context.Context, want library.Bitmap, wait time.Duration) (HaveInfo, error) {
	return p.c.HaveWait(ctx, p.cid, p.m.NumChunks(), want, wait)
}
