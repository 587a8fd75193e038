package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/kith-media/kith/internal/datadir"
)

// `kithctl neighbours add` prints the new neighbour's name as the
// directory told it (an older or hostile directory may not check names)
// and its addresses: a terminal escape, a line break or a U+202E in them
// is printed as one plain line. They were printed raw. The device here is
// a stand-in answering on the real control socket, so the client's whole
// path (socket, HTTP, JSON, printing) runs.
func TestNeighbourAddPrintedPlain(t *testing.T) {
	data := t.TempDir()
	ln, err := listenUnix(datadir.Dir(data).ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"dev1","name":"attic\u001b]0;pwned\u0007\nFAKE\u202e","addrs":["10.0.0.2:7000\r\nx"],"hand":true}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--data", data, "neighbours", "add", "10.0.0.2:7000"}, &out, &errb); code != 0 {
		t.Fatalf("neighbours add: exit %d: %s%s", code, out.String(), errb.String())
	}
	got := out.String()
	if strings.ContainsAny(got, "\x1b\x07\r\u202E") || strings.Count(got, "\n") != 1 ||
		!strings.HasPrefix(got, "added attic ]0;pwned FAKE (dev1) at 10.0.0.2:7000 x:") {
		t.Fatalf("neighbours add printed %q; want one plain line", got)
	}
}
