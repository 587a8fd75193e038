package install

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePackage writes a pseudo-random package of n bytes as dir/name and
// returns its SHA-256.
func writePackage(t testing.TB, dir, name string, n int, seed uint64) string {
	t.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newSite(t *testing.T, dir string) *Site {
	return NewSite(Options{Dir: dir, DeviceName: "Ana's <laptop>", Logger: quietLogger()})
}

func do(s http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://kith.test/", nil)
	r.URL.Path = path
	r.RequestURI = path
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestPageShowsPackage(t *testing.T) {
	for _, name := range packageFiles {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			sum := writePackage(t, dir, name, 100_000, 1)
			s := newSite(t, dir)
			w := do(s, "GET", "/")
			body := w.Body.String()
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("GET /: %d %s", w.Code, w.Header().Get("Content-Type"))
			}
			for _, want := range []string{
				sum,                           // the checksum
				`href="/` + PackageName + `"`, // the download link
				"Ana&#39;s &lt;laptop&gt;",    // the device name, escaped
				"tar xf " + PackageName,       // install steps
				"sudo make install",           //
				"98 KiB",                      // the size
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(body, "<laptop>") {
				t.Error("device name not escaped")
			}
			if w.Header().Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
			info, err := s.Info()
			if err != nil || !info.Available || info.SHA256 != sum || info.Size != 100_000 ||
				info.Path != "/"+PackageName || info.File != name {
				t.Errorf("Info = %+v, %v", info, err)
			}
		})
	}
}

func TestMissingPackage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		why   string // in the page
	}{
		// An empty folder: the page says the package is not available.
		{"empty", func(*testing.T, string) {}, ""},
		// The folder itself does not exist.
		{"no folder", func(t *testing.T, dir string) { os.Remove(dir) }, ""},
		// A directory where the tarball should be is not offered.
		{"directory", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "Kith.tar.xz"), 0o755) }, "not a regular file"},
		// A package that disagrees with its .sha256 file is not offered.
		{"bad sum", func(t *testing.T, dir string) {
			writePackage(t, dir, "Kith.tar.xz", 1000, 2)
			os.WriteFile(filepath.Join(dir, "Kith.tar.xz.sha256"), []byte(strings.Repeat("0", 64)+"  Kith.tar.xz\n"), 0o644)
		}, "does not match its checksum file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			s := newSite(t, dir)
			w := do(s, "GET", "/")
			if w.Code != 200 || !strings.Contains(w.Body.String(), "not available on this device") ||
				!strings.Contains(w.Body.String(), tc.why) {
				t.Errorf("GET /: %d\n%s", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), `href="/`+PackageName+`"`) {
				t.Error("page links a package that is not there")
			}
			for _, p := range []string{"/" + PackageName, "/" + PackageName + ".sha256"} {
				if w := do(s, "GET", p); w.Code != 404 || !strings.Contains(w.Body.String(), "not available") {
					t.Errorf("GET %s: %d %s", p, w.Code, w.Body)
				}
			}
			if info, err := s.Info(); err != nil || info.Available {
				t.Errorf("Info = %+v, %v", info, err)
			}
		})
	}
}

func TestPackageDownload(t *testing.T) {
	dir := t.TempDir()
	sum := writePackage(t, dir, "Kith.tar.xz", 300_000, 3)
	// A matching sha256sum file beside it is fine.
	os.WriteFile(filepath.Join(dir, "Kith.tar.xz.sha256"), []byte(sum+"  Kith.tar.xz\n"), 0o644)
	want, _ := os.ReadFile(filepath.Join(dir, "Kith.tar.xz"))
	s := newSite(t, dir)
	p := "/" + PackageName
	for _, tc := range []struct {
		name   string
		method string
		hdr    []string
		code   int
		body   []byte
		length string
	}{
		// The whole tarball with its length.
		{"get", "GET", nil, 200, want, "300000"},
		// HEAD: the length, no body.
		{"head", "HEAD", nil, 200, nil, "300000"},
		// A resumed download.
		{"range", "GET", []string{"Range", "bytes=1000-1999"}, 206, want[1000:2000], "1000"},
		// If-Range with the ETag (the checksum) resumes; with another, the whole file.
		{"if-range", "GET", []string{"Range", "bytes=299990-", "If-Range", `"` + sum + `"`}, 206, want[299990:], "10"},
		{"if-range stale", "GET", []string{"Range", "bytes=299990-", "If-Range", `"old"`}, 200, want, "300000"},
		// A cached copy with the same ETag is not sent again.
		{"not modified", "GET", []string{"If-None-Match", `"` + sum + `"`}, 304, nil, ""},
		// A range past the end.
		{"bad range", "GET", []string{"Range", "bytes=400000-"}, 416, nil, ""},
	} {
		w := do(s, tc.method, p, tc.hdr...)
		if w.Code != tc.code {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.code)
			continue
		}
		if tc.body != nil && string(w.Body.Bytes()) != string(tc.body) {
			t.Errorf("%s: body of %d bytes differs from the %d wanted", tc.name, w.Body.Len(), len(tc.body))
		}
		if tc.method == "HEAD" && w.Body.Len() != 0 {
			t.Errorf("%s: HEAD has a body", tc.name)
		}
		if tc.length != "" && w.Header().Get("Content-Length") != tc.length {
			t.Errorf("%s: Content-Length %q, want %q", tc.name, w.Header().Get("Content-Length"), tc.length)
		}
	}
	w := do(s, "GET", p+".sha256")
	if got := w.Body.String(); w.Code != 200 || got != sum+"  "+PackageName+"\n" {
		t.Errorf("GET .sha256: %d %q", w.Code, got)
	}
}

func TestChecksumFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	s := newSite(t, dir)
	if info, _ := s.Info(); info.Available {
		t.Fatal("available before the package exists")
	}
	first := writePackage(t, dir, "Kith.tar.xz", 5000, 4)
	if info, _ := s.Info(); info.SHA256 != first {
		t.Fatalf("got %s, want %s", info.SHA256, first)
	}
	second := writePackage(t, dir, "Kith.tar.xz", 6000, 5)
	os.Chtimes(filepath.Join(dir, "Kith.tar.xz"), time.Now(), time.Now().Add(time.Minute))
	if info, _ := s.Info(); info.SHA256 != second || info.Size != 6000 {
		t.Fatalf("after replacing: got %s (%d bytes), want %s", info.SHA256, info.Size, second)
	}
	// The arch-named package wins over Kith.tar.xz.
	third := writePackage(t, dir, PackageName, 7000, 6)
	if info, _ := s.Info(); info.SHA256 != third || info.File != PackageName {
		t.Fatalf("with both: got %+v, want %s", info, third)
	}
}

func TestOnlyThreePaths(t *testing.T) {
	dir := t.TempDir()
	writePackage(t, dir, "Kith.tar.xz", 1000, 7)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o600)
	s := newSite(t, dir)
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 200},
		{"GET", "/" + PackageName, 200},
		{"GET", "/" + PackageName + ".sha256", 200},
		// The on-disk name is not a URL.
		{"GET", "/Kith.tar.xz", 404},
		// Nothing else in the folder is reachable, by any spelling.
		{"GET", "/secret", 404},
		{"GET", "/../secret", 404},
		{"GET", "/" + PackageName + "/../secret", 404},
		{"GET", "/%2e%2e/secret", 404},
		{"GET", "/..%2fsecret", 404},
		{"GET", "//" + PackageName, 404},
		{"GET", "/" + PackageName + "/", 404},
		{"GET", "/./" + PackageName, 404},
		{"GET", "/etc/passwd", 404},
		{"GET", "/kith/v1/hello", 404}, // the peer protocol is TLS-only
		{"GET", "/favicon.ico", 404},
		{"GET", "/install/", 404},
		// Only GET and HEAD.
		{"POST", "/", 405},
		{"PUT", "/" + PackageName, 405},
		{"DELETE", "/" + PackageName, 405},
		{"OPTIONS", "/", 405},
	} {
		if w := do(s, tc.method, tc.path); w.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.code)
		} else if strings.Contains(w.Body.String(), "secret") && tc.code != 200 {
			t.Errorf("%s %s leaks the file", tc.method, tc.path)
		}
	}
}

// blockingWriter is a ResponseWriter whose body writes wait for release.
type blockingWriter struct {
	*httptest.ResponseRecorder
	started chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	select {
	case w.started <- struct{}{}:
	default:
	}
	<-w.release
	return w.ResponseRecorder.Write(p)
}

func TestDownloadLimit(t *testing.T) {
	dir := t.TempDir()
	writePackage(t, dir, "Kith.tar.xz", 1000, 8)
	s := NewSite(Options{Dir: dir, MaxDownloads: 1, Logger: quietLogger()})
	bw := &blockingWriter{httptest.NewRecorder(), make(chan struct{}, 1), make(chan struct{})}
	done := make(chan struct{})
	go func() {
		r := httptest.NewRequest("GET", "/"+PackageName, nil)
		s.ServeHTTP(bw, r)
		close(done)
	}()
	<-bw.started
	// A second download while the first holds the only slot: busy.
	if w := do(s, "GET", "/"+PackageName); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("second download: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// The page and the checksum do not take a download slot.
	if w := do(s, "GET", "/"); w.Code != 200 {
		t.Errorf("page during a download: %d", w.Code)
	}
	if w := do(s, "GET", "/"+PackageName+".sha256"); w.Code != 200 {
		t.Errorf("checksum during a download: %d", w.Code)
	}
	close(bw.release)
	<-done
	if w := do(s, "GET", "/"+PackageName); w.Code != 200 {
		t.Errorf("download after the first ended: %d", w.Code)
	}
}

// serveSite runs s on a loopback Demux's plain side.
func serveSite(t testing.TB, s *Site) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := NewDemux(ln, DemuxOptions{Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { errs <- d.Serve(ctx) }()
	go func() { errs <- s.Serve(ctx, d.Plain()) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return ln.Addr().String()
}

// A neighbour's browser: the page, then the package, over real HTTP.
func TestSiteOverHTTP(t *testing.T) {
	dir := t.TempDir()
	sum := writePackage(t, dir, "Kith.tar.xz", 2_000_000, 9)
	addr := serveSite(t, newSite(t, dir))
	c := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
	defer c.CloseIdleConnections()
	if page := get(t, c, "http://"+addr+"/"); !strings.Contains(page, sum) {
		t.Error("page over HTTP lacks the checksum")
	}
	resp, err := c.Get("http://" + addr + "/" + PackageName)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != 2_000_000 || hex.EncodeToString(h.Sum(nil)) != sum || resp.ContentLength != n {
		t.Errorf("download: %d bytes (Content-Length %d), %v", n, resp.ContentLength, err)
	}
	// Raw request lines, as a hostile client might send them: never a file.
	for _, target := range []string{"/../Kith.tar.xz", "/%2e%2e/" + PackageName, "*", "http://evil/" + PackageName + "x"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("%s: %v", target, err)
		} else if resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("raw GET %s: %s", target, resp.Status)
		}
		conn.Close()
	}
}

// A download whose reader stops taking bytes is cut off after StallTimeout.
func TestStalledDownloadIsCut(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 48 MB package")
	}
	dir := t.TempDir()
	writePackage(t, dir, "Kith.tar.xz", 48<<20, 10)
	s := NewSite(Options{Dir: dir, StallTimeout: 300 * time.Millisecond, MaxDownloads: 1, Logger: quietLogger()})
	addr := serveSite(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", PackageName)
	time.Sleep(1500 * time.Millisecond) // read nothing: the server's writes stall
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err != nil {
		t.Fatalf("reading after the stall: %v after %d bytes", err, n)
	}
	if n >= 48<<20 {
		t.Errorf("got all %d bytes; want the stalled download cut off", n)
	}
	// The slot is free again.
	c := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Head("http://" + addr + "/" + PackageName)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD after the cut: %v %v", resp, err)
	}
	resp.Body.Close()
}

func FuzzPaths(f *testing.F) {
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "Kith.tar.xz"), []byte("package"), 0o644)
	os.WriteFile(filepath.Join(dir, "other"), []byte("other"), 0o644)
	s := NewSite(Options{Dir: dir, Logger: quietLogger()})
	for _, p := range []string{"/", "/" + PackageName, "/../other", "/other", "/" + PackageName + ".sha256"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		w := do(s, "GET", p)
		switch p {
		case "/", "/" + PackageName, "/" + PackageName + ".sha256":
			if w.Code != 200 {
				t.Errorf("%q: %d", p, w.Code)
			}
		default:
			if w.Code != 404 {
				t.Errorf("%q: %d, want 404", p, w.Code)
			}
		}
		if strings.Contains(w.Body.String(), "other") && !strings.Contains(w.Body.String(), "<html") {
			t.Errorf("%q leaks another file", p)
		}
	})
}
