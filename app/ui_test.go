package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/library"
)

// newTestUI builds the window over w's fakes with background work run
// inline, subscribed to w's changes.
func newTestUI(t *testing.T, w *fakeWorld) *UI {
	t.Helper()
	a := test.NewTempApp(t)
	u, err := newUI(Options{App: a, Backend: w.backend(), DeviceName: "test-host", OnQuit: func() {}}, true)
	if err != nil {
		t.Fatal(err)
	}
	u.win.Resize(fyne.NewSize(1100, 720))
	t.Cleanup(u.watch())
	t.Cleanup(u.win.Close)
	u.pump(context.Background())
	return u
}

// texts lists the visible texts drawn in o (labels, canvas texts,
// entries), skipping everything inside a hidden object.
func texts(o fyne.CanvasObject) []string {
	var out []string
	walkVisible(o, func(x fyne.CanvasObject) bool {
		if t, ok := x.(*canvas.Text); ok && t.Text != "" {
			out = append(out, t.Text)
		}
		return true
	})
	return out
}

// walkVisible calls visit on o and every visible object drawn under it
// (containers' objects, widgets' rendered objects), skipping everything
// inside a hidden object; visit returns whether to go into x.
func walkVisible(o fyne.CanvasObject, visit func(x fyne.CanvasObject) bool) {
	if o == nil || !o.Visible() || !visit(o) {
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walkVisible(c, visit)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walkVisible(c, visit)
		}
	}
}

// shows reports whether some visible text in the window (or its top
// overlay) contains s.
func shows(u *UI, s string) bool {
	objs := []fyne.CanvasObject{u.win.Canvas().Content()}
	if top := u.win.Canvas().Overlays().Top(); top != nil {
		objs = append(objs, top)
	}
	for _, o := range objs {
		for _, t := range texts(o) {
			if strings.Contains(t, s) {
				return true
			}
		}
	}
	return false
}

func signUp(t *testing.T, u *UI) {
	t.Helper()
	test.Type(u.welcome.account, "household")
	test.Type(u.welcome.password, "correct horse battery")
	test.Tap(u.welcome.signUp)
}

// The happy path: first run → demo catalog visible → buy a free
// title → it appears in Library → play → the now-playing bar shows it.
func TestFirstRunBuyPlay(t *testing.T) {
	w := newFakeWorld()
	u := newTestUI(t, w)
	ctx := context.Background()

	if u.View() != ViewWelcome {
		t.Fatalf("first view = %q, want welcome", u.View())
	}
	if !shows(u, "ABCDEFG-HIJKLMN-OPQRSTU") {
		t.Error("first run does not show the directory fingerprint")
	}
	if got := u.welcome.device.Text; got != "test-host" {
		t.Errorf("device name = %q, want the host name", got)
	}
	signUp(t, u)
	if u.View() != ViewStore {
		t.Fatalf("after sign-up view = %q, want store", u.View())
	}
	for _, name := range []string{"Kith Jingle", "Evening Bells", "€1.99", "Free"} {
		if !shows(u, name) {
			t.Errorf("store does not show %q; shows %q", name, texts(u.store.obj))
		}
	}

	u.store.list.Select(0) // Kith Jingle, free
	if u.store.buy.Text != "Get (free)" {
		t.Errorf("buy button = %q", u.store.buy.Text)
	}
	test.Tap(u.store.buy)
	if !shows(u, "is yours") || !shows(u, "Free registration") {
		t.Fatalf("no receipt shown after buying; overlay texts: %q", texts(u.win.Canvas().Overlays().Top()))
	}
	escape(u)

	u.nav.Select(1)
	u.pump(ctx)
	if u.View() != ViewLibrary {
		t.Fatalf("view = %q, want library", u.View())
	}
	if len(u.library.shown) != 1 || !shows(u, "Kith Jingle") {
		t.Fatalf("library shows %d titles: %q", len(u.library.shown), texts(u.library.obj))
	}
	u.library.list.Select(0)
	test.Tap(u.library.play)
	u.pump(ctx)
	if got := u.np.Title(); got != "Kith Jingle" {
		t.Fatalf("now playing = %q, want Kith Jingle", got)
	}
	if !u.np.State().Playing {
		t.Error("now-playing bar does not show playing")
	}

	// space pauses, right arrow seeks 10 s, down lowers the volume.
	u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeySpace})
	u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyRight})
	u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyDown})
	u.pump(ctx)
	st := u.np.State()
	if st.Playing || st.Position != 10*time.Second || st.Volume >= 0.8 {
		t.Errorf("after space, right, down: playing=%v position=%v volume=%v", st.Playing, st.Position, st.Volume)
	}
}

// A neighbour whose owner restricts us offers nothing (and the screen says
// why); an open neighbour offers only what its policies allow us.
func TestRestrictedNeighbour(t *testing.T) {
	w := newFakeWorld()
	w.account = "household"
	w.ns = []fakeNeighbour{
		{Neighbour: Neighbour{ID: "LOCKED1-DEVICE", Name: "study", Account: "lodger"}, holds: []fakeHolding{
			{title: w.titles[0], policy: directory.Policy{Mode: directory.PolicyHousehold}},
		}},
		{Neighbour: Neighbour{ID: "OPENOPE-DEVICE", Name: "attic", Account: "friend"}, holds: []fakeHolding{
			{title: w.titles[1], policy: directory.Policy{Mode: directory.PolicyAnyone}},
			{title: w.titles[2], policy: directory.Policy{Mode: directory.PolicyAnyone, Deny: []string{"household"}}},
		}},
	}
	u := newTestUI(t, w)
	u.Show(ViewNeighbours)
	if !shows(u, "study") || !shows(u, "attic") {
		t.Fatalf("neighbours not listed: %q", texts(u.neighbours.obj))
	}

	u.neighbours.list.Select(0)
	if len(u.neighbours.offers) != 0 {
		t.Errorf("restricted neighbour offers %d titles", len(u.neighbours.offers))
	}
	if !shows(u, "does not share with you") {
		t.Errorf("restriction not explained: %q", texts(u.neighbours.obj))
	}
	if !u.neighbours.relay.Disabled() || !u.neighbours.copyB.Disabled() {
		t.Error("fetch buttons enabled with nothing offered")
	}

	u.neighbours.list.Select(1)
	if len(u.neighbours.offers) != 1 || u.neighbours.offers[0].Title.Name != "Concert A (440 Hz)" {
		t.Fatalf("attic offers %+v, want only Concert A", u.neighbours.offers)
	}
	if shows(u, "Evening Bells") {
		t.Error("a title denied to us is on screen")
	}
	u.neighbours.offerL.Select(0)
	test.Tap(u.neighbours.copyB)
	u.pump(context.Background())
	if len(u.library.all) != 1 || u.library.all[0].State != StateLocked {
		t.Fatalf("after copying ciphertext, library = %+v, want one locked title", u.library.all)
	}
	u.Show(ViewLibrary)
	if !shows(u, "locked — get key") {
		t.Errorf("locked title not marked: %q", texts(u.library.obj))
	}
}

// Errors from the backends are shown as worded, never swallowed.
func TestErrorsShown(t *testing.T) {
	declined := &directory.Error{Status: 402, Code: directory.CodeCardDeclined, Message: "the card was declined (test number 4000 0000 0000 0002)"}
	for _, tc := range []struct {
		name  string
		setup func(w *fakeWorld)
		act   func(t *testing.T, u *UI)
		want  string
	}{{
		// sign-up refused by the directory: its words, on the welcome screen
		name:  "sign-up conflict",
		setup: func(w *fakeWorld) { w.accounts["household"] = "x" },
		act:   func(t *testing.T, u *UI) { signUp(t, u) },
		want:  `account "household" already exists`,
	}, {
		// the catalog cannot be searched
		name: "catalog unavailable",
		setup: func(w *fakeWorld) {
			w.account = "a"
			w.titlesErr = &directory.Error{Status: 503, Code: directory.CodeInternal, Message: "the directory is starting, try again in a minute"}
		},
		act:  func(t *testing.T, u *UI) { u.Show(ViewStore) },
		want: "the directory is starting",
	}, {
		// a purchase declined: the directory's message under the buy button
		name:  "purchase declined",
		setup: func(w *fakeWorld) { w.account = "a"; w.buyErr = declined },
		act: func(t *testing.T, u *UI) {
			u.Show(ViewStore)
			u.store.list.Select(0)
			test.Tap(u.store.buy)
		},
		want: "the card was declined",
	}, {
		// the library index cannot be read
		name:  "library unreadable",
		setup: func(w *fakeWorld) { w.account = "a"; w.itemsErr = errors.New("reading library index: disk I/O error") },
		act: func(t *testing.T, u *UI) {
			u.Show(ViewLibrary)
			u.pump(context.Background())
		},
		want: "disk I/O error",
	}, {
		// playback refused
		name: "play fails",
		setup: func(w *fakeWorld) {
			w.account = "a"
			w.items = []Item{{Content: cid(9), Name: "Broken", State: StateOwned}}
			w.playErr = errors.New("unsupported media type video/x-unknown")
		},
		act: func(t *testing.T, u *UI) {
			u.Show(ViewLibrary)
			u.library.list.Select(0)
			test.Tap(u.library.play)
		},
		want: "unsupported media type",
	}, {
		// a download the disk cannot hold: the library's words for a
		// person, without the calls' wrapping
		name: "disk full",
		setup: func(w *fakeWorld) {
			w.account = "a"
			w.items = []Item{{Content: cid(9), Name: "Big", State: StatePaused}}
			w.fetchErr = fmt.Errorf("fetching %s: %w", cid(9), &library.NoSpaceError{Dir: "/home/a/.local/share/kith/library/content", Need: 700 << 20, Free: 12 << 20})
		},
		act: func(t *testing.T, u *UI) {
			u.Show(ViewLibrary)
			u.library.list.Select(0)
			test.Tap(u.library.fetch)
			if got := u.library.dErr.Text; strings.HasPrefix(got, "fetching") {
				t.Errorf("error shown as %q: the calls' wrapping, not the words for a person", got)
			}
		},
		want: "not enough disk space for this download: it needs 700.0 MiB in /home/a/.local/share/kith/library/content, 12.0 MiB free; free some space there or use another data folder (--data)",
	}, {
		// a neighbour that cannot be reached
		name: "neighbour unreachable",
		setup: func(w *fakeWorld) {
			w.account = "a"
			w.ns = []fakeNeighbour{{Neighbour: Neighbour{ID: "GONE", Name: "garage"}, err: errors.New("dial tcp 10.0.0.9:7000: connection refused")}}
		},
		act: func(t *testing.T, u *UI) {
			u.Show(ViewNeighbours)
			u.neighbours.list.Select(0)
		},
		want: "connection refused",
	}, {
		// no multicast network: LAN discovery unavailable, said so
		name:  "LAN discovery unavailable",
		setup: func(w *fakeWorld) { w.account = "a"; w.discovery = "LAN discovery is unavailable: no usable addresses" },
		act:   func(t *testing.T, u *UI) { u.Show(ViewNeighbours) },
		want:  "LAN discovery is unavailable: no usable addresses",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld()
			tc.setup(w)
			u := newTestUI(t, w)
			tc.act(t, u)
			if !shows(u, tc.want) {
				t.Errorf("%q not shown; screen: %q", tc.want, texts(u.win.Canvas().Content()))
			}
		})
	}
}

// The bar's states: buffering, no output, picture.
func TestNowPlayingStates(t *testing.T) {
	test.NewTempApp(t)
	n := NewNowPlaying()
	test.NewTempWindow(t, n.Object())
	for _, tc := range []struct {
		name string
		st   PlayerState
		want string
	}{
		// chunks still arriving
		{"buffering", PlayerState{Title: "x", Buffering: true}, "Buffering…"},
		// no sound card: said, not stuck at 0:00
		{"no output", PlayerState{Title: "x", NoOutput: true}, "No audio output available"},
		// an error beats the other states
		{"error", PlayerState{Title: "x", Buffering: true, Err: "chunk 3 failed verification"}, "chunk 3 failed verification"},
		// nothing to say
		{"playing", PlayerState{Title: "x", Playing: true, Position: 65 * time.Second, Duration: 200 * time.Second}, ""},
	} {
		n.SetState(tc.st)
		if got := n.Status(); got != tc.want {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.want)
		}
	}
	if n.elapsed.Text != "1:05" || n.remain.Text != "-2:15" {
		t.Errorf("elapsed/remaining = %q/%q, want 1:05/-2:15", n.elapsed.Text, n.remain.Text)
	}
	var seeked time.Duration
	n.OnSeek = func(d time.Duration) { seeked = d }
	n.seek.OnChangeEnded(0.5)
	if seeked != 100*time.Second {
		t.Errorf("seek to half = %v, want 1m40s", seeked)
	}
}

// A picture title opens the viewer.
func TestPictureOpensViewer(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.items = []Item{{Content: cid(4), Name: "Harbour at Dusk", MediaType: "image/png", State: StateOwned}}
	u := newTestUI(t, w)
	u.Show(ViewLibrary)
	u.library.list.Select(0)
	test.Tap(u.library.play)
	u.pump(context.Background())
	if u.viewer == nil {
		t.Fatal("no viewer window for a picture")
	}
	if u.np.view.Hidden {
		t.Error("the bar has no View button for a picture")
	}
}

// The last view and the theme are remembered in preferences.
func TestPreferences(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	u.Show(ViewSharing)
	if got := u.app.Preferences().String(prefView); got != ViewSharing {
		t.Errorf("remembered view = %q", got)
	}
	u.settings.themeRG.SetSelected("Dark")
	if got := u.app.Preferences().String(prefTheme); got != "dark" {
		t.Errorf("remembered theme = %q", got)
	}
	u.win.Resize(fyne.NewSize(900, 650))
	u.Quit()
	if got := u.app.Preferences().Float(prefWidth); got != 900 {
		t.Errorf("remembered width = %v", got)
	}
	u2, err := newUI(Options{App: u.app, Backend: w.backend(), OnQuit: func() {}}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer u2.win.Close()
	if u2.View() != ViewSharing {
		t.Errorf("second start shows %q, want the remembered sharing", u2.View())
	}
}

// Sharing: the default policy is applied and uploads are listed.
func TestSharing(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.uploads = []Upload{{PeerName: "attic", Title: "Kith Jingle", Bytes: 3 << 20, Last: time.Now()}}
	u := newTestUI(t, w)
	u.Show(ViewSharing)
	if !shows(u, "You have supplied 3.0 MiB") || !shows(u, "attic") {
		t.Errorf("uploads not shown: %q", texts(u.sharing.obj))
	}
	u.sharing.policy.SetSelected("Chosen devices")
	test.Tap(u.sharing.save)
	if !shows(u, "name at least one device") {
		t.Error("an empty allow list was accepted silently")
	}
	test.Type(u.sharing.allow, "friend")
	test.Tap(u.sharing.save)
	if p := w.policy; p.Mode != directory.PolicyList || len(p.Allow) != 1 || p.Allow[0] != "friend" {
		t.Errorf("default policy = %+v", p)
	}
}

// The swarm view draws one node per peer.
func TestSwarmDrawing(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.items = []Item{{Content: cid(1), Name: "Kith Jingle", State: StateDownloading, Size: 100, Have: 40}}
	u := newTestUI(t, w)
	u.Show(ViewSwarm)
	u.pump(context.Background())
	var circles int
	for _, o := range test.LaidOutObjects(u.swarm.graph) {
		if _, ok := o.(*canvas.Circle); ok {
			circles++
		}
	}
	if circles != 3 {
		t.Errorf("swarm draws %d nodes, want 3 (us + 2 peers)", circles)
	}
	if !shows(u, "attic") || !shows(u, "2.0 MiB/s") {
		t.Errorf("swarm labels: %q", texts(u.swarm.obj))
	}
	var _ = widget.NewLabel
}

// Sharing: the install page's address and the package checksum are shown,
// and a missing package says where it goes. The offer is read only once
// the screen shows (reading it makes the package from this program the
// first time: seconds of CPU not wanted at every start, e.g. beside a
// video playing).
func TestSharingShowsInstallPage(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.install = InstallOffer{URL: "http://192.168.1.20:7143/", Dir: "/home/ana/.local/share/kith/install"}
	u := newTestUI(t, w)
	u.Show(ViewLibrary)
	w.changed(areaSharing)
	u.pump(context.Background())
	if w.installed != 0 {
		t.Fatalf("the install offer was read %d times before the Sharing screen showed", w.installed)
	}
	u.Show(ViewSharing)
	if !shows(u, "http://192.168.1.20:7143/") || u.sharing.installSum.Visible() ||
		!strings.Contains(u.sharing.installNote.Text, "/home/ana/.local/share/kith/install") {
		t.Errorf("no package: %q, note %q", texts(u.sharing.obj), u.sharing.installNote.Text)
	}
	// Being made from the running program: said so, no checksum yet.
	w.mu.Lock()
	w.install.Preparing = true
	w.mu.Unlock()
	w.changed(areaSharing)
	u.pump(context.Background())
	if !strings.Contains(u.sharing.installNote.Text, "Preparing") || u.sharing.installSum.Visible() {
		t.Errorf("preparing: note %q, sum visible %v", u.sharing.installNote.Text, u.sharing.installSum.Visible())
	}
	sum := strings.Repeat("ab12", 16)
	w.mu.Lock()
	w.install.Available, w.install.Preparing, w.install.SHA256, w.install.Size = true, false, sum, 17_700_000
	w.mu.Unlock()
	w.changed(areaSharing)
	u.pump(context.Background())
	if !u.sharing.installSum.Visible() || u.sharing.installSum.Text != "SHA-256 "+sum ||
		!shows(u, "http://192.168.1.20:7143/") {
		t.Errorf("with a package: sum %q (visible %v), %q", u.sharing.installSum.Text,
			u.sharing.installSum.Visible(), texts(u.sharing.obj))
	}
}

// Settings → Sign out takes the device out of its account and shows the
// welcome screen; signing in as another account there brings the user
// back to Settings, signed in as that account, without a restart. A
// sign-out the directory refused leaves the device signed in and says why.
func TestSignOutThenAnotherAccount(t *testing.T) {
	w := newFakeWorld()
	w.accounts["other"] = "another password"
	u := newTestUI(t, w)
	signUp(t, u)
	u.Show(ViewSettings)
	if !shows(u, "Signed in as household") || u.settings.signOut.Disabled() {
		t.Fatalf("settings before signing out: %q", texts(u.settings.obj))
	}

	w.mu.Lock()
	w.signOutErr = errors.New("the directory did not answer")
	w.mu.Unlock()
	test.Tap(u.settings.signOut)
	if u.View() != ViewSettings || !shows(u, "the directory did not answer") || !shows(u, "Signed in as household") {
		t.Fatalf("a refused sign-out: view %q, %q", u.View(), texts(u.settings.obj))
	}

	w.mu.Lock()
	w.signOutErr = nil
	w.mu.Unlock()
	test.Tap(u.settings.signOut)
	if u.View() != ViewWelcome {
		t.Fatalf("after signing out: view %q, want welcome", u.View())
	}
	test.Type(u.welcome.account, "other")
	test.Type(u.welcome.password, "another password")
	test.Tap(u.welcome.signIn)
	if u.View() != ViewSettings || !shows(u, "Signed in as other") {
		t.Fatalf("after signing in as another account: view %q, %q", u.View(), texts(u.settings.obj))
	}
}

// Where discovery fails, a device is added by its address on the
// Neighbours screen: the screen shows this device's own address to type on
// the other; an address where no device answers is refused in words; a
// good one lists the device (marked "added by hand") and shows what it
// offers; "Forget this device" removes it.
func TestNeighbourAddedByHandOnScreen(t *testing.T) {
	w := newFakeWorld()
	w.account = "household"
	w.discovery = "LAN discovery is unavailable: no multicast-capable network"
	w.at = map[string]fakeNeighbour{"192.168.1.20:7143": {
		Neighbour: Neighbour{ID: "ATTIC01-DEVICE", Name: "attic", Account: "household"},
		holds:     []fakeHolding{{title: w.titles[1], policy: directory.Policy{Mode: directory.PolicyHousehold}}},
	}}
	u := newTestUI(t, w)
	u.Show(ViewNeighbours)
	s := u.neighbours
	if !strings.Contains(s.addHelp.Text, "This device: 192.168.1.5:7143") || !s.addHelp.Visible() {
		t.Fatalf("help for adding by hand: %q", s.addHelp.Text)
	}
	if !strings.Contains(s.empty.Text, "added by its address") {
		t.Errorf("discovery problem text: %q", s.empty.Text)
	}

	test.Type(s.addr, "192.168.1.99:7143")
	test.Tap(s.addB)
	u.pump(context.Background())
	if !s.addErr.Visible() || !strings.Contains(s.addErr.Text, "no Kith device answers there") || len(s.ns) != 0 {
		t.Fatalf("adding an address where nothing answers: error %q (shown %v), %d listed", s.addErr.Text, s.addErr.Visible(), len(s.ns))
	}

	s.addr.SetText("")
	test.Type(s.addr, "192.168.1.20:7143")
	test.Tap(s.addB)
	u.pump(context.Background())
	if s.addErr.Visible() || len(s.ns) != 1 || !s.ns[0].ByHand || s.addr.Text != "" {
		t.Fatalf("after adding: error %q, listed %+v, entry %q", s.addErr.Text, s.ns, s.addr.Text)
	}
	if !shows(u, "added by hand") || !shows(u, "attic") {
		t.Errorf("the added device is not shown as added by hand: %q", texts(s.obj))
	}
	if len(s.offers) != 1 || s.offers[0].Title.Name != w.titles[1].Name || !s.forget.Visible() {
		t.Fatalf("offers %+v, forget shown %v", s.offers, s.forget.Visible())
	}

	test.Tap(s.forget)
	u.pump(context.Background())
	if len(s.ns) != 0 || s.right.Visible() {
		t.Fatalf("after forgetting: listed %+v, offers panel shown %v", s.ns, s.right.Visible())
	}
	w.mu.Lock()
	calls, onUI := w.addressCalls, w.addressOnUI
	w.mu.Unlock()
	if calls == 0 || onUI != 0 {
		t.Fatalf("this device's address (its interfaces) read %d times, %d of them on the UI goroutine; want none there", calls, onUI)
	}
}
