package peer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newIdent(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// content is one sealed title for tests.
type content struct {
	file  []byte
	m     *sealed.Manifest
	key   []byte
	plain []byte
}

func makeContent(t testing.TB, n, cs int, seed uint64) *content {
	t.Helper()
	plain := make([]byte, n)
	var s [32]byte
	s[0], s[1] = byte(seed), byte(n)
	rand.NewChaCha8(s).Read(plain)
	key, _ := sealed.NewContentKey()
	var buf bytes.Buffer
	m, err := sealed.Seal(&buf, bytes.NewReader(plain), key, sealed.Options{ChunkSize: cs, MediaType: "audio/test"})
	if err != nil {
		t.Fatal(err)
	}
	return &content{file: buf.Bytes(), m: m, key: key, plain: plain}
}

func (c *content) chunk(i int) []byte {
	off, n := c.m.ChunkRange(i)
	return c.file[off : off+n]
}

func newLib(t testing.TB) *library.Library {
	t.Helper()
	l, err := library.Open(t.TempDir(), library.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// holder is a library holding c completely, with a title "t-<seed>".
func holder(t testing.TB, c *content) *library.Library {
	t.Helper()
	l := newLib(t)
	ctx := context.Background()
	if err := l.Import(ctx, c.m, bytes.NewReader(c.file)); err != nil {
		t.Fatal(err)
	}
	if err := l.PutTitle(ctx, library.Title{ID: "title-1", Name: "Song", Artist: "Band", MediaType: "audio/test", ContentID: c.m.ContentID(), Size: int64(len(c.plain))}); err != nil {
		t.Fatal(err)
	}
	return l
}

// startServer runs a peer server on loopback until the test ends.
func startServer(t testing.TB, o ServerOptions) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, o, ln), ln.Addr().String()
}

// startServerOn runs a peer server on ln until the test ends.
func startServerOn(t testing.TB, o ServerOptions, ln net.Listener) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := NewServer(o)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return s
}

// countingLoopback is a loopback listener that counts the connections it
// accepts.
func countingLoopback(t testing.TB) *countingListener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{Listener: raw}
}

func client(t testing.TB, self *identity.Identity, peer identity.ID, addr string) *Client {
	t.Helper()
	c, err := NewClient(self, peer, []string{addr}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fakeAccounts maps devices to accounts.
type fakeAccounts map[identity.ID]string

func (f fakeAccounts) Account(_ context.Context, id identity.ID) (string, error) { return f[id], nil }

// Hostile behaviours of a test peer server.
type behaviour int

const (
	honest      behaviour = iota
	corruptAll            // flips a byte in every chunk
	corruptRare           // flips a byte in 1 chunk of 1000, the first within the first 50 sent
	truncate              // declares the full length, sends half, closes
	short                 // declares and sends half the length
	oversized             // declares and sends more than the chunk
	chunkedMore           // no length declared, sends more than the chunk
	stall                 // sends 1 byte per second
	slow                  // honest, 4 ms per chunk
	slower                // honest, 20 ms per chunk
)

// hostileServer serves c's chunks as ident, misbehaving as b, over
// HTTP/1.1 only (a peer that does not speak HTTP/2).
func hostileServer(t testing.TB, ident *identity.Identity, c *content, b behaviour) string {
	t.Helper()
	return hostileServerWith(t, ident, c, b, false)
}

// hostileServerWith is hostileServer, speaking HTTP/2 (as peers do) when h2.
func hostileServerWith(t testing.TB, ident *identity.Identity, c *content, b behaviour, h2 bool) string {
	t.Helper()
	var served atomic.Int64
	// The first bad chunk falls among the first 50 this server sends, then
	// one in every 1000: a server that the fetcher, under load, asked for
	// fewer chunks than a draw over 0–999 would never have misbehaved,
	// and the test then failed with "bad source not identified".
	rareAt := int64(rand.IntN(min(50, c.m.NumChunks())))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/")
		if len(parts) == 5 && parts[3] == "have" { // claims everything, like a complete holder
			n := c.m.NumChunks()
			all := library.NewBitmap(n)
			for i := 0; i < n; i++ {
				all.Set(i)
			}
			w.Header().Set(HaveHeader, "true")
			w.Write(all)
			w.Write(library.NewBitmap(n))
			return
		}
		if len(parts) != 6 || parts[3] != "chunks" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		i, _ := strconv.Atoi(parts[5])
		data := append([]byte(nil), c.chunk(i)...)
		k := served.Add(1) - 1
		switch b {
		case corruptAll:
			data[len(data)/2] ^= 0x40
		case corruptRare:
			if k%1000 == rareAt {
				data[3] ^= 1
			}
		case short:
			data = data[:len(data)/2]
		case oversized:
			data = append(data, 1, 2, 3)
		case chunkedMore:
			w.Write(data)
			w.Write([]byte{1})
			return
		case truncate:
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(200)
			w.Write(data[:len(data)/2])
			rc := http.NewResponseController(w)
			if h2 { // no connection to hang up: the stream is reset
				rc.Flush()
				panic(http.ErrAbortHandler)
			}
			conn, buf, err := rc.Hijack()
			if err == nil {
				buf.Flush()
				conn.Close()
			}
			return
		case stall:
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(200)
			for _, x := range data {
				if _, err := w.Write([]byte{x}); err != nil {
					return
				}
				http.NewResponseController(w).Flush()
				select {
				case <-time.After(time.Second):
				case <-r.Context().Done():
					return
				}
			}
			return
		case slow:
			time.Sleep(4 * time.Millisecond)
		case slower:
			time.Sleep(20 * time.Millisecond)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ident.ServerTLS(nil)
	cfg.NextProtos = []string{"http/1.1"}
	hs := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelError),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	if h2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
		hs.TLSNextProto = nil
	}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

var _ = bufio.NewReader
var _ = errors.New
var _ = fmt.Sprint

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func timeNow() time.Time { return time.Now() }

func httptestRecorder() http.ResponseWriter { return &nopWriter{h: http.Header{}} }

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// everyoneEnrolled is a directory that knows every device (each its own
// account), for tests about transfers rather than who may copy.
type everyoneEnrolled struct{}

func (everyoneEnrolled) Account(_ context.Context, id identity.ID) (string, error) {
	return "acct-" + strings.ToLower(id.Short()), nil
}
