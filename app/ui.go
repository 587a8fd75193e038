package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/sealed"
)

// Views, by the names used in preferences and by --view.
const (
	ViewWelcome    = "welcome"
	ViewStore      = "store"
	ViewLibrary    = "library"
	ViewNeighbours = "neighbours"
	ViewSharing    = "sharing"
	ViewSwarm      = "swarm"
	ViewSettings   = "settings"
)

// Views lists the main screens in navigation order.
var Views = []string{ViewStore, ViewLibrary, ViewMusic, ViewNeighbours, ViewSharing, ViewSwarm, ViewSettings}

var viewTitles = map[string]string{
	ViewStore: "Store", ViewMusic: "Music", ViewLibrary: "Library", ViewNeighbours: "Neighbours",
	ViewSharing: "Sharing", ViewSwarm: "Swarm", ViewSettings: "Settings",
}

// Options configure a UI.
type Options struct {
	App        fyne.App
	Backend    Backend
	Logger     *slog.Logger // nil = slog.Default()
	View       string       // first screen; "" = the one remembered from last time
	DeviceName string       // suggested name for this device (the host name)
	// Window, if set, is used as the main window (e.g. one already showing
	// a start-up screen); nil makes a new one.
	Window fyne.Window
	// OnQuit is called when the user quits (window closed, tray "Quit").
	// nil = App.Quit.
	OnQuit func()
}

// area is one part of the UI refreshed from one backend.
type area int

const (
	areaLibrary area = iota
	areaNeighbours
	areaSharing
	areaPlayer
	areaMusic // the Music screen's tracks, loaded only while it is shown
	nAreas
)

// UI is Kith's main window and everything in it.
type UI struct {
	o    Options
	b    Backend
	log  *slog.Logger
	app  fyne.App
	win  fyne.Window
	sync bool // tests: run background work inline

	dirty [nAreas]chan struct{}
	wg    sync.WaitGroup
	ctx   context.Context // background work; cancelled by Serve's end
	stop  context.CancelFunc

	stats *Stats

	view    string
	nav     *widget.List
	center  *fyne.Container
	root    *fyne.Container
	main    *fyne.Container // the split, or the welcome screen alone
	split   *container.Split
	screens map[string]fyne.CanvasObject

	welcome    *welcomeScreen
	store      *storeScreen
	library    *libraryScreen
	music      *musicScreen
	musicShown atomic.Bool // the Music screen is shown: its tracks follow the library
	// sharingShown: the Sharing screen is shown, so its install offer is
	// read (reading it makes the package from this program the first time:
	// seconds of gzip on a core, not wanted at every start).
	sharingShown atomic.Bool
	neighbours   *neighboursScreen
	sharing      *sharingScreen
	swarm        *swarmScreen
	settings     *settingsScreen
	np           *NowPlaying
	viewer       fyne.Window
	lastPlayer   PlayerState
	started      time.Time
	libShown     bool
	libShownAt   time.Time     // UI goroutine only
	bus          bool          // a D-Bus session bus is there (tray, notifications)
	dialogKeys   []*dialogKeys // Enter/Escape of the dialogs shown, innermost last

	ps playerStates // the player's states on their way to the bar

	video        *videoView  // nil when Backend.Video is nil
	videoPlaying atomic.Bool // a video plays (for the probe, off the UI goroutine)
	fullScreen   bool        // the video view fills the screen
	beforeVideo  string      // the screen shown before the video view
}

// New builds the main window (not shown yet). It must be called on the UI
// goroutine (before App.Run, or inside fyne.Do); it starts nothing.
func New(o Options) (*UI, error) { return newUI(o, false) }

// newUI is New; inline runs background work on the calling goroutine
// (tests, where fyne.Do is synchronous too).
func newUI(o Options, inline bool) (*UI, error) {
	if o.App == nil {
		return nil, errors.New("app: Options.App is required")
	}
	b := o.Backend
	if b.Session == nil || b.Catalog == nil || b.Library == nil || b.Neighbours == nil || b.Sharing == nil || b.Player == nil {
		return nil, errors.New("app: every Backend interface is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnQuit == nil {
		o.OnQuit = o.App.Quit
	}
	ctx, stop := context.WithCancel(context.Background())
	u := &UI{o: o, b: b, log: o.Logger, app: o.App, ctx: ctx, sync: inline, stop: stop, stats: &Stats{}, screens: map[string]fyne.CanvasObject{}}
	for i := range u.dirty {
		u.dirty[i] = make(chan struct{}, 1)
	}
	if !inline {
		u.ps.after = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	u.started = time.Now()
	u.bus = sessionBusAvailable()
	applyTheme(u.app, u.app.Preferences().String(prefTheme))
	u.win = o.Window
	if u.win == nil {
		u.win = u.app.NewWindow("Kith")
	} else if old := u.win.Content(); old != nil {
		stopActivity(old) // the start-up screen's bar would animate on, unseen
	}
	u.win.SetIcon(Icon)
	w := u.app.Preferences().FloatWithFallback(prefWidth, 1200)
	h := u.app.Preferences().FloatWithFallback(prefHeight, 760)
	u.win.Resize(fyne.NewSize(float32(w), float32(h)))
	u.win.SetCloseIntercept(u.quit)
	u.build()
	u.keyboard()
	u.tray()
	return u, nil
}

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Stats are the UI-goroutine timings measured so far.
func (u *UI) Stats() StatsSnapshot { return u.stats.Snapshot() }

func (u *UI) build() {
	u.np = NewNowPlaying()
	u.np.OnPlayPause = u.b.Player.TogglePause
	u.np.OnNext = u.b.Player.Next
	u.np.OnPrevious = u.b.Player.Previous
	u.np.OnSeek = u.b.Player.Seek
	u.np.OnVolume = u.b.Player.SetVolume
	u.np.OnView = u.showVideoOrPicture

	u.welcome = newWelcomeScreen(u)
	u.store = newStoreScreen(u)
	u.library = newLibraryScreen(u)
	u.music = newMusicScreen(u)
	u.neighbours = newNeighboursScreen(u)
	u.sharing = newSharingScreen(u)
	u.swarm = newSwarmScreen(u)
	u.settings = newSettingsScreen(u)
	u.screens[ViewWelcome] = u.welcome.obj
	u.screens[ViewStore] = u.store.obj
	u.screens[ViewLibrary] = u.library.obj
	u.screens[ViewMusic] = u.music.obj
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { u.music.dropped(uris) })
	u.screens[ViewNeighbours] = u.neighbours.obj
	u.screens[ViewSharing] = u.sharing.obj
	u.screens[ViewSwarm] = u.swarm.obj
	u.screens[ViewSettings] = u.settings.obj
	if u.b.Video != nil {
		u.video = newVideoView(u)
		u.screens[ViewVideo] = u.video
	}

	u.nav = widget.NewList(
		func() int { return len(Views) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(nil), widget.NewLabel("Neighbours"))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Icon).SetResource(viewIcon(Views[id]))
			row.Objects[1].(*widget.Label).SetText(viewTitles[Views[id]])
		})
	u.nav.OnSelected = func(id widget.ListItemID) { u.Show(Views[id]) }
	u.center = container.NewStack()
	side := container.NewBorder(
		container.NewPadded(brand()), nil, nil, nil, u.nav)
	u.split = container.NewHSplit(side, u.center)
	u.split.Offset = 0.16
	u.main = container.NewStack(u.split)
	u.root = container.NewBorder(nil, u.np.Object(), nil, nil, u.main)
	u.win.SetContent(u.root)

	view := u.o.View
	if view == "" {
		view = u.app.Preferences().StringWithFallback(prefView, ViewStore)
	}
	if u.b.Session.Account() == "" {
		u.Show(ViewWelcome)
		u.welcome.next = view
	} else {
		u.Show(view)
	}
}

// Show switches the main area to view (one of Views or ViewWelcome).
// Unknown names show the store.
func (u *UI) Show(view string) {
	if _, ok := u.screens[view]; !ok {
		view = ViewStore
	}
	if view != ViewWelcome && u.b.Session.Account() == "" {
		u.welcome.next = view
		view = ViewWelcome
	}
	if u.view == view {
		return
	}
	u.view = view
	u.musicShown.Store(view == ViewMusic)
	u.sharingShown.Store(view == ViewSharing)
	if view == ViewWelcome { // no navigation before sign-in
		u.main.Objects = []fyne.CanvasObject{u.screens[view]}
	} else {
		u.center.Objects = []fyne.CanvasObject{u.screens[view]}
		u.main.Objects = []fyne.CanvasObject{u.split}
		u.center.Refresh()
	}
	u.main.Refresh()
	if view == ViewVideo {
		u.nav.UnselectAll()
	}
	for i, v := range Views {
		if v == view {
			u.nav.Select(i)
		}
	}
	if view != ViewWelcome && view != ViewVideo {
		u.app.Preferences().SetString(prefView, view)
	}
	switch view {
	case ViewVideo:
		u.video.show() // a frame that came before the view was shown
	case ViewStore:
		u.store.shown()
	case ViewSwarm:
		u.swarm.shown()
	case ViewMusic:
		u.music.shown()
	case ViewSharing:
		u.mark(areaSharing) // with the install offer now
		if u.sync {
			u.pump(u.ctx)
		}
	case ViewSettings:
		u.settings.shown()
	case ViewWelcome:
		u.welcome.shown()
	}
}

// View is the screen shown now.
func (u *UI) View() string { return u.view }

// ShowAndRun shows the window and runs the Fyne event loop until quit.
func (u *UI) ShowAndRun() { u.win.ShowAndRun() }

// Serve moves backend changes onto the UI until ctx ends: it subscribes to
// every backend, loads snapshots off the UI goroutine and applies them with
// fyne.Do. When ctx ends it waits for background work started by taps.
func (u *UI) Serve(ctx context.Context) error {
	defer u.wg.Wait()
	defer u.stop()
	// The UI stops as ctx ends, not when this loop next looks: Fyne's own
	// SIGTERM handler ends its loop meanwhile, and do must post nothing
	// by then.
	defer context.AfterFunc(ctx, u.stop)()
	defer u.watch()()
	if u.video != nil {
		u.b.Video.SetVideoOut(u.video)
		defer u.b.Video.SetVideoOut(nil)
	}
	if file := os.Getenv(ProbeEnv); file != "" {
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { u.probe(pctx, file); close(done) }()
		defer func() { stop(); <-done }()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-u.dirty[areaPlayer]: // first: the bar should never lag
			u.refresh(ctx, areaPlayer)
		case <-u.dirty[areaLibrary]:
			u.refresh(ctx, areaLibrary)
		case <-u.dirty[areaNeighbours]:
			u.refresh(ctx, areaNeighbours)
		case <-u.dirty[areaSharing]:
			u.refresh(ctx, areaSharing)
		case <-u.dirty[areaMusic]:
			u.refresh(ctx, areaMusic)
		}
	}
}

// watch subscribes to every backend's changes and marks every area dirty
// once; it returns the unsubscribe func.
func (u *UI) watch() (stop func()) {
	stops := []func(){
		u.b.Library.Changes(func() {
			u.mark(areaLibrary)
			if u.musicShown.Load() {
				u.mark(areaMusic)
			}
		}),
		u.b.Neighbours.Changes(func() { u.mark(areaNeighbours) }),
		u.b.Sharing.Changes(func() { u.mark(areaSharing) }),
		u.b.Player.Changes(func() { u.mark(areaPlayer) }),
	}
	for a := range nAreas {
		u.mark(a)
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// RefreshNow loads every area once and applies it, on the calling
// goroutine: Serve's first round, for start-up measurements and tools that
// drive the UI without its loop.
func (u *UI) RefreshNow(ctx context.Context) {
	for a := range nAreas {
		u.mark(a)
	}
	u.pump(ctx)
}

// pump refreshes every dirty area on the calling goroutine until none is
// dirty: Serve's loop body, for tests and start-up measurements.
func (u *UI) pump(ctx context.Context) {
	for {
		did := false
		for a := range nAreas {
			select {
			case <-u.dirty[a]:
				u.refresh(ctx, a)
				did = true
			default:
			}
		}
		if !did {
			return
		}
	}
}

// mark notes that area needs a refresh; a burst of marks is one refresh.
func (u *UI) mark(a area) {
	select {
	case u.dirty[a] <- struct{}{}:
	default:
	}
}

// refresh loads a snapshot of area (on the calling goroutine, never the UI
// one in production) and applies it with fyne.Do.
func (u *UI) refresh(ctx context.Context, a area) {
	switch a {
	case areaLibrary:
		items, err := u.b.Library.Items(ctx)
		q := u.library.query()
		shown := shapeLibrary(items, q)
		var finished []string
		if err == nil {
			finished = u.library.finished(items)
		}
		var sw Swarm
		if c, ok := u.swarm.current(); ok {
			sw = u.b.Library.Swarm(c)
		}
		u.do(func() {
			u.library.apply(items, shown, q, finished, err)
			if err == nil {
				u.store.applyLibrary(items)
			}
			u.swarm.apply(items, sw)
			if err == nil {
				u.settings.watched.atStart()
			}
			if !u.libShown && err == nil {
				u.libShown = true
				u.libShownAt = time.Now()
				u.log.Info("library shown", "titles", len(items), "since_new", time.Since(u.started).Round(time.Millisecond))
			}
		})
	case areaNeighbours:
		snap := u.neighboursSnapshot()
		u.do(func() { u.neighbours.apply(snap) })
	case areaSharing:
		s := sharingSnapshot{
			enabled: u.b.Sharing.Enabled(), def: u.b.Sharing.DefaultPolicy(),
			uploads: u.b.Sharing.Uploads(), supplied: u.b.Sharing.Supplied(),
		}
		if s.installRead = u.sharingShown.Load(); s.installRead {
			s.install = u.b.Sharing.Install()
		}
		u.do(func() { u.sharing.apply(s) })
	case areaPlayer:
		u.playerChanged()
	case areaMusic:
		if u.b.Media == nil || !u.musicShown.Load() {
			return
		}
		ts, err := u.b.Media.Tracks(ctx)
		ix := newMusicIndex(ts)
		u.do(func() { u.music.applyIndex(ix, err) })
	}
}

// do runs fn on the UI goroutine, measuring how long it waited and ran.
// Once the UI is stopped (Serve's end) it posts nothing: Fyne's loop may
// have ended, and then Fyne runs a post on the poster's goroutine, GLFW
// terminated, or panics sending it into its closed queue (its check and
// its send are not atomic). A post that raced the stop and panicked so is
// dropped: a late refresh or a background answer must not crash Kith as
// it quits.
func (u *UI) do(fn func()) {
	if u.ctx.Err() != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			if u.ctx.Err() == nil {
				panic(r)
			}
			u.log.Debug("UI update dropped: the window is closed", "panic", r)
		}
	}()
	queued := time.Now()
	fyne.Do(func() {
		start := time.Now()
		fn()
		u.stats.add(start.Sub(queued), time.Since(start))
	})
}

// background runs work off the UI goroutine and then the func it returns
// on the UI goroutine. Tests run both inline (the test driver's fyne.Do
// runs its func at once).
func (u *UI) background(work func(ctx context.Context) func()) {
	if u.sync {
		if apply := work(u.ctx); apply != nil {
			u.do(apply)
		}
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		if apply := work(u.ctx); apply != nil {
			u.do(apply)
		}
	}()
}

// play starts queue at start in the background; then, on the UI
// goroutine, it passes the outcome (nil when the queue plays) to shown,
// the asking screen's way of showing an error, and refreshes the player.
func (u *UI) play(queue []sealed.ContentID, start int, shown func(error)) {
	u.background(func(ctx context.Context) func() {
		err := u.b.Player.Play(ctx, queue, start)
		return func() {
			shown(err)
			u.mark(areaPlayer)
		}
	})
}

func (u *UI) applyPlayer(st PlayerState) {
	prev := u.lastPlayer
	u.lastPlayer = st
	u.np.SetState(st)
	u.music.applyPlayer(st)
	u.applyVideo(st, prev)
	if st.Image != nil && (st.Content != prev.Content || prev.Image == nil) {
		u.showViewer()
	}
}

func (u *UI) quit() {
	sz := u.win.Canvas().Size()
	if sz.Width > 100 && sz.Height > 100 {
		u.app.Preferences().SetFloat(prefWidth, float64(sz.Width))
		u.app.Preferences().SetFloat(prefHeight, float64(sz.Height))
	}
	u.o.OnQuit()
}

// Quit saves the window size and quits, as closing the window does.
func (u *UI) Quit() { u.quit() }

func (u *UI) keyboard() {
	u.win.Canvas().SetOnTypedKey(func(e *fyne.KeyEvent) {
		if u.dialogKey(e) {
			return
		}
		st := u.lastPlayer
		switch e.Name {
		case fyne.KeySpace:
			u.b.Player.TogglePause()
		case fyne.KeyLeft:
			u.b.Player.Seek(max(0, st.Position-10*time.Second))
		case fyne.KeyRight:
			u.b.Player.Seek(st.Position + 10*time.Second)
		case fyne.KeyUp:
			u.b.Player.SetVolume(min(1, st.Volume+0.05))
		case fyne.KeyDown:
			u.b.Player.SetVolume(max(0, st.Volume-0.05))
		case fyne.KeyPageDown:
			u.b.Player.Next()
		case fyne.KeyPageUp:
			u.b.Player.Previous()
		case fyne.KeyF:
			u.setFullScreen(!u.fullScreen)
		case fyne.KeyEscape:
			u.setFullScreen(false)
		}
	})
}

func (u *UI) tray() {
	desk, ok := u.app.(desktop.App)
	if !ok {
		return
	}
	if !u.bus {
		u.log.Info("no D-Bus session bus: no system tray icon")
		return
	}
	menu := fyne.NewMenu("Kith",
		fyne.NewMenuItem("Play / Pause", u.b.Player.TogglePause),
		fyne.NewMenuItem("Next", u.b.Player.Next),
		fyne.NewMenuItem("Show Kith", func() { u.win.Show(); u.win.RequestFocus() }),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Quit", u.quit),
	)
	menu.Items[len(menu.Items)-1].IsQuit = true
	desk.SetSystemTrayMenu(menu)
	desk.SetSystemTrayIcon(Icon)
}

// stopActivity stops the infinite progress bars in o, so they stop asking
// for frames once o leaves the window.
func stopActivity(o fyne.CanvasObject) {
	switch x := o.(type) {
	case *widget.ProgressBarInfinite:
		x.Stop()
	case *fyne.Container:
		for _, c := range x.Objects {
			stopActivity(c)
		}
	}
}
