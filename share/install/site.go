package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kith-media/kith/internal/bytesize"
	"github.com/kith-media/kith/internal/threadprio"
)

// PackageName is the name the tarball is served under: the package of the
// running build's platform.
var PackageName = "kith-linux-" + runtime.GOARCH + ".tar.xz"

// SelfPackageName is the name the package made from the running program
// (Options.Self) is served under: gzip, which packs a 40 MB program in about
// a second of CPU where xz took half a minute.
var SelfPackageName = "kith-linux-" + runtime.GOARCH + ".tar.gz"

// packageFiles are the names looked for in Options.Dir, in order:
// PackageName, then what packaging/package-linux.sh writes.
var packageFiles = []string{PackageName, "Kith.tar.xz"}

// Defaults for Options.
const (
	DefaultMaxDownloads = 4                // tarball downloads at once
	DefaultStallTimeout = 30 * time.Second // a download that moves nothing this long is cut off
)

// Options configure a Site.
type Options struct {
	// Dir is the folder holding the package: kith-linux-<arch>.tar.xz or
	// Kith.tar.xz (as `make package` writes it into dist/), optionally with
	// its sha256sum file beside it (NAME.sha256), which must agree.
	Dir        string
	DeviceName string // shown on the page ("Get Kith from NAME")
	// MaxDownloads is how many tarball downloads run at once; more get 503
	// with Retry-After. Default DefaultMaxDownloads.
	MaxDownloads int
	// StallTimeout cuts off a download whose reader takes nothing for this
	// long. Default DefaultStallTimeout.
	StallTimeout time.Duration
	// Self, if set, makes a package of the running program (in
	// Dir/self/) when Dir holds none, so every install offers one. Serve
	// makes it the first time the package is asked for (Info, the page, a
	// download) — not at every start — unless the one made before came
	// from the same program.
	Self *SelfPackage
	// OnChange, if set, is called when the package offered changes (the
	// one made from the program is ready); it must not block.
	OnChange func()
	Logger   *slog.Logger
}

// Info describes the package a Site offers, for the app's Share screen.
type Info struct {
	// Available is true when a package is offered; Problem says why not
	// otherwise ("" when there is simply none in Dir).
	Available bool
	Problem   string
	// Preparing reports that the package is being made from the running
	// program (Options.Self) and is offered when that is done.
	Preparing bool
	Dir       string    // where the package is looked for
	File      string    // the file served, inside Dir
	Path      string    // the URL path of the tarball, "/kith-linux-amd64.tar.xz"
	Size      int64     // bytes
	SHA256    string    // lowercase hex
	ModTime   time.Time // of the file
}

// Site is the plain-HTTP install page: GET / (the page), GET /PackageName
// (the tarball) and GET /PackageName.sha256; nothing else.
type Site struct {
	o     Options
	log   *slog.Logger
	slots chan struct{}

	mu      sync.Mutex
	cached  Info          // keyed by (File, Size, ModTime)
	selfErr string        // why the package could not be made from the program
	selfRun bool          // Serve has tried to make it
	want    chan struct{} // someone asked for the package: make it
}

// NewSite makes the install page for the package in o.Dir. The package is
// hashed on first use and again whenever its size or mtime changes.
func NewSite(o Options) *Site {
	if o.MaxDownloads <= 0 {
		o.MaxDownloads = DefaultMaxDownloads
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DeviceName == "" {
		o.DeviceName = "this device"
	}
	return &Site{o: o, log: o.Logger, slots: make(chan struct{}, o.MaxDownloads), want: make(chan struct{}, 1)}
}

// Info describes the package offered now. The error is for a package that
// exists but cannot be read; a missing package is Info{Available: false}.
func (s *Site) Info() (Info, error) {
	f, info, err := s.open()
	if f != nil {
		f.Close()
	}
	return info, err
}

// open opens the package and returns it with its description, hashing it
// if it changed since last time. f is nil when no package is offered.
func (s *Site) open() (*os.File, Info, error) {
	none := Info{Dir: s.o.Dir, Path: "/" + PackageName}
	if s.o.Dir == "" {
		return nil, none, nil
	}
	for _, name := range packageFiles {
		p := filepath.Join(s.o.Dir, name)
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			none.Problem = "the package cannot be read"
			return nil, none, fmt.Errorf("install: opening %s: %w", p, err)
		}
		info, err := s.describe(f, name)
		if err != nil || !info.Available {
			f.Close()
			return nil, info, err
		}
		return f, info, nil
	}
	if s.o.Self == nil {
		return nil, none, nil
	}
	if s.selfCurrent() {
		f, err := os.Open(s.selfPath())
		if err != nil {
			none.Problem = "the package made from this program cannot be read"
			return nil, none, fmt.Errorf("install: %w", err)
		}
		info, err := s.describe(f, selfDir+"/"+SelfPackageName)
		if err != nil || !info.Available {
			f.Close()
			return nil, info, err
		}
		return f, info, nil
	}
	s.mu.Lock()
	none.Path = "/" + SelfPackageName
	none.Problem, none.Preparing = s.selfErr, s.selfErr == ""
	s.mu.Unlock()
	select { // made when first wanted, not at every start
	case s.want <- struct{}{}:
	default:
	}
	return nil, none, nil
}

// describe is the Info of the open package file name, from the cache
// when the file's size and mtime are unchanged.
func (s *Site) describe(f *os.File, name string) (Info, error) {
	st, err := f.Stat()
	info := Info{Dir: s.o.Dir, File: name, Path: "/" + PackageName}
	if strings.HasSuffix(name, ".tar.gz") {
		info.Path = "/" + SelfPackageName
	}
	if err != nil {
		info.Problem = "the package cannot be read"
		return info, fmt.Errorf("install: %w", err)
	}
	if !st.Mode().IsRegular() {
		info.Problem = name + " is not a regular file"
		return info, nil
	}
	info.Size, info.ModTime = st.Size(), st.ModTime()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cached
	if c.File == name && c.Size == info.Size && c.ModTime.Equal(info.ModTime) {
		return c, nil
	}
	start := time.Now()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		info.Problem = "the package cannot be read"
		return info, fmt.Errorf("install: hashing %s: %w", f.Name(), err)
	}
	if n != info.Size {
		info.Problem = "the package is being written"
		return info, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		info.Problem = "the package cannot be read"
		return info, fmt.Errorf("install: %w", err)
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	if want, ok := readSumFile(f.Name() + ".sha256"); ok && want != info.SHA256 {
		info.Problem = "the package does not match its checksum file"
		s.log.Warn("install: package does not match its .sha256, not offering it", "file", f.Name(),
			"sha256", info.SHA256, "want", want)
		info.SHA256 = ""
	} else {
		info.Available = true
		s.log.Info("install: offering package", "file", f.Name(), "size", info.Size, "sha256", info.SHA256,
			"hashed_in", time.Since(start).Round(time.Millisecond))
	}
	s.cached = info
	return info, nil
}

// readSumFile reads the first checksum of a sha256sum file.
func readSumFile(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return "", false
	}
	return strings.ToLower(fields[0]), true
}

// Serve answers plain HTTP on ln (the Demux's Plain side) until ctx is
// cancelled.
func (s *Site) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second, // no request has a body
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	made := make(chan struct{})
	go func() { // the package made from the program, once it is asked for
		defer close(made)
		select {
		case <-s.want:
			// At the lowest priority, on a thread of its own that ends
			// with this goroutine: a second or two of gzip on a core must
			// not compete with what the person does meanwhile (a video's
			// decoding and, under software GL, the painting of every pixel
			// on the CPU).
			if err := threadprio.Lower(19); err != nil {
				s.log.Debug("install: making the package at normal priority", "err", err)
			}
			s.prepareSelf(ctx)
		case <-ctx.Done():
		}
	}()
	defer func() { <-made }()
	select {
	case err := <-errc:
		return fmt.Errorf("install page: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		<-errc
		return nil
	}
}

// prepareSelf makes the package from the running program when Dir holds
// none (once per Site) and tells OnChange.
func (s *Site) prepareSelf(ctx context.Context) {
	if s.o.Self == nil || s.o.Dir == "" {
		return
	}
	s.mu.Lock()
	done := s.selfRun
	s.selfRun = true
	s.mu.Unlock()
	if done {
		return
	}
	for _, name := range packageFiles {
		if _, err := os.Stat(filepath.Join(s.o.Dir, name)); err == nil {
			return // a package was put there: it is offered instead
		}
	}
	err := s.makeSelf(ctx)
	if ctx.Err() != nil {
		s.mu.Lock()
		s.selfRun = false // not tried to the end: the next Serve does
		s.mu.Unlock()
		return
	}
	if err != nil {
		s.log.Warn("install: cannot make a package from this program", "err", err)
		s.mu.Lock()
		s.selfErr = "it could not be made from this program (" + err.Error() + ")"
		s.mu.Unlock()
	}
	if s.o.OnChange != nil {
		s.o.OnChange()
	}
}

// ServeHTTP answers the three paths of the install page; every other path
// is 404, every method but GET and HEAD 405.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	switch r.URL.Path {
	case "/":
		s.servePage(w, r)
	case "/" + PackageName, "/" + SelfPackageName:
		s.servePackage(w, r)
	case "/" + PackageName + ".sha256", "/" + SelfPackageName + ".sha256":
		s.serveSum(w, r)
	default:
		plainError(w, http.StatusNotFound, "not found")
	}
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

func (s *Site) servePage(w http.ResponseWriter, r *http.Request) {
	info, err := s.Info()
	if err != nil {
		s.log.Warn("install: page", "err", err)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, pageData{Device: s.o.DeviceName, Info: info,
		Name: strings.TrimPrefix(info.Path, "/"), SizeText: bytesize.Text(info.Size), Arch: archName(runtime.GOARCH)}); err != nil {
		s.log.Error("install: rendering the page", "err", err)
		plainError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
}

func (s *Site) serveSum(w http.ResponseWriter, r *http.Request) {
	info, err := s.Info()
	if err != nil || !info.Available || r.URL.Path != info.Path+".sha256" {
		if err != nil {
			s.log.Warn("install: checksum", "err", err)
		}
		plainError(w, http.StatusNotFound, "Kith's package is not available on this device")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", info.ModTime, strings.NewReader(info.SHA256+"  "+strings.TrimPrefix(info.Path, "/")+"\n"))
}

func (s *Site) servePackage(w http.ResponseWriter, r *http.Request) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "30")
		plainError(w, http.StatusServiceUnavailable, "busy: other neighbours are downloading Kith from this device, try again in a minute")
		return
	}
	f, info, err := s.open()
	if err != nil {
		s.log.Warn("install: package", "err", err)
	}
	if f != nil && r.URL.Path != info.Path { // the other kind of package is offered
		f.Close()
		f = nil
	}
	if f == nil {
		plainError(w, http.StatusNotFound, "Kith's package is not available on this device")
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/x-xz")
	if strings.HasSuffix(info.Path, ".tar.gz") {
		h.Set("Content-Type", "application/gzip")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+info.SHA256+`"`)
	s.log.Debug("install: download", "remote", r.RemoteAddr, "method", r.Method, "range", r.Header.Get("Range"))
	sw := &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.o.StallTimeout}
	http.ServeContent(sw, r, strings.TrimPrefix(info.Path, "/"), info.ModTime, f)
}

// stallWriter moves the connection's write deadline forward before every
// write, so a slow but moving download lives and a stalled one is cut off.
type stallWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.ResponseWriter.Write(p)
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

type pageData struct {
	Device   string
	Info     Info
	Name     string // the package's file name (PackageName or SelfPackageName)
	SizeText string
	Arch     string // the platform, as people name it
}

// archName is GOARCH as people name it.
func archName(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86-64"
	case "arm64":
		return "64-bit ARM"
	case "386":
		return "32-bit x86"
	}
	return goarch
}
