package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/dirtest"
	"github.com/kith-media/kith/internal/oneline"
)

// A proxy in front of the directory (an operator's, holding the
// directory's certificate; real TLS both ways) answers a sign-up with a
// ~120 KB HTML 502 page, line breaks and a U+202E in it: kithctl says so
// on one line of at most oneline.MaxLine runes, with the page's start,
// as the app's status line does. It printed the first 64 KiB of the page,
// ~16,000 lines, raw.
func TestProxyPageIsOneLine(t *testing.T) {
	d := dirtest.Serve(t, directory.Options{RateAuth: -1})
	page := "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\u202e" +
		strings.Repeat("<p>upstream went away\r\n</p>\t", 4000) + "</body></html>"
	up, _ := url.Parse("https://" + d.Addr)
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the proxy's own leg
	cfg, err := d.Server.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/v1/accounts" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte(page))
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go proxy.ServeTLS(ln, "", "")
	t.Cleanup(func() { proxy.Close() })

	t.Setenv(envPassword, "correct horse battery")
	cmd := serveDevice(t, directory.FormatURL("https://"+ln.Addr().String(), d.Server.ID()), t.TempDir(), "127.0.0.1:0")
	code, out := cmd("signup", "alice")
	if code != 1 {
		t.Fatalf("signup through a proxy answering 502: exit %d: %.300q", code, out)
	}
	line := strings.TrimSuffix(out, "\n")
	if n := utf8.RuneCountInString(line); n > oneline.MaxLine+1 || strings.ContainsAny(line, "\r\n") {
		t.Fatalf("kithctl's error is %d runes, %d lines; want one line of at most %d: %.300q", n, strings.Count(out, "\n"), oneline.MaxLine, out)
	}
	if !strings.HasPrefix(line, "kithctl signup: ") || !strings.Contains(line, "<title>502 Bad Gateway</title></head> <body> <p>upstream went away </p>") ||
		!strings.Contains(line, "…") || !strings.Contains(line, "(502 Bad Gateway)") {
		t.Fatalf("kithctl's error %q; want the page's start on one line, cut with …, and the status", line)
	}
	for _, r := range line {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			t.Fatalf("kithctl's error holds %U: %q", r, line)
		}
	}
}
