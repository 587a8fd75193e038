// Package packaging checks the ways Kith is shipped: the headless directory
// binary (cgo only for SQLite, no X, GL or ALSA at run time), `go install`
// from a clone, the Linux desktop tarball made by `fyne package`, and the
// systemd unit, env file and container file for the directory.
package packaging

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module root (tests run in packaging/).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// goTool finds the go command.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go"
	}
	t.Skip("skipping: the go command is not installed")
	return ""
}

// goCmd runs go with args in the repo root and extra environment.
func goCmd(t *testing.T, env []string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(goTool(t), args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// forbidden are shared libraries a headless server must not need: X11,
// XCB, Wayland, OpenGL/EGL/GLX, ALSA, PulseAudio, GTK, FFmpeg.
var forbidden = regexp.MustCompile(`(?i)lib(X11|Xext|Xrandr|Xcursor|Xinerama|Xi|Xxf86vm|xcb|wayland|GL|EGL|GLX|GLdispatch|OpenGL|asound|pulse|gtk|gdk|avcodec|avformat|avutil|swscale|swresample)[.-]`)

// TestDirectoryLinksNoGUI builds kith-directory as the container does
// (CGO_ENABLED=1 -tags libsqlite3) and checks with ldd that it links
// SQLite but nothing graphical, audio or video.
func TestDirectoryLinksNoGUI(t *testing.T) {
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("skipping: ldd not installed")
	}
	bin := filepath.Join(t.TempDir(), "kith-directory")
	if out, err := goCmd(t, []string{"CGO_ENABLED=1"}, "build", "-tags", "libsqlite3", "-trimpath", "-o", bin, "./directory/cmd/kith-directory"); err != nil {
		t.Fatalf("building kith-directory: %v\n%s", err, out)
	}
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("ldd: %v\n%s", err, out)
	}
	libs := string(out)
	t.Logf("ldd kith-directory:\n%s", libs)
	if m := forbidden.FindAllString(libs, -1); len(m) > 0 {
		t.Errorf("kith-directory links GUI/audio/video libraries %v", m)
	}
	if !strings.Contains(libs, "libsqlite3") {
		t.Errorf("kith-directory does not link libsqlite3 (built without -tags libsqlite3?)")
	}
	if out, err := exec.Command(bin, "help").CombinedOutput(); err != nil || !strings.Contains(string(out), "serve") {
		t.Errorf("kith-directory help: %v\n%s", err, out)
	}
}

// TestGoInstall installs both binaries from the clone into a temporary
// GOBIN, as a user following the README would.
func TestGoInstall(t *testing.T) {
	gobin := t.TempDir()
	env := []string{"GOBIN=" + gobin, "CGO_ENABLED=1"}
	if out, err := goCmd(t, env, "install", "-tags", "libsqlite3", "./directory/cmd/kith-directory"); err != nil {
		t.Fatalf("go install ./directory/cmd/kith-directory: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(gobin, "kith-directory")); err != nil {
		t.Fatal(err)
	}
	if out, err := goCmd(t, env, "install", "-tags", "libsqlite3,migrated_fynedo", "."); err != nil {
		t.Fatalf("go install . (the desktop app): %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(gobin, "kith")); err != nil {
		t.Fatalf("go install . made no kith binary: %v", err)
	}
}

// TestFynePackage runs packaging/package-linux.sh (fyne package -os linux,
// fyne.io/tools v1.7.4) and checks the tarball holds the binary, a .desktop
// file naming it and the icon.
func TestFynePackage(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: fyne package takes about a minute (run without -short)")
	}
	root := repoRoot(t)
	before, err := os.ReadFile(filepath.Join(root, "FyneApp.toml"))
	if err != nil {
		t.Fatal(err) // what fyne package reads the name, ID and icon from
	}
	out := t.TempDir()
	tools := filepath.Join(os.TempDir(), "kith-packaging-tools")
	if d, err := os.UserCacheDir(); err == nil {
		tools = filepath.Join(d, "kith", "tools")
	}
	cmd := exec.Command(filepath.Join(root, "packaging", "package-linux.sh"), out)
	cmd.Env = append(os.Environ(), "GO="+goTool(t), "KITH_TOOLS="+tools)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(b), "fyne.io/tools") && strings.Contains(string(b), "dial tcp") {
			t.Skipf("skipping: fyne.io/tools cannot be downloaded here: %s", b)
		}
		t.Fatalf("package-linux.sh: %v\n%s", err, b)
	}
	t.Logf("packaged in %v", time.Since(start).Round(time.Second))
	if after, _ := os.ReadFile(filepath.Join(root, "FyneApp.toml")); string(after) != string(before) {
		t.Errorf("packaging changed the repo's FyneApp.toml")
	}
	files := tarball(t, filepath.Join(out, "Kith.tar.xz"))
	sum, err := os.ReadFile(filepath.Join(out, "Kith.tar.xz.sha256"))
	if err != nil {
		t.Fatalf("no checksum file: %v", err)
	}
	check := exec.Command("sha256sum", "--check", "--quiet", "Kith.tar.xz.sha256")
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil {
		t.Errorf("checksum %q does not match the tarball: %v %s", sum, err, b)
	}
	var desktop, icon, bin string
	for name, body := range files {
		switch {
		case strings.HasSuffix(name, ".desktop"):
			desktop = body
		case strings.Contains(name, "/share/pixmaps/") && strings.HasSuffix(name, ".png"):
			icon = body
		case strings.HasSuffix(name, "/bin/kith"):
			bin = body
		}
	}
	if len(bin) < 1<<20 {
		t.Errorf("tarball has no kith binary (%d bytes)", len(bin))
	}
	if !strings.HasPrefix(icon, "\x89PNG") {
		t.Errorf("tarball has no PNG icon")
	}
	for _, want := range []string{"[Desktop Entry]", "Name=Kith", "Exec=kith", "Type=Application"} {
		if !strings.Contains(desktop, want) {
			t.Errorf(".desktop file lacks %q:\n%s", want, desktop)
		}
	}
}

// tarball unpacks a .tar.xz (with the system tar and xz) and returns
// its regular files by path.
func tarball(t *testing.T, path string) map[string]string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the package was not made: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xJf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", path, err, out)
	}
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		t.Logf("  %s (%d bytes)", rel, len(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
