package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

func TestServerEndpoints(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 100_000, 4096, 1)
	a, b := newIdent(t), newIdent(t)
	lib := holder(t, c)
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Name: "A", Directory: newIdent(t).ID(), Accounts: everyoneEnrolled{}})
	cl := client(t, b, a.ID(), addr)
	cid := c.m.ContentID()

	h, err := cl.Hello(ctx)
	if err != nil || h.Device != a.ID() || h.Name != "A" || h.Proto != ProtoVersion {
		t.Fatalf("hello = %+v, %v", h, err)
	}
	offers, err := cl.Offer(ctx)
	if err != nil || len(offers) != 1 || offers[0].Content != cid || !offers[0].Complete || offers[0].TitleID != "title-1" {
		t.Fatalf("offer = %+v, %v", offers, err)
	}
	m, err := cl.Manifest(ctx, cid)
	if err != nil || m.ContentID() != cid {
		t.Fatalf("manifest: %v", err)
	}
	hi, err := cl.Have(ctx, cid, c.m.NumChunks())
	if err != nil || !hi.Complete || hi.Downloading || hi.Have.Count(c.m.NumChunks()) != c.m.NumChunks() || hi.Fetching.Count(c.m.NumChunks()) != 0 {
		t.Fatalf("have: %+v %v", hi, err)
	}
	if p := srv.Pollers(cid, time.Time{}); len(p) != 1 || p[0] != b.ID() {
		t.Fatalf("pollers = %v, want [%s]", p, b.ID())
	}
	if p := srv.Pollers(cid, time.Now().Add(time.Hour)); len(p) != 0 {
		t.Fatalf("pollers since an hour from now = %v, want none", p)
	}
	got, err := cl.Chunk(ctx, c.m, 3, nil)
	if err != nil || !bytes.Equal(got, c.chunk(3)) {
		t.Fatalf("chunk 3: %v", err)
	}
	// A byte range of the sealed file across a chunk boundary.
	off, _ := c.m.ChunkRange(2)
	resp, err := cl.get(ctx, "/kith/v1/content/"+cid.String(), http.Header{"Range": {"bytes=" + itoa(off-10) + "-" + itoa(off+9)}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, c.file[off-10:off+10]) {
		t.Fatalf("range: %d %d bytes", resp.StatusCode, len(body))
	}
	// A range inside one chunk.
	resp, err = cl.get(ctx, "/kith/v1/chunks/"+cid.String()+"/1", http.Header{"Range": {"bytes=5-9"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, c.chunk(1)[5:10]) {
		t.Fatalf("chunk range = %x", body)
	}

	var other sealed.ContentID
	other[0] = 1
	for _, tt := range []struct {
		name, path string
		want       int
	}{
		{"content not held: same 403 as not allowed", "/kith/v1/chunks/" + other.String() + "/0", 403},
		{"manifest not held", "/kith/v1/manifest/" + other.String(), 403},
		{"malformed content id", "/kith/v1/chunks/zz/0", 400},
		{"malformed index", "/kith/v1/chunks/" + cid.String() + "/x", 400},
		{"chunk past the end", "/kith/v1/chunks/" + cid.String() + "/99999", 404},
		{"relay not configured", "", 0},
	} {
		if tt.path == "" {
			continue
		}
		_, err := cl.get(ctx, tt.path, nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tt.want {
			t.Errorf("%s: err = %v, want status %d", tt.name, err, tt.want)
		}
	}
	if _, err := cl.Relay(ctx, &license.SealedRegistration{Device: b.ID(), Ciphertext: []byte{1}, Signature: []byte{2}}); err == nil {
		t.Error("relay without a relayer accepted")
	}
}

func TestRestrictions(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 30_000, 4096, 2)
	a, b, home := newIdent(t), newIdent(t), newIdent(t)
	lib := holder(t, c)
	accts := fakeAccounts{a.ID(): "alice", home.ID(): "alice", b.ID(): "bob"}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Owner: "alice", Accounts: accts})
	cb := client(t, b, a.ID(), addr)
	ch := client(t, home, a.ID(), addr)
	cid := c.m.ContentID()
	tests := []struct {
		name     string
		title    string // "" = default policy
		policy   library.Policy
		bAllowed bool
	}{
		{"anyone", "", library.Policy{Mode: "anyone"}, true},
		{"A excludes B by device in the default", "", library.Policy{Mode: "anyone", Deny: []string{string(b.ID())}}, false},
		{"A allows B again", "", library.Policy{Mode: "anyone"}, true},
		{"household only", "", library.Policy{Mode: "household"}, false},
		{"list with bob's account", "", library.Policy{Mode: "list", Allow: []string{"bob"}}, true},
		{"title-level exclusion overrides an open default", "title-1", library.Policy{Mode: "nobody"}, false},
	}
	for _, tt := range tests {
		if err := lib.SetPolicy(ctx, tt.title, tt.policy); err != nil {
			t.Fatal(err)
		}
		offers, oerr := cb.Offer(ctx)
		_, cerr := cb.Chunk(ctx, c.m, 0, nil)
		_, merr := cb.Manifest(ctx, cid)
		if tt.bAllowed {
			if oerr != nil || len(offers) != 1 || cerr != nil || merr != nil {
				t.Errorf("%s: B refused: offer %v %v, chunk %v, manifest %v", tt.name, offers, oerr, cerr, merr)
			}
		} else {
			var se *StatusError
			if len(offers) != 0 || !errors.As(cerr, &se) || se.Status != 403 || !errors.As(merr, &se) || se.Status != 403 {
				t.Errorf("%s: B not refused: offer %v %v, chunk %v, manifest %v", tt.name, offers, oerr, cerr, merr)
			}
		}
		// Our own household always gets it unless the mode is nobody.
		_, err := ch.Chunk(ctx, c.m, 0, nil)
		if want := tt.policy.Mode != "nobody"; (err == nil) != want {
			t.Errorf("%s: household device: %v", tt.name, err)
		}
	}
	// Excluded in the default policy: the offer itself is 403 (learns nothing).
	lib.SetPolicy(ctx, "title-1", library.Policy{Mode: "anyone", Deny: []string{"bob"}})
	lib.SetPolicy(ctx, "", library.Policy{Mode: "anyone", Deny: []string{"bob"}})
	var se *StatusError
	if _, err := cb.Offer(ctx); !errors.As(err, &se) || se.Status != 403 {
		t.Errorf("offer to an excluded device: %v, want 403", err)
	}
}

func TestUploadLimits(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 30_000, 4096, 3)
	a, b, d := newIdent(t), newIdent(t), newIdent(t)
	s, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), MaxUploads: 2, MaxUploadsPerPeer: 1, Accounts: everyoneEnrolled{}})
	cb, cd := client(t, b, a.ID(), addr), client(t, d, a.ID(), addr)
	rec := httptestRecorder()
	sb, ok := s.acquire(rec, b.ID(), "")
	if !ok { // B holds its one slot
		t.Fatal("first slot refused")
	}
	var se *StatusError
	if _, err := cb.Chunk(ctx, c.m, 0, nil); !errors.As(err, &se) || se.Status != 503 || se.RetryAfter <= 0 || se.Slots {
		t.Fatalf("second upload to B: %v (slots %v), want 503 with Retry-After, for B's own limit", err, se != nil && se.Slots)
	}
	if _, err := cd.Chunk(ctx, c.m, 0, nil); err != nil {
		t.Fatalf("D within the total limit: %v", err)
	}
	sd, ok := s.acquire(rec, d.ID(), "")
	if !ok { // total now 2 of 2
		t.Fatal("slot for D refused")
	}
	e := newIdent(t)
	if _, err := client(t, e, a.ID(), addr).Chunk(ctx, c.m, 0, nil); !errors.As(err, &se) || se.Status != 503 || !se.Slots {
		t.Fatalf("upload beyond the total: %v, want 503 saying the slots are full (%s)", err, BusyHeader)
	}
	s.release(sb)
	s.release(sd)
	if _, err := cb.Chunk(ctx, c.m, 0, nil); err != nil {
		t.Fatalf("after release: %v", err)
	}
	// The ledger counts what A uploaded to B.
	if err := s.FlushLedger(); err != nil {
		t.Fatal(err)
	}
	es, _ := s.o.Library.Ledger(ctx, b.ID(), 10)
	if len(es) != 1 || es[0].Bytes != int64(len(c.chunk(0))) || es[0].Direction != library.Up {
		t.Fatalf("ledger = %+v", es)
	}
}

// TestUploadSlotsHousehold: strangers share the device's upload slots
// (MaxUploads), a device of its own account does not: with every slot
// held by strangers, a household member still gets its chunk (within its
// own per-device limit) and the next stranger is answered busy.
func TestUploadSlotsHousehold(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 30_000, 4096, 3)
	a, home, stranger, other := newIdent(t), newIdent(t), newIdent(t), newIdent(t)
	accts := fakeAccounts{home.ID(): "alice", stranger.ID(): "bob", other.ID(): "carol"}
	s, addr := startServer(t, ServerOptions{Identity: a, Library: holder(t, c), Owner: "alice",
		MaxUploads: 1, MaxUploadsPerPeer: 1, Accounts: accts})
	rec := httptestRecorder()
	held, ok := s.acquire(rec, stranger.ID(), "bob") // the one shared slot
	if !ok {
		t.Fatal("the shared slot refused")
	}
	defer s.release(held)
	if _, err := client(t, home, a.ID(), addr).Chunk(ctx, c.m, 0, nil); err != nil {
		t.Fatalf("household device with the shared slots full: %v, want its chunk", err)
	}
	var se *StatusError
	if _, err := client(t, other, a.ID(), addr).Chunk(ctx, c.m, 0, nil); !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("stranger with the shared slots full: %v, want 503", err)
	}
	mine, ok := s.acquire(rec, home.ID(), "alice")
	if !ok {
		t.Fatal("household slot refused")
	}
	if _, ok := s.acquire(rec, home.ID(), "alice"); ok {
		t.Fatal("a household device got more than MaxUploadsPerPeer")
	}
	s.release(mine)
}

func TestWrongCertificateRefused(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 10_000, 4096, 4)
	a, impostor, b := newIdent(t), newIdent(t), newIdent(t)
	addr := hostileServer(t, impostor, c, honest)
	_, err := client(t, b, a.ID(), addr).Chunk(ctx, c.m, 0, nil)
	// Refused, but the address is to blame, not device a (see
	// TestSecurityWrongAddressDoesNotBanNeighbour).
	if errors.Is(err, ErrMisbehaving) || !errors.Is(err, identity.ErrWrongPeer) {
		t.Fatalf("impostor: %v, want ErrWrongPeer (not ErrMisbehaving)", err)
	}
}

// fakeRelayer answers like the directory: a reply sealed to the requester.
type fakeRelayer struct {
	dir *identity.Identity
	to  identity.PublicKeys // the requester
	got *license.Relayed
}

func (f *fakeRelayer) Relay(_ context.Context, r *license.Relayed) (*license.SealedReply, error) {
	f.got = r
	if err := r.Verify(); err != nil {
		return nil, &directory.Error{Status: 400, Code: "bad_request", Message: err.Error()}
	}
	return license.SealReply([]byte(`{"supplier":"`+r.Supplier.ID()+`"}`), f.dir, f.to)
}

func TestRelay(t *testing.T) {
	ctx := context.Background()
	a, b, dir := newIdent(t), newIdent(t), newIdent(t)
	rel := &fakeRelayer{dir: dir, to: b.Public()}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: newLib(t), Relayer: rel, Accounts: everyoneEnrolled{}})
	cb := client(t, b, a.ID(), addr)
	s, err := license.SealRegistration(license.Registration{TitleID: "title-1", Account: "bob", Device: b.Public(),
		Nonce: []byte("12345678"), Time: timeNow()}, b, dir.Public().Box)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cb.Relay(ctx, s)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	if pt, err := license.OpenReply(got, b, dir.Public().Sign); err != nil || string(pt) != `{"supplier":"`+string(a.ID())+`"}` {
		t.Fatalf("relay answer %q, %v", pt, err)
	}
	if rel.got.Registration.Device != b.ID() {
		t.Fatalf("relayed registration of %s", rel.got.Registration.Device)
	}
	// Relaying somebody else's registration is refused.
	s.Device = newIdent(t).ID()
	var se *StatusError
	if _, err := cb.Relay(ctx, s); !errors.As(err, &se) || se.Status != 400 {
		t.Fatalf("foreign registration: %v, want 400", err)
	}
}

// TestRelayOnlyForEnrolled: a device the directory does not know cannot
// make this device relay (each relay is a request on our quota); the
// directory is never asked.
func TestRelayOnlyForEnrolled(t *testing.T) {
	ctx := context.Background()
	a, b, dir := newIdent(t), newIdent(t), newIdent(t)
	rel := &fakeRelayer{dir: dir, to: b.Public()}
	_, addr := startServer(t, ServerOptions{Identity: a, Library: newLib(t), Relayer: rel, Accounts: fakeAccounts{a.ID(): "alice"}})
	s, err := license.SealRegistration(license.Registration{TitleID: "title-1", Account: "bob", Device: b.Public(),
		Nonce: []byte("12345678"), Time: timeNow()}, b, dir.Public().Box)
	if err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if _, err := client(t, b, a.ID(), addr).Relay(ctx, s); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("relay for an unknown device: %v, want 403", err)
	}
	if rel.got != nil {
		t.Fatal("the registration of an unknown device was forwarded")
	}
}
