package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
)

// A catalog title whose name and artist carry a terminal's escape
// sequences (an OSC retitling the window, a colour), a line break and a
// U+202E — what a hostile directory may answer (a real one, real TLS,
// its store written directly) — is listed by `kithctl titles` on its one
// row, plain: none of them reaches the terminal. They were printed raw.
func TestTitlesPrintedPlain(t *testing.T) {
	d := dirtest.Serve(t, directory.Options{RateAuth: -1})
	rec := &directory.TitleRecord{Title: directory.Title{ID: "t-hostile", Name: "Evening\x1b]0;pwned\x07 Bells\nFAKE ROW\t9.99",
		Artist: "\x1b[31mRed\u202Eeulb", MediaType: "audio/mpeg", Size: 1000, Currency: "EUR"},
		Manifest: []byte{0}, SealedKey: []byte{0}, Published: time.Now()} // listed, never fetched
	if err := d.Store.PutTitle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envPassword, "correct horse battery")
	cmd := serveDevice(t, d.URL, t.TempDir(), "127.0.0.1:0")
	code, out := cmd("titles")
	if code != 0 {
		t.Fatalf("titles: exit %d: %s", code, out)
	}
	if strings.ContainsAny(out, "\x1b\x07\u202E") || strings.Count(out, "\n") != 2 {
		t.Fatalf("kithctl titles printed %q; want the header and one plain row", out)
	}
	if !strings.Contains(out, "Evening ]0;pwned Bells FAKE ROW 9.99") || !strings.Contains(out, "[31mRed eulb") {
		t.Fatalf("kithctl titles printed %q; want the name and artist on the row, controls as spaces", out)
	}
}

// A receipt's fields come from the directory (and through it from the
// payment processor): a hostile one's escape sequences, line breaks and
// U+202E are printed as one plain line, as titles' are. They were printed raw.
func TestReceiptPrintedPlain(t *testing.T) {
	var b strings.Builder
	printReceipt(&b, directory.Receipt{PurchaseID: "p-1\n\x1b]0;pwned\x07", TitleID: "t\u202eexe.mp3", Account: "home\r\nregistered t-2 for you",
		Amount: 199, Currency: "EUR\x1b[2J", CardBrand: "visa\u2028", CardLast4: "42\x00", Supplier: "dev\x1b[31m"})
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\x00\r\u202e\u2028") || strings.Count(out, "\n") != 1 {
		t.Fatalf("printReceipt printed %q; want one plain line", out)
	}
	if !strings.Contains(out, "registered t exe.mp3 for home registered t-2 for you: 1.99 EUR [2J (visa …42)") {
		t.Fatalf("printReceipt printed %q; want its fields with controls as spaces", out)
	}
}
