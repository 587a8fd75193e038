package peer

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
)

// countingAccounts is a directory that knows the devices in known and
// counts every lookup; err, when set, is every lookup's answer.
type countingAccounts struct {
	mu    sync.Mutex
	known map[identity.ID]string
	err   error
	n     atomic.Int64
}

func (c *countingAccounts) Account(_ context.Context, id identity.ID) (string, error) {
	c.n.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return "", c.err
	}
	return c.known[id], nil
}

// refused reports whether every copying endpoint refused c.
func refused(t *testing.T, c *Client, ct *content) []string {
	t.Helper()
	ctx := context.Background()
	cid := ct.m.ContentID()
	var got []string
	if o, err := c.Offer(ctx); err == nil {
		got = append(got, "offer with "+itoa(int64(len(o)))+" titles")
	}
	if _, err := c.Manifest(ctx, cid); err == nil {
		got = append(got, "manifest")
	}
	if _, err := c.Have(ctx, cid, ct.m.NumChunks()); err == nil {
		got = append(got, "have")
	}
	if _, err := c.Chunk(ctx, ct.m, 0, nil); err == nil {
		got = append(got, "chunk")
	}
	if resp, err := c.get(ctx, "/kith/v1/content/"+cid.String(), http.Header{"Range": {"bytes=0-99"}}); err == nil {
		resp.Body.Close()
		got = append(got, "content")
	}
	return got
}

// TestSecurityUnknownCallersGetNothing (issue 11 item 4): an account on a
// Deny list used to get everything back by generating a new device key,
// because unknown devices (and failed lookups) fell through to "anyone".
// Only enrolled devices (the directory knows their account) get anything;
// the owner's household and an allowed neighbour lose nothing.
func TestSecurityUnknownCallersGetNothing(t *testing.T) {
	ct := makeContent(t, 30_000, 4096, 11)
	a, home, friend, bob, fresh := newIdent(t), newIdent(t), newIdent(t), newIdent(t), newIdent(t)
	lib := holder(t, ct)
	if err := lib.SetPolicy(context.Background(), "", library.Policy{Mode: "anyone", Deny: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	accts := &countingAccounts{known: map[identity.ID]string{a.ID(): "alice", home.ID(): "alice", friend.ID(): "carol", bob.ID(): "bob"}}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Owner: "alice", Accounts: accts})
	_, open := startServer(t, ServerOptions{Identity: a, Library: lib, Owner: "alice"}) // no directory to ask

	for _, tt := range []struct {
		name string
		c    *Client
	}{
		{"denied account", client(t, bob, a.ID(), addr)},
		{"denied account with a fresh key", client(t, fresh, a.ID(), addr)},
		{"any caller when there is no directory to ask", client(t, friend, a.ID(), open)},
	} {
		if got := refused(t, tt.c, ct); len(got) > 0 {
			t.Errorf("%s got %v", tt.name, got)
		}
	}
	for _, tt := range []struct {
		name string
		c    *Client
	}{
		{"household device", client(t, home, a.ID(), addr)},
		{"allowed neighbour", client(t, friend, a.ID(), addr)},
	} {
		if got := refused(t, tt.c, ct); len(got) != 5 {
			t.Errorf("%s got only %v", tt.name, got)
		}
	}

	// A failed lookup (directory down) refuses too, even a device the
	// directory would name.
	late := newIdent(t)
	accts.mu.Lock()
	accts.err = errors.New("directory unreachable")
	accts.known[late.ID()] = "carol"
	accts.mu.Unlock()
	if got := refused(t, client(t, late, a.ID(), addr), ct); len(got) > 0 {
		t.Errorf("caller whose lookup failed got %v", got)
	}
}

// TestSecurityKeyRotationCannotBurnLookups (issue 11 item 4): a peer
// rotating device keys makes the server ask the directory about each new
// key, on the owner's quota. Lookups are cached and limited per caller:
// 100 fresh keys from one address cost a handful of lookups, and a
// known device is not looked up again.
func TestSecurityKeyRotationCannotBurnLookups(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 10_000, 4096, 12)
	a, friend := newIdent(t), newIdent(t)
	accts := &countingAccounts{known: map[identity.ID]string{friend.ID(): "carol"}}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, ct), Owner: "alice", Accounts: accts})

	fc := client(t, friend, a.ID(), addr)
	for range 20 {
		if _, err := fc.Chunk(ctx, ct.m, 0, nil); err != nil {
			t.Fatalf("allowed neighbour: %v", err)
		}
	}
	if n := accts.n.Load(); n != 1 {
		t.Errorf("20 requests of one enrolled device cost %d lookups, want 1", n)
	}
	before := accts.n.Load()
	for i := range 100 {
		c := client(t, newIdent(t), a.ID(), addr)
		if _, err := c.Chunk(ctx, ct.m, 0, nil); err == nil {
			t.Fatalf("fresh key %d got a chunk", i)
		}
		c.Close()
	}
	if n := accts.n.Load() - before; n > 10 {
		t.Errorf("100 fresh keys from one address cost %d directory lookups, want at most 10", n)
	}
	// The enrolled neighbour is still served from the cache.
	if _, err := fc.Chunk(ctx, ct.m, 0, nil); err != nil {
		t.Fatalf("allowed neighbour after the rotation: %v", err)
	}
}

type fakeWhois map[identity.ID]*directory.Device

func (f fakeWhois) Whois(_ context.Context, id identity.ID) (*directory.Device, error) {
	if id == "DOWN" {
		return nil, errors.New("connection refused")
	}
	if d, ok := f[id]; ok {
		return d, nil
	}
	return nil, &directory.Error{Status: 404, Code: "not_found"}
}

func TestWhoisAccounts(t *testing.T) {
	a, b, c := newIdent(t).ID(), newIdent(t).ID(), newIdent(t).ID()
	w := WhoisAccounts(fakeWhois{
		a: {ID: a, Account: "alice"},
		b: {ID: b, Account: "bob", Revoked: true},
		c: {ID: a, Account: "mallory"}, // answers for another device
	})
	for _, tt := range []struct {
		id      identity.ID
		account string
		notEnr  bool
	}{
		{a, "alice", false},
		{b, "", true},                    // revoked
		{newIdent(t).ID(), "", true},     // unknown: 404
		{c, "", false},                   // a wrong answer is a failed lookup, not an account
		{identity.ID("DOWN"), "", false}, // directory unreachable: failed, not cached as unknown
	} {
		got, err := w.Account(context.Background(), tt.id)
		if got != tt.account || errors.Is(err, ErrNotEnrolled) != tt.notEnr || (tt.account == "") != (err != nil) {
			t.Errorf("%s: %q, %v", tt.id.Short(), got, err)
		}
	}
}

func TestCallerPrefix(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"192.0.2.7:7143", "192.0.2.7/32"},
		{"[2001:db8:1:2:aaaa::1]:7143", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:1", "2001:db8:1:2::/64"}, // same /64: one caller
		{"[fe80::1%eth0]:7143", "fe80::/64"},
		{"[::ffff:192.0.2.7]:7143", "192.0.2.7/32"},
	} {
		if got := callerPrefix(tt.addr).String(); got != tt.want {
			t.Errorf("callerPrefix(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

// TestAccountCache: answers are kept for their TTL (not enrolled for
// less), at most MaxEntries of them, and failed lookups are not kept.
func TestAccountCache(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	known, unknown := newIdent(t).ID(), newIdent(t).ID()
	accts := &countingAccounts{known: map[identity.ID]string{known: "alice"}}
	c := newAccountCache(accts, LookupLimits{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxEntries: 3, PerCaller: 1000, PerCallerBurst: 1000, Total: 1000, TotalBurst: 1000}, clock)
	ask := func(id identity.ID) (string, error) { return c.account(ctx, id, "192.0.2.1:1") }
	lookups := func() int64 { return accts.n.Load() }

	if a, err := ask(known); a != "alice" || err != nil {
		t.Fatalf("known: %q, %v", a, err)
	}
	if _, err := ask(unknown); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("unknown: %v", err)
	}
	ask(known)
	ask(unknown)
	if n := lookups(); n != 2 {
		t.Fatalf("%d lookups, want 2 (answers cached)", n)
	}
	now = now.Add(11 * time.Second) // the negative answer expired, the positive not
	ask(known)
	ask(unknown)
	if n := lookups(); n != 3 {
		t.Fatalf("%d lookups after the negative TTL, want 3", n)
	}
	now = now.Add(time.Minute)
	ask(known)
	if n := lookups(); n != 4 {
		t.Fatalf("%d lookups after the TTL, want 4", n)
	}
	// Bounded: 3 entries, least recently used dropped first.
	for range 5 {
		ask(newIdent(t).ID())
	}
	c.mu.Lock()
	size := c.lru.Len()
	c.mu.Unlock()
	if size != 3 {
		t.Fatalf("cache holds %d entries, want 3", size)
	}
	// A failed lookup is not kept.
	accts.mu.Lock()
	accts.err = errors.New("directory down")
	accts.mu.Unlock()
	fail := newIdent(t).ID()
	ask(fail)
	ask(fail)
	if _, ok := c.entries[fail]; ok {
		t.Fatal("failed lookup cached")
	}
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestSecurityWrongAddressDoesNotBanNeighbour (issue 11 item 10): a LAN
// host adds its own address under a real neighbour's name. The dialer
// used to stop at that address (wrong certificate) and report the
// neighbour as misbehaving, so the fetcher banned the neighbour. Every
// address is tried, the wrong one is blamed and tried last afterwards,
// and the download completes from the real neighbour.
func TestSecurityWrongAddressDoesNotBanNeighbour(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 256<<10, 16<<10, 13)
	a, b, rogue := newIdent(t), newIdent(t), newIdent(t)
	_, real := startServer(t, ServerOptions{Identity: a, Library: holder(t, ct), Accounts: everyoneEnrolled{}})
	rogueAddr := hostileServer(t, rogue, ct, honest)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	go func() { // forwards to the rogue, counting who dials it
		for {
			c, err := cl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r, err := net.Dial("tcp", rogueAddr)
				if err != nil {
					return
				}
				defer r.Close()
				go io.Copy(r, c)
				io.Copy(c, r)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })

	c, err := NewClient(b, a.ID(), []string{ln.Addr().String(), real}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Chunk(ctx, ct.m, 0, nil); err != nil {
		t.Fatalf("chunk with a rogue address first: %v", err)
	}
	lib, f, err := fetchInto(t, ct, FetchOptions{Sources: []Source{c.Source(ct.m)}})
	if err != nil {
		t.Fatalf("fetch with a rogue address first: %v (faults %+v)", err, f.Faults())
	}
	checkComplete(t, lib, ct)
	// The rogue was dialled once: afterwards the real address goes first.
	c.Close()
	if _, err := c.Chunk(ctx, ct.m, 1, nil); err != nil {
		t.Fatal(err)
	}
	if n := cl.n.Load(); n != 1 {
		t.Errorf("rogue address dialled %d times, want 1", n)
	}

	// Only rogue addresses: no connection, but nothing proves the device
	// misbehaved, so it is not banned for it.
	only, err := NewClient(b, a.ID(), []string{rogueAddr}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	_, err = only.Chunk(ctx, ct.m, 0, nil)
	if err == nil || errors.Is(err, ErrMisbehaving) || !errors.Is(err, identity.ErrWrongPeer) {
		t.Fatalf("only a rogue address: %v, want ErrWrongPeer and not ErrMisbehaving", err)
	}
}

// TestLookupsOfExpectedCallers: devices the directory named to us (a
// crowd's members, Server.Expect) are looked up from their own bucket, so
// 40 of them calling from one address are all served where the
// per-address limit (4, then one per 15 s) would refuse most; device keys
// nobody named still meet the per-address and total limits, so Expect
// opens no way to make us look up made-up keys.
func TestLookupsOfExpectedCallers(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 10_000, 4096, 12)
	a := newIdent(t)
	accts := &countingAccounts{known: map[identity.ID]string{}}
	var crowd []*identity.Identity
	var named []identity.ID
	for range 40 {
		d := newIdent(t)
		crowd = append(crowd, d)
		named = append(named, d.ID())
		accts.known[d.ID()] = "crowd"
	}
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, ct), Owner: "alice", Accounts: accts})
	srv.Expect(named)
	for i, d := range crowd {
		c := client(t, d, a.ID(), addr)
		if _, err := c.Chunk(ctx, ct.m, 0, nil); err != nil {
			t.Fatalf("crowd member %d named by the directory: %v", i, err)
		}
		c.Close()
	}
	if n := accts.n.Load(); n != 40 {
		t.Errorf("40 named devices cost %d lookups, want 40", n)
	}
	before := accts.n.Load()
	for i := range 100 {
		c := client(t, newIdent(t), a.ID(), addr)
		if _, err := c.Chunk(ctx, ct.m, 0, nil); err == nil {
			t.Fatalf("fresh key %d got a chunk", i)
		}
		c.Close()
	}
	if n := accts.n.Load() - before; n > 10 {
		t.Errorf("100 fresh keys from one address cost %d directory lookups after Expect, want at most 10", n)
	}
}

// TestKnownAccounts: accounts the directory named outside a lookup
// (Server.KnownAccounts: its suppliers answer names our own account's
// devices) are kept as a lookup's answer would be, so their calls cost no
// lookup; an empty account or a pseudonym is not kept (the caller is
// looked up), and a device named nowhere is still looked up and refused.
func TestKnownAccounts(t *testing.T) {
	ctx := context.Background()
	ct := makeContent(t, 10_000, 4096, 12)
	a, mine, pseud, blank, stranger := newIdent(t), newIdent(t), newIdent(t), newIdent(t), newIdent(t)
	accts := &countingAccounts{known: map[identity.ID]string{mine.ID(): "alice", pseud.ID(): "alice", blank.ID(): "alice"}}
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, ct), Owner: "alice", Accounts: accts})
	srv.KnownAccounts(map[identity.ID]string{mine.ID(): "alice", pseud.ID(): directory.PseudonymPrefix + "x", blank.ID(): ""})
	for _, d := range []*identity.Identity{mine, pseud, blank} {
		c := client(t, d, a.ID(), addr)
		if _, err := c.Chunk(ctx, ct.m, 0, nil); err != nil {
			t.Fatalf("device of alice's: %v", err)
		}
		c.Close()
	}
	if n := accts.n.Load(); n != 2 {
		t.Errorf("%d lookups, want 2 (the pseudonym's and the empty account's devices; not the known one)", n)
	}
	c := client(t, stranger, a.ID(), addr)
	defer c.Close()
	if _, err := c.Chunk(ctx, ct.m, 0, nil); err == nil {
		t.Fatal("a device nobody named and the directory does not know got a chunk")
	}
	if n := accts.n.Load(); n != 3 {
		t.Errorf("%d lookups, want 3 (the stranger looked up)", n)
	}
}

// TestAccountCacheKeptAgain: a device the directory names again (every
// resupply round of a crowd of one household) has its entry refreshed in
// place: its new expiry holds, the cache does not grow, and nothing is
// allocated for it.
func TestAccountCacheKeptAgain(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	accts := &countingAccounts{known: map[identity.ID]string{}}
	c := newAccountCache(accts, LookupLimits{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxEntries: 8, PerCaller: 1000, PerCallerBurst: 1000, Total: 1000, TotalBurst: 1000}, clock)
	id := newIdent(t).ID()
	c.know(map[identity.ID]string{id: "alice"})
	now = now.Add(50 * time.Second)
	c.know(map[identity.ID]string{id: "alice"})
	now = now.Add(50 * time.Second) // past the first TTL, within the second
	if a, err := c.account(context.Background(), id, "192.0.2.1:1"); a != "alice" || err != nil {
		t.Fatalf("kept again: %q, %v", a, err)
	}
	if n := accts.n.Load(); n != 0 {
		t.Fatalf("%d lookups, want 0", n)
	}
	c.keep(id, "", time.Second) // refused: the same entry, now negative
	if _, err := c.account(context.Background(), id, "192.0.2.1:1"); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("refused: %v", err)
	}
	if l := c.lru.Len(); l != 1 {
		t.Fatalf("%d entries, want 1", l)
	}
	if n := testing.AllocsPerRun(100, func() { c.keep(id, "alice", time.Minute) }); n != 0 {
		t.Fatalf("keeping a kept device allocates %v times, want 0", n)
	}
}

// TestAccountCacheToldAgain: a crowd's every resupply round names the
// same devices: an entry with more than half its TTL left is left as it
// is (no refresh, no move to the LRU's front); told once past the half,
// it is kept for a whole TTL again; a device told every round is never
// looked up, and a refused one is not made known by a round while its
// refusal holds.
func TestAccountCacheToldAgain(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	accts := &countingAccounts{known: map[identity.ID]string{}}
	c := newAccountCache(accts, LookupLimits{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxEntries: 8, PerCaller: 1000, PerCallerBurst: 1000, Total: 1000, TotalBurst: 1000}, clock)
	id, other, bad := newIdent(t).ID(), newIdent(t).ID(), newIdent(t).ID()
	c.refuse(bad)
	told := now
	expires := func(id identity.ID) time.Time { return c.entries[id].Value.(*cacheEntry).expires }
	for range 120 { // two minutes of rounds every second
		c.know(map[identity.ID]string{id: "alice", other: "alice", bad: "alice"})
		if now.Sub(told) > 30*time.Second {
			t.Fatalf("at +%v: told at +%v, want within half the TTL", now.Sub(time.Unix(1000, 0)), told.Sub(time.Unix(1000, 0)))
		}
		if e := expires(id); e != told.Add(time.Minute) {
			if e != now.Add(time.Minute) || told.Add(time.Minute).Sub(now) > 30*time.Second {
				t.Fatalf("at +%v: expires +%v, told at +%v", now.Sub(time.Unix(1000, 0)), e.Sub(time.Unix(1000, 0)), told.Sub(time.Unix(1000, 0)))
			}
			told = now
		}
		if a, err := c.account(context.Background(), id, "192.0.2.1:1"); a != "alice" || err != nil {
			t.Fatalf("told every round: %q, %v", a, err)
		}
		if _, err := c.account(context.Background(), bad, "192.0.2.1:1"); now.Sub(time.Unix(1000, 0)) < 10*time.Second && !errors.Is(err, ErrNotEnrolled) {
			t.Fatalf("refused, then told: %v", err) // within NegativeTTL
		}
		now = now.Add(time.Second)
	}
	if told == time.Unix(1000, 0) {
		t.Fatal("never kept again")
	}
	if n := accts.n.Load(); n != 0 {
		t.Fatalf("%d lookups, want 0", n)
	}
}
