package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/app/wire"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/syncbuf"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// silentOutput is an audio output that never pulls (nothing plays here).
type silentOutput struct{}

func (silentOutput) Start(io.Reader) error { return nil }
func (silentOutput) SampleRate() int       { return 44100 }
func (silentOutput) SetPlaying(bool)       {}
func (silentOutput) SetVolume(float64)     {}
func (silentOutput) Buffered() int         { return 0 }
func (silentOutput) Flush()                {}
func (silentOutput) Err() error            { return nil }
func (silentOutput) Close() error          { return nil }

// startApp starts the desktop app's device (app/wire: the same Start the
// kith program runs, without the window) on data; stop ends it.
func startApp(t *testing.T, data, dirURL string) (k *wire.Kith, stop func()) {
	t.Helper()
	k, err := wire.Start(context.Background(), wire.Config{DataDir: data, Directory: dirURL, NoLAN: true,
		Listen: "127.0.0.1:0", HouseholdAddr: "127.0.0.1:0", DeviceName: "desk", Output: silentOutput{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Serve(ctx) }()
	return k, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app: %v", err)
		}
	}
}

// importContent puts a sealed content in lib, as a download would.
func importContent(t *testing.T, lib *library.Library) sealed.ContentID {
	t.Helper()
	key, _ := sealed.NewContentKey()
	var buf bytes.Buffer
	m, err := sealed.Seal(&buf, bytes.NewReader(bytes.Repeat([]byte("shared folder "), 20_000)), key,
		sealed.Options{ChunkSize: 16 << 10, MediaType: "audio/test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Import(context.Background(), m, &buf); err != nil {
		t.Fatal(err)
	}
	return m.ContentID()
}

// The app and kithctl pointed at one data folder run one device: what the
// app made (device key, the directory it uses, the account it signed up,
// its library) kithctl serve uses as it is, with no --directory; what
// kithctl changes (the account) the app finds on its next start; and
// neither starts while the other holds the folder.
func TestAppAndKithctlShareTheDataFolder(t *testing.T) {
	dirURL := startDirectory(t)
	_, fp, _ := directory.ParseURL(dirURL)
	data := t.TempDir()
	t.Setenv(envPassword, "correct horse battery")
	ctx := context.Background()

	k, stopApp := startApp(t, data, dirURL)
	appID := k.Device.ID()
	if err := k.Backend.Session.SignUp(ctx, "alice", "correct horse battery", "desk"); err != nil {
		t.Fatal(err)
	}
	cid := importContent(t, k.Adapter.Share().Library())
	var errb syncbuf.Buffer
	if code := run(ctx, []string{"--data", data, "serve", "--listen", "127.0.0.1:0", "--lan=false"}, &errb, &errb); code != 1 ||
		!strings.Contains(errb.String(), "in use by another Kith process") {
		t.Fatalf("kithctl serve while the app runs: exit %d: %s; want refused, folder in use", code, errb.String())
	}
	var out bytes.Buffer
	if code := run(ctx, []string{"--data", data, "status"}, &out, &out); code != 1 || !strings.Contains(out.String(), "run by the Kith app") {
		t.Fatalf("kithctl status while the app runs: exit %d: %s; want it to say the app runs the device", code, out.String())
	}
	stopApp()

	sctx, stopServe := context.WithCancel(ctx)
	var serveLog syncbuf.Buffer
	served := make(chan int, 1)
	go func() {
		served <- run(sctx, []string{"--data", data, "serve", "--listen", "127.0.0.1:0", "--lan=false"}, &serveLog, &serveLog)
	}()
	cmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"--data", data}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	var st Status
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, out := cmd("--json", "status")
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status %q: %v", out, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kithctl serve on the app's folder did not answer: %s", serveLog.String())
		}
	}
	if st.Device != appID || st.Account != "alice" || st.Directory != fp {
		t.Errorf("kithctl sees device %s account %q directory %s; the app had %s, alice, %s", st.Device.Short(), st.Account, st.Directory.Short(), appID.Short(), fp.Short())
	}
	held := false
	for _, h := range st.Holdings {
		held = held || (h.Content == cid && h.Complete)
	}
	if !held {
		t.Errorf("kithctl does not hold what the app's library held: %+v", st.Holdings)
	}
	if _, err := wire.Start(ctx, wire.Config{DataDir: data, Directory: dirURL, NoLAN: true, Listen: "127.0.0.1:0",
		Output: silentOutput{}, Logger: slog.New(slog.DiscardHandler)}); !errors.Is(err, datadir.ErrInUse) {
		t.Fatalf("the app started while kithctl serves its folder: %v", err)
	}
	for _, args := range [][]string{{"signout"}, {"signup", "bob"}, {"signin", "bob"}} {
		if code, out := cmd(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
	}
	stopServe()
	if code := <-served; code != 0 {
		t.Fatalf("serve exited %d: %s", code, serveLog.String())
	}

	k2, stopApp2 := startApp(t, data, "") // the directory kithctl used, from the folder
	defer stopApp2()
	if k2.Device.ID() != appID || k2.Session.Account() != "bob" || k2.Joined.Fingerprint != fp {
		t.Errorf("the app after kithctl: device %s account %q directory %s; want %s, bob, %s",
			k2.Device.ID().Short(), k2.Session.Account(), k2.Joined.Fingerprint.Short(), appID.Short(), fp.Short())
	}
	if s, err := k2.Adapter.Share().Library().Status(ctx, cid); err != nil || !s.Complete {
		t.Errorf("the app's library after kithctl: %+v, %v", s, err)
	}
}
