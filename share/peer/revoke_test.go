package peer

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/peer/sched"
)

// TestRevokeDropsRunningSource: a source revoked while the download runs
// (its owner learnt the directory no longer vouches for it) is asked for
// nothing more: at most the requests already in flight deliver, the
// download completes from the other peer, and the revoked one is dropped
// as a source that refused us.
func TestRevokeDropsRunningSource(t *testing.T) {
	c := makeContent(t, 2<<20, 16<<10, 11)
	b := newIdent(t)
	var clients []*Client
	var srcs []Source
	for range 2 {
		a := newIdent(t)
		_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Accounts: everyoneEnrolled{}})
		cl := client(t, b, a.ID(), addr)
		clients = append(clients, cl)
		srcs = append(srcs, cl.Source(c.m))
	}
	lost := clients[0]
	const perSource = 4
	var mu sync.Mutex
	revoked, after := false, 0
	lib, f, err := fetchInto(t, c, FetchOptions{Sources: srcs, PerSource: perSource, OnEvent: func(e Event) {
		if e.Kind != EventChunk || e.Source != lost.ID() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if revoked {
			after++
			return
		}
		lost.Revoke() // at its first chunk: the rest of the download runs after
		revoked = true
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, lib, c)
	mu.Lock()
	defer mu.Unlock()
	if !revoked {
		t.Fatal("the download got no chunk from the peer to revoke")
	}
	if after > perSource {
		t.Errorf("%d chunks from the revoked peer after Revoke, want at most the %d in flight", after, perSource)
	}
	var dropped bool
	for _, fl := range f.Faults() {
		if fl.Source == lost.ID() && !fl.Banned && errors.Is(fl.Err, ErrRevoked) {
			dropped = true
		}
	}
	if !dropped {
		t.Errorf("the revoked peer is not dropped for its revocation: faults %+v", f.Faults())
	}
}

// TestRefuseEndsHeldPolls: a device refused (Refuse: its owner learnt the
// directory no longer vouches for it) while a Have poll of its is held is
// answered at once, 403, not with our state when its wait runs out; its
// wait slot is free again.
func TestRefuseEndsHeldPolls(t *testing.T) {
	h := newPartial(t, 21, ServerOptions{})
	err := endsAtOnce(t, h.heldPoll(t), "Refuse", func() { h.srv.Refuse(h.poller) })
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("the refused device's held poll: %v, want 403", err)
	}
	waitHeld(t, h.srv, 0)
}

// TestRefusedBeforeHold: a device refused after its Have poll's permit
// but before the poll takes its wait slot is answered at once, 403 (not
// after the poll's whole wait, up to MaxHaveWait).
func TestRefusedBeforeHold(t *testing.T) {
	h := newPartial(t, 24, ServerOptions{})
	ctx := context.Background()
	if _, err := h.cl.Have(ctx, h.cid, h.n); err != nil { // the connection: a first request goes alone
		t.Fatal(err)
	}
	testHookBeforeHold = func(s *Server, peer identity.ID) {
		if s == h.srv && peer == h.poller {
			s.Refuse(peer)
		}
	}
	t.Cleanup(func() { testHookBeforeHold = nil })
	start := time.Now()
	_, err := h.cl.HaveWait(ctx, h.cid, h.n, h.wanting(2), MaxHaveWait)
	if took := time.Since(start); took > MaxHaveWait/2 {
		t.Errorf("the poll of a device refused before its wait slot ended %v after it was sent, want at once (its wait is %v)", took, MaxHaveWait)
	}
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("the poll of a device refused before its wait slot: %v, want 403", err)
	}
	waitHeld(t, h.srv, 0)
}

// TestHeldPollPolicyChanged: a held Have poll is answered under the policy
// of its end: a poller the owner stopped sharing the title with while it
// waited gets 403, not our state.
func TestHeldPollPolicyChanged(t *testing.T) {
	h := newPartial(t, 22, ServerOptions{})
	errs := h.heldPoll(t)
	ctx := context.Background()
	acct, _ := everyoneEnrolled{}.Account(ctx, h.poller)
	if err := h.lib.SetPolicy(ctx, "", library.Policy{Mode: "anyone", Deny: []string{acct}}); err != nil {
		t.Fatal(err)
	}
	h.gain(t, 2) // what the poll waits for: it is answered now
	var se *StatusError
	if err := <-errs; !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("the held poll of a device the policy now denies: %v, want 403", err)
	}
}

// TestRevokeEndsHeldPoll: a Have poll the peer holds when its client is
// revoked ends at once with ErrRevoked (a download drops the peer now,
// not when the peer answers up to MaxHaveWait later).
func TestRevokeEndsHeldPoll(t *testing.T) {
	h := newPartial(t, 23, ServerOptions{})
	err := endsAtOnce(t, h.heldPoll(t), "Revoke", h.cl.Revoke)
	if !errors.Is(err, ErrRevoked) || errors.Is(err, context.Canceled) {
		t.Errorf("the held poll of a revoked client: %v, want ErrRevoked (and not a cancel: the fetcher would keep the source)", err)
	}
	if k := outcome(err).Kind; k != sched.Refused {
		t.Errorf("the fetcher takes it as %v, want Refused", k)
	}
	waitHeld(t, h.srv, 0) // the peer's wait slot is free again (the request's cancel reached it)
}

// heldPoll sends a Have poll the holder holds (it wants chunk 2, which
// the holder lacks) after a first request (the connection: a first
// request goes alone), and returns its error once it is answered.
func (h *partial) heldPoll(t *testing.T) <-chan error {
	t.Helper()
	ctx := context.Background()
	if _, err := h.cl.Have(ctx, h.cid, h.n); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() {
		_, err := h.cl.HaveWait(ctx, h.cid, h.n, h.wanting(2), MaxHaveWait)
		errs <- err
	}()
	waitHeld(t, h.srv, 1)
	return errs
}

// endsAtOnce runs act (named what) and returns the error of the held poll
// answered on errs, which must come well before the poll's wait ran out.
func endsAtOnce(t *testing.T, errs <-chan error, what string, act func()) error {
	t.Helper()
	start := time.Now()
	act()
	err := <-errs
	if took := time.Since(start); took > MaxHaveWait/2 {
		t.Errorf("the held poll ended %v after %s, want at once (its wait is %v)", took, what, MaxHaveWait)
	}
	return err
}
