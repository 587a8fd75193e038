package peer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kith-media/kith/internal/oneline"
)

// hiddenText reports the first character of s a person must not be shown
// from a peer: a control, a bidi control, a line or paragraph separator.
func hiddenText(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return r, true
		}
	}
	return 0, false
}

// TestSecurityOfferTextPlain: a LAN neighbour's /offer, over real TLS,
// whose names hold bidi controls (U+202E shows "Free Song\u202E3pm.exe"
// as "Free Songexe.mp3"), isolates, a line separator (a second row) and
// an honest right-to-left mark reaches the caller as plain text, every
// offer kept: refusing would lose an older peer's whole answer.
func TestSecurityOfferTextPlain(t *testing.T) {
	a, b := newIdent(t), newIdent(t)
	hostile := []Offer{
		{TitleID: "t1", Name: "Free Song\u202E3pm.exe", Artist: "\u2066Band\u2069\u2028Second row", MediaType: "audio/flac", Size: 1, Chunks: 1, Have: 1, Complete: true},
		{TitleID: "t2", Name: "\u05e9\u05d9\u05e8\u200F", Artist: "A\u2029B\u200EC", MediaType: "audio/\u202Dflac", Size: 1, Chunks: 1},
	}
	want := []struct{ name, artist, media string }{
		{"Free Song 3pm.exe", "Band Second row", "audio/flac"},
		{"\u05e9\u05d9\u05e8", "A B C", "audio/ flac"},
	}
	body, dropped := encodeOffers(hostile) // the server side cleans control characters only: this is on the wire
	if dropped != 0 || !strings.Contains(string(body), "\u202E") {
		t.Fatalf("the answer does not carry the bidi controls: %d dropped, %s", dropped, body)
	}
	addr := offerServer(t, a, func() io.Reader { return strings.NewReader(string(body)) })
	got, err := client(t, b, a.ID(), addr).Offer(context.Background())
	if err != nil || len(got) != len(hostile) {
		t.Fatalf("offer: %d offers, %v; want %d", len(got), err, len(hostile))
	}
	for i, o := range got {
		for _, f := range []string{o.Name, o.Artist, o.MediaType} {
			if r, bad := hiddenText(f); bad {
				t.Errorf("offer %d: %q holds %U", i, f, r)
			}
		}
		if o.Name != want[i].name || o.Artist != want[i].artist || o.MediaType != want[i].media || o.TitleID != hostile[i].TitleID {
			t.Errorf("offer %d: %q by %q (%q, title %q), want %q by %q (%q)", i, o.Name, o.Artist, o.MediaType, o.TitleID,
				want[i].name, want[i].artist, want[i].media)
		}
	}
}

// TestSecurityHelloNamePlain: a neighbour's hello, over real TLS, naming
// itself with a bidi override and a line separator gives a plain name.
func TestSecurityHelloNamePlain(t *testing.T) {
	a, b := newIdent(t), newIdent(t)
	body, err := json.Marshal(Hello{Device: a.ID(), Name: "Kitchen\u202Etxt.exe\u2028Admin", Proto: ProtoVersion})
	if err != nil {
		t.Fatal(err)
	}
	addr := offerServer(t, a, func() io.Reader { return strings.NewReader(string(body)) })
	h, err := client(t, b, a.ID(), addr).Hello(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "Kitchen txt.exe Admin" {
		t.Fatalf("hello name %q, want %q", h.Name, "Kitchen txt.exe Admin")
	}
}

// TestSecurityPeerRefusalPlain: a peer's refusal, over real TLS, whose
// body carries a terminal's escape sequence (clearing kithctl's screen),
// line breaks and a U+202E reaches the caller (the app's status line,
// kithctl's fetch lines) as one plain line of at most MaxMessage runes.
func TestSecurityPeerRefusalPlain(t *testing.T) {
	a, b := newIdent(t), newIdent(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.ServerTLS(nil)
	cfg.NextProtos = []string{"http/1.1"}
	body := "no\x1b[2J\x1b]0;pwned\x07\r\nfake line\u202Eexe.txt " + strings.Repeat("x", 1000)
	hs := &http.Server{TLSConfig: cfg, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, body)
		})}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	_, err = client(t, b, a.ID(), ln.Addr().String()).Offer(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Fatalf("offer: %v; want a 403 StatusError", err)
	}
	if r, bad := hiddenText(err.Error()); bad {
		t.Fatalf("the refusal shows %U: %q", r, err)
	}
	if want := "no [2J ]0;pwned fake line exe.txt x"; !strings.HasPrefix(se.Message, want) || utf8.RuneCountInString(se.Message) > oneline.MaxMessage+1 {
		t.Fatalf("message %q (%d runes); want it to start %q, at most %d runes", se.Message, utf8.RuneCountInString(se.Message), want, oneline.MaxMessage+1)
	}
}
