package peer

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// TestChunkCarriesHave: a partial holder's chunk answers carry what /have
// would answer (HaveBitsHeader), so a requester learns each chunk the
// holder gained without polling; a complete holder's say so; the holder
// notes the requester as a poller (its crowd sees who downloads from it).
func TestChunkCarriesHave(t *testing.T) {
	ctx := context.Background()
	c := makeContent(t, 40_000, 4096, 3)
	n := c.m.NumChunks()
	cid := c.m.ContentID()
	lib := newLib(t)
	if err := lib.AddManifest(ctx, c.m); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} {
		if err := lib.WriteChunk(cid, i, c.chunk(i)); err != nil {
			t.Fatal(err)
		}
	}
	a, b := newIdent(t), newIdent(t)
	fetching := library.NewBitmap(n)
	fetching.Set(5)
	srv, addr := startServer(t, ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{},
		Fetching:    func(sealed.ContentID) library.Bitmap { return fetching },
		Downloading: func(sealed.ContentID) bool { return true }})
	cl := client(t, b, a.ID(), addr)

	check := func(held ...int) {
		t.Helper()
		got, hi, err := cl.chunkHave(ctx, c.m, cid, 0, nil)
		if err != nil || !bytes.Equal(got, c.chunk(0)) {
			t.Fatalf("chunk 0: %v", err)
		}
		want, err := cl.Have(ctx, cid, n)
		if err != nil {
			t.Fatal(err)
		}
		if hi == nil || hi.Complete || !hi.Downloading || !bytes.Equal(hi.Have, want.Have) || !bytes.Equal(hi.Fetching, want.Fetching) {
			t.Fatalf("carried %+v, /have answers %+v", hi, want)
		}
		if hi.Have.Count(n) != len(held) || !hi.Fetching.Has(5) {
			t.Fatalf("carried have %08b fetching %08b, want chunks %v and 5 fetching", hi.Have, hi.Fetching, held)
		}
		for _, i := range held {
			if !hi.Have.Has(i) {
				t.Fatalf("carried have %08b lacks chunk %d", hi.Have, i)
			}
		}
	}
	check(0, 2)
	if err := lib.WriteChunk(cid, 7, c.chunk(7)); err != nil {
		t.Fatal(err)
	}
	check(0, 2, 7) // the gain shows on the next answer
	if p := srv.Pollers(cid, time.Time{}); len(p) != 1 || p[0] != b.ID() {
		t.Fatalf("pollers = %v, want [%s]", p, b.ID())
	}

	// A complete holder says so, without bitmaps.
	full := holder(t, c)
	c2 := newIdent(t)
	_, addr2 := startServer(t, ServerOptions{Identity: c2, Library: full, Accounts: everyoneEnrolled{}})
	cl2 := client(t, b, c2.ID(), addr2)
	resp, err := cl2.get(ctx, "/kith/v1/chunks/"+cid.String()+"/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get(HaveHeader) != "true" || resp.Header.Get(HaveBitsHeader) != "" {
		t.Fatalf("complete holder's chunk answer: %s %q, %s %q", HaveHeader, resp.Header.Get(HaveHeader), HaveBitsHeader, resp.Header.Get(HaveBitsHeader))
	}
}

// TestCarriedHaveRejected: a chunk answer whose carried state is not what
// /have could answer is the peer misbehaving.
func TestCarriedHaveRejected(t *testing.T) {
	const n = 20 // 3 bytes of bitmap each
	ok := base64.RawURLEncoding.EncodeToString(make([]byte, 6))
	for _, h := range []http.Header{
		{HaveHeader: {"yes"}},
		{HaveHeader: {"false"}},
		{HaveHeader: {"false"}, HaveBitsHeader: {ok + "AA"}},
		{HaveHeader: {"false"}, HaveBitsHeader: {base64.RawURLEncoding.EncodeToString(make([]byte, 5))}},
		{HaveHeader: {"false"}, HaveBitsHeader: {ok[:len(ok)-1] + "*"}},
		{HaveHeader: {"false"}, HaveBitsHeader: {base64.StdEncoding.EncodeToString(make([]byte, 6))[:7] + "="}},
	} {
		if hi, err := carriedHave(h, n); err == nil {
			t.Errorf("%v accepted: %+v", h, hi)
		}
	}
	if hi, err := carriedHave(http.Header{HaveHeader: {"false"}, HaveBitsHeader: {ok}}, n); err != nil || hi == nil || len(hi.Have) != 3 || len(hi.Fetching) != 3 {
		t.Errorf("a valid carried state: %+v, %v", hi, err)
	}
	if hi, err := carriedHave(http.Header{}, n); err != nil || hi != nil {
		t.Errorf("no carried state: %+v, %v", hi, err)
	}
}
