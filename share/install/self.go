package install

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-media/kith/internal/atomicfile"
)

// MaxSelfBytes bounds the program a package is made from.
const MaxSelfBytes = 1 << 30

// selfDir is the folder under Options.Dir where the package made from the
// running program is kept, beside the stamp naming the program it was
// made from.
const selfDir = "self"

// selfFormat changes whenever the tarball's layout does, so an old one is
// made again.
const selfFormat = "kith-self-package 1"

// SelfPackage describes the package a device makes of the program it runs
// when no package was put in Options.Dir: the same layout as `fyne package
// -os linux` (kith/Makefile, kith/usr/local/bin/NAME,
// kith/usr/local/share/applications/NAME.desktop,
// kith/usr/local/share/pixmaps/NAME.png), so the install page's steps
// (`tar xf …; cd kith; sudo make install` or `make user-install`) work the
// same.
type SelfPackage struct {
	// Executable is the program to pack; "" means os.Executable().
	Executable string
	// Name names the binary, the .desktop file and the icon ("kith").
	Name string
	// Icon is the PNG icon.
	Icon []byte
	// Desktop is the .desktop entry; its Exec and Icon keys should say Name.
	Desktop []byte
}

// stamp says which program (path, size, mtime) a made package came from.
func (p SelfPackage) stamp() (string, os.FileInfo, error) {
	exe, err := p.executable()
	if err != nil {
		return "", nil, err
	}
	st, err := os.Stat(exe)
	if err != nil {
		return "", nil, fmt.Errorf("install: reading the program: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > MaxSelfBytes {
		return "", nil, fmt.Errorf("install: %s is not a program of at most %d bytes", exe, MaxSelfBytes)
	}
	return fmt.Sprintf("%s\n%s\n%d\n%d\n", selfFormat, exe, st.Size(), st.ModTime().UnixNano()), st, nil
}

func (p SelfPackage) executable() (string, error) {
	exe := p.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", fmt.Errorf("install: finding the running program: %w", err)
		}
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

// Write writes the package (a tar.gz) to w. Its bytes depend only on the
// program, icon and desktop entry (every entry carries the program's
// mtime), so making it twice from the same program gives the same checksum.
func (p SelfPackage) Write(ctx context.Context, w io.Writer) error {
	if p.Name == "" || strings.ContainsAny(p.Name, "/\\ \n") || len(p.Icon) == 0 || len(p.Desktop) == 0 {
		return errors.New("install: a self package needs a plain Name, an Icon and a Desktop entry")
	}
	exe, err := p.executable()
	if err != nil {
		return err
	}
	f, err := os.Open(exe)
	if err != nil {
		return fmt.Errorf("install: opening the program: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("install: reading the program: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > MaxSelfBytes {
		return fmt.Errorf("install: %s is not a program of at most %d bytes", exe, MaxSelfBytes)
	}
	xw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return fmt.Errorf("install: starting gzip: %w", err)
	}
	tw := tar.NewWriter(xw)
	mt := st.ModTime().Truncate(time.Second)
	hdr := func(name string, mode int64, size int64, typ byte) *tar.Header {
		return &tar.Header{Name: name, Mode: mode, Size: size, Typeflag: typ, ModTime: mt,
			Uname: "root", Gname: "root", Format: tar.FormatPAX}
	}
	for _, d := range []string{"kith/", "kith/usr/", "kith/usr/local/", "kith/usr/local/bin/", "kith/usr/local/share/",
		"kith/usr/local/share/applications/", "kith/usr/local/share/pixmaps/"} {
		if err := tw.WriteHeader(hdr(d, 0o755, 0, tar.TypeDir)); err != nil {
			return fmt.Errorf("install: writing the package: %w", err)
		}
	}
	files := []struct {
		name string
		mode int64
		body []byte
	}{
		{"kith/Makefile", 0o644, []byte(selfMakefile(p.Name))},
		{"kith/usr/local/share/applications/" + p.Name + ".desktop", 0o644, p.Desktop},
		{"kith/usr/local/share/pixmaps/" + p.Name + ".png", 0o644, p.Icon},
	}
	for _, fl := range files {
		if err := tw.WriteHeader(hdr(fl.name, fl.mode, int64(len(fl.body)), tar.TypeReg)); err != nil {
			return fmt.Errorf("install: writing the package: %w", err)
		}
		if _, err := tw.Write(fl.body); err != nil {
			return fmt.Errorf("install: writing the package: %w", err)
		}
	}
	if err := tw.WriteHeader(hdr("kith/usr/local/bin/"+p.Name, 0o755, st.Size(), tar.TypeReg)); err != nil {
		return fmt.Errorf("install: writing the package: %w", err)
	}
	if _, err := io.Copy(tw, ctxReader{ctx, io.LimitReader(f, st.Size())}); err != nil {
		return fmt.Errorf("install: packing the program: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("install: writing the package: %w", err)
	}
	if err := xw.Close(); err != nil {
		return fmt.Errorf("install: compressing the package: %w", err)
	}
	return nil
}

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// selfMakefile is the Makefile `fyne package` puts in its tarball, for a
// binary, desktop file and icon all called name.
func selfMakefile(name string) string {
	return strings.NewReplacer("NAME", name).Replace(`# Made by Kith from the program it runs (share/install), laid out as fyne package does.
# Run "sudo make install" to install, "sudo make uninstall" to remove;
# without root: "make user-install" / "make user-uninstall" (in ~/.local).

LOCAL != test -d $(DESTDIR)/usr/local && echo -n "/local" || echo -n ""
LOCAL ?= $(shell test -d $(DESTDIR)/usr/local && echo "/local" || echo "")
PREFIX ?= /usr$(LOCAL)

default:
	# Run "sudo make install" or "make user-install".

install:
	install -Dm00644 usr/local/share/applications/NAME.desktop $(DESTDIR)$(PREFIX)/share/applications/NAME.desktop
	install -Dm00755 usr/local/bin/NAME $(DESTDIR)$(PREFIX)/bin/NAME
	install -Dm00644 usr/local/share/pixmaps/NAME.png $(DESTDIR)$(PREFIX)/share/pixmaps/NAME.png
uninstall:
	-rm $(DESTDIR)$(PREFIX)/share/applications/NAME.desktop
	-rm $(DESTDIR)$(PREFIX)/bin/NAME
	-rm $(DESTDIR)$(PREFIX)/share/pixmaps/NAME.png

user-install:
	install -Dm00644 usr/local/share/applications/NAME.desktop $(DESTDIR)$(HOME)/.local/share/applications/NAME.desktop
	install -Dm00755 usr/local/bin/NAME $(DESTDIR)$(HOME)/.local/bin/NAME
	install -Dm00644 usr/local/share/pixmaps/NAME.png $(DESTDIR)$(HOME)/.local/share/icons/NAME.png
	sed -i -e "s,Exec=NAME,Exec=$(DESTDIR)$(HOME)/.local/bin/NAME,g" $(DESTDIR)$(HOME)/.local/share/applications/NAME.desktop

user-uninstall:
	-rm $(DESTDIR)$(HOME)/.local/share/applications/NAME.desktop
	-rm $(DESTDIR)$(HOME)/.local/bin/NAME
	-rm $(DESTDIR)$(HOME)/.local/share/icons/NAME.png
`)
}

// selfPath is where the made package is kept.
func (s *Site) selfPath() string { return filepath.Join(s.o.Dir, selfDir, SelfPackageName) }

// selfCurrent reports whether the made package is there and came from
// the program running now.
func (s *Site) selfCurrent() bool {
	want, _, err := s.o.Self.stamp()
	if err != nil {
		return false
	}
	got, err := os.ReadFile(s.selfPath() + ".from")
	return err == nil && string(got) == want
}

// makeSelf makes the package from the running program unless the one kept
// is current: written to a temporary file, its .sha256 beside it, then
// moved into place (atomicfile: synced, renamed, the folder synced), and
// the stamp last.
func (s *Site) makeSelf(ctx context.Context) error {
	if s.selfCurrent() {
		return nil
	}
	stamp, _, err := s.o.Self.stamp()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.o.Dir, selfDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	os.Remove(s.selfPath() + ".from")                         // not current any more
	for _, pattern := range []string{".tmp-*", ".making-*"} { // left by a run killed mid-way (.making-: older versions)
		old, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range old {
			os.Remove(f)
		}
	}
	start := time.Now()
	tmp, err := atomicfile.Create(dir, 0o644)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer tmp.Close() // removes it unless committed
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<20)
	if err := s.o.Self.Write(ctx, bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("install: writing %s: %w", tmp.Name(), err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := atomicfile.WriteFile(s.selfPath()+".sha256", []byte(sum+"  "+SelfPackageName+"\n"), 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := tmp.Commit(s.selfPath()); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := atomicfile.WriteFile(s.selfPath()+".from", []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	st, _ := os.Stat(s.selfPath())
	var size int64
	if st != nil {
		size = st.Size()
	}
	s.log.Info("install: made a package from this program", "file", s.selfPath(), "size", size,
		"sha256", sum, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
