package install

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testDesktop = "[Desktop Entry]\nType=Application\nName=Kith\nExec=kith\nIcon=kith\n"

func testIcon(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	img.Set(3, 3, color.NRGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSelfPackage: with no package in the install folder, the site makes
// one from the running program (this test binary) and offers it: the page
// shows the link and checksum, the download's SHA-256 is that checksum,
// and the tarball unpacks (system tar + xz) into the binary — byte for byte
// the program, executable, and it runs — with its .desktop file, icon and a
// Makefile whose user-install works. (With -race it packs /usr/bin/true:
// the race detector makes compressing the test binary take minutes.) A
// second Serve keeps the package made
// before; a package put in the folder is offered instead.
func TestSelfPackage(t *testing.T) {
	for _, tool := range []string{"tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	changed := make(chan struct{}, 4)
	self := &SelfPackage{Name: "kith", Icon: testIcon(t), Desktop: []byte(testDesktop)}
	exe, _ := os.Executable() // the running program: what a device packs
	run := []string{"-test.run=^$"}
	if raceEnabled {
		// Compressing a 30 MB binary under the race detector takes
		// minutes; pack another real program (the packing code is the same).
		p, err := exec.LookPath("true")
		if err != nil {
			t.Skip("race build and no `true` program to pack")
		}
		self.Executable, exe, run = p, p, nil
	}
	t.Logf("packing %s", exe)
	opts := Options{Dir: dir, DeviceName: "Ana's laptop", Self: self, Logger: quietLogger(),
		OnChange: func() { changed <- struct{}{} }}
	s := NewSite(opts)
	if info, err := s.Info(); err != nil || info.Available || !info.Preparing {
		t.Fatalf("before Serve: %+v %v, want preparing", info, err)
	}
	base := "http://" + serveSite(t, s)
	select {
	case <-changed:
	case <-time.After(3 * time.Minute):
		t.Fatal("the package was not made within 3 minutes")
	}
	info, err := s.Info()
	if err != nil || !info.Available || info.Preparing || len(info.SHA256) != 64 {
		t.Fatalf("after making it: %+v %v", info, err)
	}
	t.Logf("made %s: %d bytes, sha256 %s", info.File, info.Size, info.SHA256)

	page := get(t, http.DefaultClient, base+"/")
	if info.Path != "/"+SelfPackageName || !strings.Contains(page, info.SHA256) || !strings.Contains(page, `href="`+info.Path+`"`) ||
		!strings.Contains(page, "tar xf "+SelfPackageName) {
		t.Errorf("the page lacks the link or the checksum:\n%s", page)
	}
	pkg := []byte(get(t, http.DefaultClient, base+info.Path))
	sum := sha256.Sum256(pkg)
	if got := hex.EncodeToString(sum[:]); got != info.SHA256 || int64(len(pkg)) != info.Size {
		t.Fatalf("downloaded %d bytes with sha256 %s; offered %d, %s", len(pkg), got, info.Size, info.SHA256)
	}
	if line := get(t, http.DefaultClient, base+info.Path+".sha256"); line != info.SHA256+"  "+SelfPackageName+"\n" {
		t.Errorf("checksum file %q", line)
	}

	// Unpack it as a neighbour would.
	out := t.TempDir()
	if w := do(s, "GET", "/"+PackageName); w.Code != 404 { // only the package offered is served
		t.Errorf("GET /%s: %d, want 404 while the .tar.gz is offered", PackageName, w.Code)
	}
	tarball := filepath.Join(out, SelfPackageName)
	if err := os.WriteFile(tarball, pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("tar", "-xf", tarball, "-C", out).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v\n%s", err, b)
	}
	want, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(out, "kith", "usr", "local", "bin", "kith")
	got, err := os.ReadFile(bin)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the packed binary (%d bytes, %v) is not the program (%d bytes)", len(got), err, len(want))
	}
	if st, err := os.Stat(bin); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Fatalf("the packed binary is not executable: %v %v", st.Mode(), err)
	}
	if b, err := exec.Command(bin, run...).CombinedOutput(); err != nil {
		t.Fatalf("running the packed binary: %v\n%s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "kith", "usr", "local", "share", "applications", "kith.desktop")); string(b) != testDesktop {
		t.Errorf("desktop file %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "kith", "usr", "local", "share", "pixmaps", "kith.png")); !bytes.Equal(b, self.Icon) {
		t.Errorf("icon of %d bytes, want the PNG given", len(b))
	}
	if _, err := exec.LookPath("make"); err == nil {
		home := t.TempDir()
		cmd := exec.Command("make", "user-install")
		cmd.Dir = filepath.Join(out, "kith")
		cmd.Env = append(os.Environ(), "HOME="+home)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make user-install: %v\n%s", err, b)
		}
		d, _ := os.ReadFile(filepath.Join(home, ".local", "share", "applications", "kith.desktop"))
		if !strings.Contains(string(d), "Exec="+filepath.Join(home, ".local", "bin", "kith")) {
			t.Errorf("installed desktop file %q", d)
		}
		if _, err := os.Stat(filepath.Join(home, ".local", "bin", "kith")); err != nil {
			t.Error(err)
		}
	}

	// A second site over the same folder and program keeps that package.
	st0, _ := os.Stat(filepath.Join(dir, selfDir, SelfPackageName))
	s2 := NewSite(opts)
	serveSite(t, s2)
	st1, _ := os.Stat(filepath.Join(dir, selfDir, SelfPackageName))
	if info2, _ := s2.Info(); info2.SHA256 != info.SHA256 || !st1.ModTime().Equal(st0.ModTime()) {
		t.Errorf("the second site made the package again: %s vs %s", info2.SHA256, info.SHA256)
	}

	// A package put in the folder wins.
	put := writePackage(t, dir, "Kith.tar.xz", 50_000, 3)
	if info3, _ := s2.Info(); !info3.Available || info3.SHA256 != put || info3.File != "Kith.tar.xz" {
		t.Errorf("with Kith.tar.xz put in the folder: %+v", info3)
	}
}

// TestSelfPackageStaleStamp: the package is made when first asked for,
// not at start; one made from another program (the stamp differs) is not
// offered and the site makes it again.
func TestSelfPackageStaleStamp(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho one\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	self := &SelfPackage{Executable: prog, Name: "kith", Icon: testIcon(t), Desktop: []byte(testDesktop)}
	changed := make(chan struct{}, 4)
	opts := Options{Dir: dir, Self: self, Logger: quietLogger(), OnChange: func() { changed <- struct{}{} }}
	s := NewSite(opts)
	serveSite(t, s)
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, selfDir)); err == nil {
		t.Fatal("the package was made before anyone asked for it")
	}
	s.Info() // asked for: made now
	<-changed
	first, _ := s.Info()
	if !first.Available {
		t.Fatalf("%+v", first)
	}
	// The program is replaced (an upgrade): the old package is not offered.
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho two, longer\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, selfDir, ".tmp-123") // a run killed mid-way
	if err := os.WriteFile(leftover, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := NewSite(opts)
	if info, _ := s2.Info(); info.Available || !info.Preparing {
		t.Fatalf("a package of the old program offered: %+v", info)
	}
	serveSite(t, s2)
	<-changed
	second, _ := s2.Info()
	if !second.Available || second.SHA256 == first.SHA256 {
		t.Fatalf("after the upgrade: %+v (first %s)", second, first.SHA256)
	}
	if _, err := os.Stat(leftover); err == nil {
		t.Error("a temporary file left by a killed run is still there")
	}
}

// TestSelfPackageRefused: a self package that cannot be made says why,
// and no package is offered.
func TestSelfPackageRefused(t *testing.T) {
	dir := t.TempDir()
	changed := make(chan struct{}, 1)
	self := &SelfPackage{Executable: filepath.Join(dir, "missing"), Name: "kith", Icon: testIcon(t), Desktop: []byte(testDesktop)}
	s := NewSite(Options{Dir: dir, Self: self, Logger: quietLogger(), OnChange: func() { changed <- struct{}{} }})
	serveSite(t, s)
	s.Info()
	<-changed
	if info, _ := s.Info(); info.Available || info.Preparing || !strings.Contains(info.Problem, "could not be made") {
		t.Fatalf("%+v", info)
	}
}
