package peer

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// staleAccounts answers every lookup with the device's account, as a
// directory answering from before a revocation would; during the lookup
// of a device in refuse, it runs refuse (the owner learning of the
// revocation meanwhile).
type staleAccounts struct {
	countingAccounts
	during func(identity.ID)
}

func (s *staleAccounts) Account(ctx context.Context, id identity.ID) (string, error) {
	if s.during != nil {
		s.during(id)
	}
	return s.countingAccounts.Account(ctx, id)
}

// TestRefusalNotOverwritten: a device its owner refuses (Server.Refuse)
// stays refused for NegativeTTL against answers that may carry the
// directory's word from before the revocation: a lookup in flight when
// Refuse came (its caller is refused too), the suppliers answer's accounts
// (KnownAccounts), and ForgetAccounts does not forget it. Before, such an
// answer was kept over the refusal and served the device for TTL (5 min).
func TestRefusalNotOverwritten(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 10_000, 4096, 31)
	a, inflight, known := newIdent(t), newIdent(t), newIdent(t)
	accts := &staleAccounts{countingAccounts: countingAccounts{known: map[identity.ID]string{inflight.ID(): "alice", known.ID(): "alice"}}}
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, ct), Owner: "alice", Accounts: accts})
	accts.during = func(id identity.ID) {
		if id == inflight.ID() {
			srv.Refuse(id)
		}
	}
	forbidden := func(what string, c *Client) {
		t.Helper()
		var se *StatusError
		if _, err := c.Chunk(ctx, ct.m, 0, nil); !errors.As(err, &se) || se.Status != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", what, err)
		}
	}
	c := client(t, inflight, a.ID(), addr)
	defer c.Close()
	forbidden("the call whose lookup the refusal overtook", c)
	forbidden("the refused device's next call", c)
	if n := accts.n.Load(); n != 1 {
		t.Errorf("%d lookups, want 1 (the refusal kept)", n)
	}

	srv.Refuse(known.ID())
	srv.KnownAccounts(map[identity.ID]string{known.ID(): "alice"})
	k := client(t, known, a.ID(), addr)
	defer k.Close()
	forbidden("a refused device the suppliers answer names", k)
	srv.ForgetAccounts()
	forbidden("a refused device after ForgetAccounts", k)
	if n := accts.n.Load(); n != 1 {
		t.Errorf("%d lookups, want 1 (the refusal kept over KnownAccounts and ForgetAccounts)", n)
	}
}

// TestRefusedWhileChunkRead: a device refused (Server.Refuse) after its
// chunk request's permit, while the chunk was read from disk, is answered
// 403, not the chunk, and nothing is counted uploaded to it. Before, the
// answer went out whole: the refusal held only for requests permitted
// after it.
func TestRefusedWhileChunkRead(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 10_000, 4096, 33)
	a, b := newIdent(t), newIdent(t)
	accts := &countingAccounts{known: map[identity.ID]string{b.ID(): "alice"}}
	var up atomic.Int64
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, ct), Owner: "alice", Accounts: accts,
		OnUpload: func(u Upload) { up.Add(u.Bytes) }})
	c := client(t, b, a.ID(), addr)
	defer c.Close()
	if _, err := c.Chunk(ctx, ct.m, 0, nil); err != nil {
		t.Fatalf("before the refusal: %v", err)
	}
	testHookChunkRead = func(s *Server, peer identity.ID) {
		if s == srv && peer == b.ID() {
			s.Refuse(peer)
		}
	}
	t.Cleanup(func() { testHookChunkRead = nil })
	before := up.Load()
	var se *StatusError
	if got, err := c.Chunk(ctx, ct.m, 1, nil); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("the chunk of a device refused while it was read: %d bytes, %v; want 403", len(got), err)
	}
	if n := up.Load() - before; n != 0 {
		t.Errorf("%d bytes counted uploaded to the refused device, want 0", n)
	}
}
