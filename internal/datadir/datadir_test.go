package datadir

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/settings"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

var quiet = slog.New(slog.DiscardHandler)

// unlocks are the locks openData took, by folder.
var unlocks = map[Dir]func(){}

// openData is Open, failing the test on an error; the lock is released
// when the test ends (or by unlockForTest).
func openData(t *testing.T, dir string) Dir {
	t.Helper()
	d, unlock, err := Open(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	unlocks[d] = unlock
	t.Cleanup(func() { d.unlockForTest(t) })
	return d
}

func (d Dir) unlockForTest(t *testing.T) {
	if u := unlocks[d]; u != nil {
		u()
		delete(unlocks, d)
	}
}

// The folder comes from --data, else KITH_DATA, else $XDG_DATA_HOME/kith,
// else ~/.local/share/kith, the same for every program using Setting.
func TestSetting(t *testing.T) {
	xdg := t.TempDir()
	cases := []struct {
		name      string
		env, xdg  string
		args      []string
		want      string
		wantInUse string // in the usage text
	}{
		{"default: XDG_DATA_HOME/kith", "", xdg, nil, filepath.Join(xdg, "kith"), "env KITH_DATA"},
		{"default without XDG: ~/.local/share/kith", "", "", nil, filepath.Join(os.Getenv("HOME"), ".local", "share", "kith"), "default "},
		{"environment over default", "/from/env", xdg, nil, "/from/env", ""},
		{"flag over environment", "/from/env", xdg, []string{"--data", "/from/flag"}, "/from/flag", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(Env, c.env)
			t.Setenv("XDG_DATA_HOME", c.xdg)
			var got string
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			tab := settings.Table{Setting(&got)}
			if err := tab.Bind(fs); err != nil {
				t.Fatal(err)
			}
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("data folder %q, want %q", got, c.want)
			}
			if u := tab.Usage(); !strings.Contains(u, "--data DIR") || !strings.Contains(u, c.wantInUse) {
				t.Errorf("usage %q lacks %q", u, c.wantInUse)
			}
		})
	}
}

// One process at a time: a second Lock fails with ErrInUse until the
// first is released.
func TestLock(t *testing.T) {
	d, unlock, err := Open(filepath.Join(t.TempDir(), "new", "data"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(string(d)); err != nil || fi.Mode().Perm() != 0o700 && runtime.GOOS != "windows" { // no modes there
		t.Fatalf("folder %v, %v; want mode 700", fi, err)
	}
	if _, _, err := Open(string(d), quiet); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use by another Kith process") {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	if _, err := d.Lock(); !errors.Is(err, ErrInUse) {
		t.Fatalf("Lock while opened: %v, want ErrInUse", err)
	}
	unlock()
	unlock2, err := d.Lock()
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

// InUse looks without taking the folder from a starting serve: while
// another goroutine probes as fast as it can (kithctl status polling a
// device that is still starting), every Lock still succeeds, and InUse
// tells a held folder from a free one. Before InUse, the probe was a Lock
// and a serve starting in that instant exited "data folder in use" (CI).
func TestInUseDoesNotBlockLock(t *testing.T) {
	d := openData(t, t.TempDir())
	if held, err := d.InUse(); err != nil || !held {
		t.Fatalf("InUse while opened: %v, %v; want true", held, err)
	}
	d2 := Dir(filepath.Join(t.TempDir(), "free"))
	if err := os.MkdirAll(string(d2), 0o700); err != nil {
		t.Fatal(err)
	}
	probes, stopProbing := probeInLoop(t, d2)
	for i := 0; i < 200 || probes() < 100; i++ {
		unlock, err := d2.Lock()
		if err != nil {
			t.Fatalf("Lock %d while another goroutine probes: %v", i, err)
		}
		if held, err := d2.InUse(); err != nil || !held {
			t.Fatalf("InUse while locked: %v, %v; want true", held, err)
		}
		unlock()
	}
	if n := stopProbing(); n == 0 {
		t.Fatal("the prober never ran")
	}
}

// Account and directory files: round trip, absent, and hostile contents.
func TestAccountAndJoined(t *testing.T) {
	d := openData(t, t.TempDir())
	if a, err := d.LoadAccount(); err != nil || a != "" {
		t.Fatalf("no account file: %q, %v", a, err)
	}
	if err := d.SaveAccount("alice"); err != nil {
		t.Fatal(err)
	}
	if a, err := d.LoadAccount(); err != nil || a != "alice" {
		t.Fatalf("account %q, %v", a, err)
	}
	if _, ok, err := d.LoadJoined(); ok || err != nil {
		t.Fatalf("no directory.json: ok %v, %v", ok, err)
	}
	id := newID(t)
	j := Joined{URL: "https://127.0.0.1:7443", Fingerprint: id, Name: "home", Paired: true}
	if err := d.SaveJoined(j); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := d.LoadJoined(); !ok || err != nil || got != j {
		t.Fatalf("joined %+v %v %v, want %+v", got, ok, err, j)
	}
	for name, body := range map[string]string{
		"http":     `{"url":"http://x:1","fingerprint":"` + string(id) + `"}`,
		"no key":   `{"url":"https://x:1","fingerprint":"NOTANID"}`,
		"not json": `https://x:1#` + string(id),
		"oversize": `{"url":"https://x:1","name":"` + strings.Repeat("a", maxDirectoryFile) + `"}`,
	} {
		if err := os.WriteFile(d.DirectoryFile(), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := d.LoadJoined(); ok || err == nil {
			t.Errorf("%s: directory.json accepted", name)
		}
	}
	if err := os.WriteFile(d.AccountFile(), bytes.Repeat([]byte("a"), maxAccountFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadAccount(); err == nil {
		t.Error("an oversize account file was read")
	}
}

func newID(t *testing.T) identity.ID {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id.ID()
}

// oldKithctlFolder makes the folder kithctl used to keep: a real library
// (SQLite index, a sealed file) at the root, the device key, the account
// and the directory as a URL#FP line. It returns the content held.
func oldKithctlFolder(t *testing.T, dir, dirURL string) sealed.ContentID {
	t.Helper()
	ctx := context.Background()
	lib, err := library.Open(dir, library.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("kith "), 40_000)
	key, _ := sealed.NewContentKey()
	var buf bytes.Buffer
	m, err := sealed.Seal(&buf, bytes.NewReader(plain), key, sealed.Options{ChunkSize: 16 << 10, MediaType: "audio/test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Import(ctx, m, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := lib.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := identity.LoadOrCreate(filepath.Join(dir, DeviceKeyName)); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{AccountName: "alice\n", oldDirectoryName: dirURL + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return m.ContentID()
}

// heldIn opens the library at dir and reports whether it holds cid whole.
func heldIn(t *testing.T, dir string, cid sealed.ContentID) bool {
	t.Helper()
	lib, err := library.Open(dir, library.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	st, err := lib.Status(context.Background(), cid)
	return err == nil && st.Complete
}

// kithctl's old layout is moved into the shared one by renames: the same
// library (index and sealed file), device key and account, the directory
// now in directory.json; nothing is left at the root.
func TestMigrateOldKithctlFolder(t *testing.T) {
	dir := t.TempDir()
	fp := newID(t)
	dirURL := directory.FormatURL("https://127.0.0.1:7443", fp)
	cid := oldKithctlFolder(t, dir, dirURL)
	key, _ := os.ReadFile(filepath.Join(dir, DeviceKeyName))

	d := openData(t, dir)
	if !heldIn(t, d.Library(), cid) {
		t.Fatal("the library did not move whole into library/")
	}
	for _, name := range append(oldLibrary, oldDirectoryName) {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s is still at the folder's root", name)
		}
	}
	j, ok, err := d.LoadJoined()
	if !ok || err != nil || j.URL != "https://127.0.0.1:7443" || j.Fingerprint != fp {
		t.Fatalf("directory.json %+v %v %v", j, ok, err)
	}
	if a, _ := d.LoadAccount(); a != "alice" {
		t.Errorf("account %q after the move", a)
	}
	if k2, _ := os.ReadFile(d.DeviceKey()); !bytes.Equal(k2, key) {
		t.Error("the device key changed")
	}
	// Opening again changes nothing.
	d.unlockForTest(t)
	if d2 := openData(t, dir); !heldIn(t, d2.Library(), cid) {
		t.Fatal("a second open lost the library")
	}
}

// A migration cut short (the sealed files moved, the index not yet)
// finishes on the next Open.
func TestMigrateResumes(t *testing.T) {
	dir := t.TempDir()
	cid := oldKithctlFolder(t, dir, directory.FormatURL("https://127.0.0.1:7443", newID(t)))
	if err := os.MkdirAll(filepath.Join(dir, LibraryName), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "content"), filepath.Join(dir, LibraryName, "content")); err != nil {
		t.Fatal(err)
	}
	d := openData(t, dir)
	if !heldIn(t, d.Library(), cid) {
		t.Fatal("the resumed move lost the content")
	}
}

// A folder holding both layouts' libraries is refused and left as it was:
// nothing is overwritten or merged.
func TestMigrateRefusesTwoLibraries(t *testing.T) {
	dir := t.TempDir()
	oldCID := oldKithctlFolder(t, dir, directory.FormatURL("https://127.0.0.1:7443", newID(t)))
	newer := filepath.Join(dir, LibraryName)
	newCID := oldKithctlFolder(t, newer, directory.FormatURL("https://127.0.0.1:7443", newID(t)))
	_, _, err := Open(dir, quiet)
	if err == nil || !strings.Contains(err.Error(), "two libraries") {
		t.Fatalf("open: %v, want refused (two libraries)", err)
	}
	if !heldIn(t, dir, oldCID) || !heldIn(t, newer, newCID) {
		t.Fatal("a refused migration changed a library")
	}
}

// An old directory file that is not URL#FINGERPRINT stops the start with
// an error naming it (kithctl would otherwise pick no directory silently).
func TestMigrateBadDirectoryFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, oldDirectoryName), []byte("https://x:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, quiet); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, oldDirectoryName)) {
		t.Fatalf("open: %v, want an error naming the old directory file", err)
	}
	if _, err := os.Stat(filepath.Join(dir, oldDirectoryName)); err != nil {
		t.Fatal("the bad old file was removed")
	}
}

// An old kithctl serve, which takes no lock, still running on its folder
// (its control socket answers): its library is not moved under it.
func TestMigrateWaitsForOldServe(t *testing.T) {
	dir := t.TempDir()
	cid := oldKithctlFolder(t, dir, directory.FormatURL("https://127.0.0.1:7443", newID(t)))
	ln, err := net.Listen("unix", Dir(dir).ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, _, err = Open(dir, quiet)
	ln.Close()
	if err == nil || !strings.Contains(err.Error(), "a kithctl serve (of an older version) runs on this folder") {
		t.Fatalf("open beside a running old serve: %v", err)
	}
	if !heldIn(t, dir, cid) {
		t.Fatal("the library moved under a running serve")
	}
	if d := openData(t, dir); !heldIn(t, d.Library(), cid) { // once it stopped
		t.Fatal("the library did not move after the serve stopped")
	}
}

// probeInLoop asks d.InUse in a loop on another goroutine, as kithctl
// status does while a device starts, and returns once it has asked once.
// probes counts its questions so far; stop ends it and returns their number.
// (A caller loops until probes is well past zero: with one P, or a loaded
// machine, a short loop could end before the prober ran again.)
func probeInLoop(t *testing.T, d Dir) (probes func() int64, stop func() int64) {
	quit := make(chan struct{})
	done := make(chan struct{})
	first := make(chan struct{})
	var n atomic.Int64
	go func() {
		defer close(done)
		for {
			if _, err := d.InUse(); err != nil {
				t.Error(err)
			}
			if n.Add(1) == 1 {
				close(first)
			}
			select {
			case <-quit:
				return
			default:
			}
		}
	}()
	<-first
	return n.Load, func() int64 {
		close(quit)
		<-done
		return n.Load()
	}
}
