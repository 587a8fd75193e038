package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/oneline"
)

// What answers a refusal may be a proxy's or a captive portal's HTML page,
// not the directory: the client keeps 64 KiB of it as the message, and a
// status line must show one short line of it, with no line breaks or bidi
// controls, not the page.
func TestErrTextOfAProxysPage(t *testing.T) {
	page := "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\u202e" +
		strings.Repeat("<p>upstream went away\r\n</p>\t", 4000) + "</body></html>"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(page))
	}))
	defer srv.Close()
	c, err := directory.NewClient(directory.ClientOptions{URL: srv.URL + "#" + strings.Repeat("a", 56), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(context.Background())
	var de *directory.Error
	if !errors.As(err, &de) || len(de.Message) < 32<<10 {
		t.Fatalf("asking a proxy that answers a 502 page: %v; want a directory.Error with the page as its message", err)
	}
	got := errText(err)
	if n := utf8.RuneCountInString(got); n > oneline.MaxMessage+1 {
		t.Fatalf("errText is %d runes; want at most %d", n, oneline.MaxMessage+1)
	}
	if !strings.HasPrefix(got, "<html> <head><title>502 Bad Gateway</title></head> <body> <p>upstream went away </p> <p>") ||
		!strings.HasSuffix(got, "…") {
		t.Fatalf("errText = %q; want the page's start on one line, cut with …", got)
	}
	for _, r := range got {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			t.Fatalf("errText = %q: holds %U", got, r)
		}
	}
	// A directory's own short message is shown as it wrote it.
	if got := errText(&directory.Error{Status: 403, Message: "this account has 8 devices, the most it may have"}); got != "this account has 8 devices, the most it may have" {
		t.Fatalf("errText of a short message = %q", got)
	}
}
