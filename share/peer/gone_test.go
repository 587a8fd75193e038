package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

// TestCallerGoneIsNotAnError (issue 13: a client that goes away is not an
// error): a handler whose request's context ended (its caller went away,
// over HTTP/2 a reset stream, on the chunk wire a cancel; or the server
// is stopping) answers 503 and logs no ERROR or WARN; the same failure
// with the caller still there (the library closed) is still an ERROR.
func TestCallerGoneIsNotAnError(t *testing.T) {
	a, me := newIdent(t), newIdent(t)
	cert, err := me.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	cs := &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{leaf}}
	if id, _, err := identity.PeerID(*cs); err != nil || id != me.ID() {
		t.Fatalf("the caller's TLS state: %s, %v", id, err)
	}
	var logs bytes.Buffer
	lib := newLib(t)
	s, err := NewServer(ServerOptions{Identity: a, Library: lib, Accounts: everyoneEnrolled{},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	offer := func(ctx context.Context) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/kith/v1/offer", nil)
		r.TLS = cs
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if w := offer(ctx); w.Code == http.StatusInternalServerError || logs.Len() > 0 {
		t.Errorf("a caller gone: %d %q; logged %q", w.Code, w.Body, logs.String())
	}
	logs.Reset()
	lib.Close()
	if w := offer(context.Background()); w.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the library closed, the caller there: %d %q; logged %q, want a 500 and an ERROR", w.Code, w.Body, logs.String())
	}
}
