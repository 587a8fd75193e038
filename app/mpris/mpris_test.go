package mpris

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/share/sealed"
)

type fakePlayer struct {
	mu   sync.Mutex
	st   app.PlayerState
	subs []func()
	log  []string
}

func (f *fakePlayer) do(what string, fn func(*app.PlayerState)) {
	f.mu.Lock()
	f.log = append(f.log, what)
	fn(&f.st)
	subs := append([]func(){}, f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		s()
	}
}
func (f *fakePlayer) Play(context.Context, []sealed.ContentID, int) error { return nil }
func (f *fakePlayer) TogglePause() {
	f.do("toggle", func(s *app.PlayerState) { s.Playing = !s.Playing })
}
func (f *fakePlayer) Next()                { f.do("next", func(*app.PlayerState) {}) }
func (f *fakePlayer) Previous()            { f.do("previous", func(*app.PlayerState) {}) }
func (f *fakePlayer) Seek(d time.Duration) { f.do("seek", func(s *app.PlayerState) { s.Position = d }) }
func (f *fakePlayer) SetVolume(v float64)  { f.do("volume", func(s *app.PlayerState) { s.Volume = v }) }
func (f *fakePlayer) State() app.PlayerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
func (f *fakePlayer) Changes(fn func()) func() {
	f.mu.Lock()
	f.subs = append(f.subs, fn)
	f.mu.Unlock()
	return func() {}
}

// privateBus starts a dbus-daemon of our own and returns its address.
func privateBus(t *testing.T) string {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not installed")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestMPRIS(t *testing.T) {
	addr := privateBus(t)
	fp := &fakePlayer{st: app.PlayerState{Title: "Kith Jingle", Artist: "Kith Household Band", Duration: 90 * time.Second, Volume: 0.5}}
	s := New(Options{Player: fp, Address: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	client, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	deadline := time.Now().Add(30 * time.Second)
	for s.Name() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	obj := client.Object(busName, path)
	get := func(p string) dbus.Variant {
		v, err := obj.GetProperty(ifacePlayer + "." + p)
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		return v
	}
	md := get("Metadata").Value().(map[string]dbus.Variant)
	if md["xesam:title"].Value() != "Kith Jingle" {
		t.Errorf("metadata %v", md)
	}
	if got := get("PlaybackStatus").Value(); got != "Paused" {
		t.Errorf("status %v, want Paused", got)
	}
	// Media keys: PlayPause, then Seek by +10 s.
	for _, c := range []struct {
		method string
		args   []any
	}{{"PlayPause", nil}, {"Seek", []any{int64(10_000_000)}}, {"Next", nil}} {
		if call := obj.Call(ifacePlayer+"."+c.method, 0, c.args...); call.Err != nil {
			t.Fatalf("%s: %v", c.method, call.Err)
		}
	}
	if st := fp.State(); !st.Playing || st.Position != 10*time.Second {
		t.Errorf("after PlayPause and Seek: %+v", st)
	}
	deadline = time.Now().Add(30 * time.Second)
	for get("PlaybackStatus").Value() != "Playing" {
		if time.Now().After(deadline) {
			t.Fatal("PlaybackStatus never became Playing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Volume is writable from the desktop.
	if err := obj.SetProperty(ifacePlayer+".Volume", dbus.MakeVariant(0.25)); err != nil {
		t.Fatal(err)
	}
	if v := fp.State().Volume; v != 0.25 {
		t.Errorf("volume %v, want 0.25", v)
	}
}

// No bus: Serve says so at once (its supervisor retries it).
func TestNoBus(t *testing.T) {
	s := New(Options{Player: &fakePlayer{}, Address: "unix:path=" + filepath.Join(t.TempDir(), "none"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Serve(ctx); err == nil || !strings.Contains(err.Error(), "no D-Bus session bus") {
		t.Fatalf("Serve with no bus: got %v, want an error naming the missing bus", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Serve waited for the context with no bus")
	}
}
