package directory_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
)

// TestSecurityReplayedOriginReadIsBudgeted: an origin read carrying a
// device's signature that does not authenticate (here: the same signed
// request sent twice, as an HTTP client retrying it does) is budgeted
// like a stranger's while another device holds the content — not served
// free like an unsigned read, as it was before.
func TestSecurityReplayedOriginReadIsBudgeted(t *testing.T) {
	s, st, title := originTitle(t, 7)
	holder, asker := enrollIn(t, st, "alice"), enrollIn(t, st, "bob")
	body := []byte(fmt.Sprintf(`{"addrs":["192.0.2.1:7000"],"holdings":[{"content":"%s","complete":true,"policy":{"mode":"anyone"}}],"load":0}`, title.ContentID))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, signedReq(holder, "POST", "/v1/announce", body, "192.0.2.1:40000"))
	if w.Code != http.StatusOK {
		t.Fatalf("announce: %d %s", w.Code, w.Body)
	}
	const part = 32 << 10
	served, refused := 0, 0
	for off := int64(0); off+part <= title.Size; off += part {
		r := signedReq(asker, "GET", "/v1/content/"+title.ContentID.String(), nil, "192.0.2.9:40000")
		r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+part-1))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r) // authenticated: bob is not a sharer, the repeat budget decides
		replay := r.Clone(context.Background())
		w = httptest.NewRecorder()
		s.ServeHTTP(w, replay) // the same signature again: not authenticated
		switch w.Code {
		case http.StatusPartialContent, http.StatusOK:
			served++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("replayed read at %d: %d %s", off, w.Code, w.Body)
		}
	}
	if refused == 0 || int64(served*part) > title.Size/5 {
		t.Errorf("replayed signed reads while alice holds the title: %d served (%d bytes of %d), %d refused; want most refused", served, served*part, title.Size, refused)
	}
}

// published is a real SQLite store (closed when the test ends) whose
// origin holds one published title of random bytes.
type published struct {
	st     *sqlitestore.Store
	path   string // the database file
	id     *identity.Identity
	origin string
	title  *directory.Title
}

// publishTitle publishes a title of size random bytes (from seed) in a new
// store opened with o.
func publishTitle(t *testing.T, seed byte, size int, o sqlitestore.Options) *published {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	p := &published{path: filepath.Join(dir, "d.db"), origin: filepath.Join(dir, "origin")}
	var err error
	if p.st, err = sqlitestore.Open(ctx, p.path, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.st.Close() })
	if p.id, err = identity.Generate(); err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, size)
	rand.NewChaCha8([32]byte{seed}).Read(plain)
	p.title, err = directory.Publish(ctx, p.st, p.id, p.origin, bytes.NewReader(plain), directory.PublishOptions{Name: "Song", MediaType: "audio/mpeg"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// originTitle serves a directory (a real SQLite store, no rate limits)
// whose origin holds one published title of 1 MiB of random bytes (from
// seed).
func originTitle(t *testing.T, seed byte) (*directory.Server, *sqlitestore.Store, *directory.Title) {
	t.Helper()
	p := publishTitle(t, seed, 1<<20, sqlitestore.Options{})
	st, id, origin, title := p.st, p.id, p.origin, p.title
	s, err := directory.NewServer(directory.Options{Identity: id, Store: st, OriginDir: origin, Logger: slog.New(slog.DiscardHandler),
		RateIP: -1, RateDevice: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, title
}
