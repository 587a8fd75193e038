package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
)

// TestCatalogTextPlain: what a directory that is not honest answers as a
// title's text (its store written directly; real TLS) reaches the client's
// callers — the app's lists, kithctl, the library — as one plain line:
// no line break, escape sequence or U+202E. They were passed on raw.
func TestCatalogTextPlain(t *testing.T) {
	ctx := context.Background()
	d := dirtest.Serve(t, directory.Options{RateAuth: -1})
	rec := &directory.TitleRecord{Title: directory.Title{ID: "t-hostile", Name: "Evening\x1b]0;pwned\x07 Bells\nFAKE ROW",
		Artist: "Red\u202Eeulb", MediaType: "audio/mpeg", Size: 1000, TitleTags: directory.TitleTags{Album: "one\u2028two"}},
		Manifest: []byte{0}, SealedKey: []byte{0}, Published: time.Now()} // listed, never fetched
	if err := d.Store.PutTitle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	c := d.Client(t, nil)
	ts, _, err := c.Titles(ctx, "", 0, 0)
	if err != nil || len(ts) != 1 {
		t.Fatalf("titles: %+v, %v", ts, err)
	}
	one, err := c.Title(ctx, "t-hostile")
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []directory.Title{ts[0], *one} {
		if got.Name != "Evening ]0;pwned Bells FAKE ROW" || got.Artist != "Red eulb" || got.Album != "one two" {
			t.Errorf("the client passed on %q by %q, album %q; want them plain", got.Name, got.Artist, got.Album)
		}
	}
}
