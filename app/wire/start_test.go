package wire

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/player/decode"
	"github.com/kith-media/kith/share/sealed"
)

// paceOutput is a player.Output that pulls PCM in real time and drops it:
// an audio device for machines without one.
type paceOutput struct {
	mu      sync.Mutex
	playing bool
	pulled  int64
	stop    chan struct{}
	once    sync.Once
}

const paceRate = 44100

func newPaceOutput() *paceOutput { return &paceOutput{stop: make(chan struct{})} }

func (o *paceOutput) Start(src io.Reader) error {
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		buf := make([]byte, paceRate/100*decode.BytesPerFrame) // 10 ms of the player's frames
		for {
			select {
			case <-o.stop:
				return
			case <-t.C:
			}
			o.mu.Lock()
			playing := o.playing
			o.mu.Unlock()
			if playing {
				n, _ := io.ReadFull(src, buf)
				o.mu.Lock()
				o.pulled += int64(n)
				o.mu.Unlock()
			}
		}
	}()
	return nil
}
func (o *paceOutput) SampleRate() int { return paceRate }
func (o *paceOutput) SetPlaying(p bool) {
	o.mu.Lock()
	o.playing = p
	o.mu.Unlock()
}
func (o *paceOutput) SetVolume(float64) {}
func (o *paceOutput) Buffered() int     { return 0 }
func (o *paceOutput) Flush()            {}
func (o *paceOutput) Err() error        { return nil }
func (o *paceOutput) Close() error      { o.once.Do(func() { close(o.stop) }); return nil }

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startKith(t testing.TB, ctx context.Context, dir string) (*Kith, func()) {
	t.Helper()
	k, err := Start(ctx, Config{DataDir: dir, NoLAN: true, HouseholdAddr: "127.0.0.1:0", Listen: "127.0.0.1:0",
		DeviceName: "test-host", Output: newPaceOutput(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Serve(sctx) }()
	return k, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("Serve did not return 60 s after cancel")
		}
	}
}

func waitFor(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The happy path over the real parts: first run starts the
// household directory with the demo catalog → sign up → buy a free title →
// it downloads into the library → it plays; a priced title without a card
// is refused in the directory's words; a restart keeps everything.
func TestHouseholdFirstRun(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, stop := startKith(t, ctx, dir)
	b := k.Backend
	if !k.Joined.Embedded || k.Joined.Fingerprint == "" {
		t.Fatalf("first run joined %+v, want the embedded household directory", k.Joined)
	}
	if got := b.Session.Account(); got != "" {
		t.Fatalf("account before sign-up = %q", got)
	}
	if err := b.Session.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	ts, total, err := b.Catalog.Titles(ctx, "", 1, 50)
	if err != nil {
		t.Fatal(err)
	}
	if total != 6 || len(ts) != 6 {
		t.Fatalf("demo catalog has %d titles (%d on the page), want 6", total, len(ts))
	}
	find := func(name string) directory.Title {
		for _, x := range ts {
			if x.Name == name {
				return x
			}
		}
		t.Fatalf("no %q in the catalog", name)
		return directory.Title{}
	}
	jingle, bells := find("Kith Jingle"), find("Evening Bells")

	rc, err := b.Catalog.Buy(ctx, jingle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Amount != 0 || rc.Account != "household" {
		t.Errorf("receipt %+v, want a free registration for household", rc)
	}
	item := func() (app.Item, bool) {
		items, err := b.Library.Items(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Content == jingle.ContentID {
				return it, true
			}
		}
		return app.Item{}, false
	}
	waitFor(t, "the jingle to download", 60*time.Second, func() bool {
		it, ok := item()
		return ok && it.State == app.StateOwned
	})
	if it, _ := item(); it.Name != "Kith Jingle" || it.Have != it.Size {
		t.Errorf("library item %+v", it)
	}

	if err := b.Player.Play(ctx, []sealed.ContentID{jingle.ContentID}, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the now-playing state", 30*time.Second, func() bool {
		st := b.Player.State()
		return st.Title == "Kith Jingle" && (st.Playing || st.Position > 0)
	})
	if st := b.Player.State(); st.Artist != "Kith Household Band" || st.NoOutput || st.Err != "" {
		t.Errorf("player state %+v", st)
	}

	// A priced title needs a card: refused by the directory, in its words.
	_, err = b.Catalog.Buy(ctx, bells, nil)
	var de *directory.Error
	if !errors.As(err, &de) || de.Message == "" {
		t.Fatalf("buying a priced title without a card: %v, want a directory error", err)
	}
	// The test processor's declined card is refused too.
	_, err = b.Catalog.Buy(ctx, bells, &license.Payment{Name: "A", Card: "4000000000000002", Expiry: "12/30", CVC: "123", Address: "1 Road"})
	if !errors.As(err, &de) {
		t.Fatalf("declined card: %v, want a directory error", err)
	}
	t.Logf("declined card worded as %q", de.Message)
	stop()

	// Second start: same directory, same account, the title still owned.
	k2, stop2 := startKith(t, ctx, dir)
	defer stop2()
	if k2.Joined.Fingerprint != k.Joined.Fingerprint {
		t.Errorf("restart joined %s, first run %s", k2.Joined.Fingerprint, k.Joined.Fingerprint)
	}
	if got := k2.Backend.Session.Account(); got != "household" {
		t.Errorf("account after restart = %q", got)
	}
	items, err := k2.Backend.Library.Items(ctx)
	if err != nil || len(items) != 1 || items[0].State != app.StateOwned {
		t.Fatalf("library after restart: %+v, %v", items, err)
	}
	if ts, _, _ := k2.Backend.Catalog.Titles(ctx, "", 1, 50); len(ts) != 6 {
		t.Errorf("demo published again: %d titles", len(ts))
	}
	if !strings.Contains(k2.Joined.URL, "127.0.0.1:") {
		t.Errorf("URL %q", k2.Joined.URL)
	}
}

// A household directory asked to listen on one address is reached there
// by the app's own client: it used to dial 127.0.0.1 whatever the address,
// so --household 192.168.1.20:7443 could never sign up.
func TestHouseholdOnOneAddress(t *testing.T) {
	ctx := context.Background()
	k, err := Start(ctx, Config{DataDir: t.TempDir(), NoLAN: true, HouseholdAddr: "127.0.0.2:0", Listen: "127.0.0.1:0",
		DeviceName: "test-host", Output: newPaceOutput(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Serve(sctx) }()
	defer func() { cancel(); <-done }()
	if !strings.Contains(k.Joined.URL, "127.0.0.2:") {
		t.Errorf("joined %q, want the address it listens on", k.Joined.URL)
	}
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatalf("sign-up against the household on 127.0.0.2: %v", err)
	}
}

// "Sharing off" is stored: after a restart the switch still says off, the
// peer side still offers nothing by default, and switching it on again
// brings back the default chosen before (or while) it was off.
func TestSharingOffSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, stop := startKith(t, ctx, dir)
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	sh := k.Backend.Sharing
	household := directory.Policy{Mode: directory.PolicyHousehold}
	if err := sh.SetDefaultPolicy(ctx, household); err != nil {
		t.Fatal(err)
	}
	if err := sh.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	stop()

	k2, stop2 := startKith(t, ctx, dir)
	defer stop2()
	sh = k2.Backend.Sharing
	if sh.Enabled() {
		t.Fatal("sharing on after a restart; it was switched off")
	}
	if got := sh.DefaultPolicy(); got.Mode != directory.PolicyHousehold {
		t.Errorf("default shown while off: %+v, want household (the one to return to)", got)
	}
	if p, err := k2.node().Library().Policy(ctx, ""); err != nil || p.Mode != directory.PolicyNobody {
		t.Fatalf("stored default while off: %+v, %v; want nobody", p, err)
	}
	anyone := directory.Policy{Mode: directory.PolicyAnyone}
	if err := sh.SetDefaultPolicy(ctx, anyone); err != nil { // while off: kept for later
		t.Fatal(err)
	}
	if p, _ := k2.node().Library().Policy(ctx, ""); p.Mode != directory.PolicyNobody {
		t.Fatalf("changing the default while off shared again: %+v", p)
	}
	if err := sh.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !sh.Enabled() {
		t.Fatal("sharing still off after switching it on")
	}
	if p, _ := k2.node().Library().Policy(ctx, ""); p.Mode != directory.PolicyAnyone {
		t.Errorf("default after switching on: %+v, want anyone", p)
	}
}

// Sign out and sign in as another account on the running app, over the
// real household directory: the device leaves "household" (which no
// longer lists it), joins "neighbours" (the directory refused that with
// 409 before), and the title household's license unlocked shows locked for
// the new account until it gets its own; the node is never rebuilt, and a
// restart remembers the new account.
func TestSignOutAndInAsAnotherAccount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, stop := startKith(t, ctx, dir)
	b := k.Backend
	if err := b.Session.SignUp(ctx, "household", "correct horse battery", "test-host"); err != nil {
		t.Fatal(err)
	}
	ts, _, err := b.Catalog.Titles(ctx, "Kith Jingle", 1, 10)
	if err != nil || len(ts) != 1 {
		t.Fatalf("catalog: %v %v", ts, err)
	}
	jingle := ts[0]
	if _, err := b.Catalog.Buy(ctx, jingle, nil); err != nil {
		t.Fatal(err)
	}
	state := func() app.ItemState {
		items, err := b.Library.Items(ctx)
		if err != nil || len(items) != 1 {
			return -1 // not listed yet
		}
		return items[0].State
	}
	waitFor(t, "the jingle to download", 60*time.Second, func() bool { return state() == app.StateOwned })
	n := k.node()
	if err := b.Session.SignUp(ctx, "neighbours", "another good password", "test-host"); err == nil || !strings.Contains(err.Error(), "sign out of it first") {
		t.Fatalf("signing up as another account without signing out first: %v; want refused, saying to sign out", err)
	}

	if err := b.Session.SignOut(ctx); err != nil {
		t.Fatalf("signing out: %v", err)
	}
	if b.Session.Account() != "" || n.Account() != "" {
		t.Fatalf("after signing out: session %q, node %q", b.Session.Account(), n.Account())
	}
	if err := b.Session.SignUp(ctx, "neighbours", "another good password", "test-host"); err != nil {
		t.Fatalf("signing up as another account after signing out: %v", err)
	}
	if k.node() != n || n.Account() != "neighbours" {
		t.Fatalf("node rebuilt (%v) or on account %q", k.node() != n, n.Account())
	}
	if st := state(); st != app.StateLocked {
		t.Errorf("household's title for neighbours: state %v, want locked", st)
	}
	c, err := k.Session.client()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.Devices(ctx)
	if err != nil || len(ds) != 1 || ds[0].Account != "neighbours" {
		t.Errorf("neighbours' devices: %+v, %v", ds, err)
	}
	if _, err := b.Catalog.Buy(ctx, jingle, nil); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != app.StateOwned {
		t.Errorf("after neighbours got it too: state %v, want owned", st)
	}
	stop()

	k2, stop2 := startKith(t, ctx, dir)
	defer stop2()
	if got := k2.Backend.Session.Account(); got != "neighbours" {
		t.Errorf("account after restart = %q, want neighbours", got)
	}
}
