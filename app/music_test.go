package app

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/sealed"
)

// fakeMedia "adds" the files named in its table: the GUI's part (progress,
// albums, artwork, search, play) is what is tested here; adding for real
// is share.Node.AddFile's test and e2e's TestOwnMedia.
type fakeMedia struct {
	mu      sync.Mutex
	tracks  []Track
	art     map[string][]byte
	table   map[string][]Track // path → tracks it holds
	reports []AddProgress
	pl      fakePlaylists
	removed []sealed.ContentID
	during  func() // called after each file, as a person acting mid-add
	watched []string
	rescans int
}

func (m *fakeMedia) Tracks(context.Context) ([]Track, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Track(nil), m.tracks...), nil
}

func (m *fakeMedia) Artwork(_ context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.art[id]; ok {
		return b, nil
	}
	return nil, errors.New("no artwork")
}

func (m *fakeMedia) Add(ctx context.Context, paths []string, progress func(AddProgress)) (AddResult, error) {
	var res AddResult
	for _, p := range paths {
		ts := m.table[p]
		pr := AddProgress{Files: len(ts), Bytes: int64(len(ts)) << 20}
		for i := range ts {
			pr.FilesDone, pr.BytesDone, pr.Current, pr.Rate = i+1, int64(i+1)<<20, ts[i].Name, 1<<20
			progress(pr)
			m.mu.Lock()
			m.reports = append(m.reports, pr)
			m.tracks = append(m.tracks, ts[i])
			m.mu.Unlock()
			res.Added++
			if m.during != nil {
				m.during()
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func coverJPEG(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMusicAddAlbumsArtworkPlay: adding a folder shows progress, then the
// albums with artwork under their artists, tracks in track order; search
// covers title, artist and album; tapping a track plays its album from there.
func TestMusicAddAlbumsArtworkPlay(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	m := &fakeMedia{art: map[string][]byte{"k3": coverJPEG(t, color.RGBA{200, 40, 40, 255})},
		table: map[string][]Track{"/home/ana/Music": {
			{Content: cid(13), TitleID: "k3", Name: "Radio On", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 3, Year: 2024, Duration: 200 * time.Second},
			{Content: cid(11), TitleID: "k1", Name: "Kettle Song", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 1, Year: 2024, Duration: 185 * time.Second},
			{Content: cid(12), TitleID: "k2", Name: "Toast Waltz", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 2, Year: 2024, Duration: 171 * time.Second},
			{Content: cid(21), TitleID: "g1", Name: "Garden Hymn", Artist: "Ana", Album: "Outside", Track: 1},
		}}}
	u.b.Media = m
	u.Show(ViewMusic)
	s := u.music
	if len(s.albums) != 0 {
		t.Fatalf("albums before adding: %v", s.albums)
	}
	s.add([]string{"/home/ana/Music"})
	if len(m.reports) != 4 || m.reports[3].FilesDone != 4 {
		t.Errorf("progress reports %+v", m.reports)
	}
	if !strings.Contains(s.status.Text, "Added 4") {
		t.Errorf("status %q", s.status.Text)
	}
	if got := strings.Join(s.artists, "|"); got != "|Ana|The Kitchen Band" {
		t.Errorf("artists %q", got)
	}
	if len(s.albums) != 2 || s.albums[0].Name != "Outside" || s.albums[1].Name != "Sunday Morning" {
		t.Fatalf("albums %+v", s.albums)
	}
	s.artistL.Select(2) // The Kitchen Band
	if len(s.albums) != 1 || s.artwork(s.albums[0]) == nil {
		t.Fatalf("Sunday Morning without its artwork: %+v", s.albums)
	}
	var order []string
	for _, i := range s.albums[0].Tracks {
		order = append(order, s.ix.tracks[i].Name)
	}
	if strings.Join(order, ",") != "Kettle Song,Toast Waltz,Radio On" {
		t.Errorf("track order %v", order)
	}
	saveShot(t, u, "music-album.png")

	s.removeContent([]sealed.ContentID{cid(11)}) // what the confirmed dialog does
	if len(m.removed) != 1 || m.removed[0] != cid(11) || !strings.Contains(s.status.Text, "download again") {
		t.Errorf("removed %v, status %q", m.removed, s.status.Text)
	}
	s.artistL.Select(2)

	s.trackL.Select(1) // Toast Waltz: the album plays from it
	w.mu.Lock()
	q, pos := w.queue, w.pos
	w.mu.Unlock()
	if len(q) != 3 || pos != 1 || q[0] != cid(11) || q[1] != cid(12) || q[2] != cid(13) {
		t.Errorf("played queue %v from %d", q, pos)
	}

	test.Type(s.search, "garden")
	if len(s.sel) != 1 || s.ix.tracks[s.sel[0]].Name != "Garden Hymn" {
		t.Errorf("search 'garden' finds %v", s.sel)
	}
	s.search.SetText("SUNDAY")
	if len(s.sel) != 3 {
		t.Errorf("search by album finds %d", len(s.sel))
	}
}

// saveShot writes the window to $KITH_SCREENSHOTS/name (make test sets it).
func saveShot(t *testing.T, u *UI, name string) {
	t.Helper()
	dir := os.Getenv("KITH_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, u.win.Canvas().Capture()); err != nil {
		t.Fatal(err)
	}
}

func (p fakePlayer) SetRepeat(r Repeat) {
	p.w.mu.Lock()
	p.w.st.Repeat = r
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}

func (p fakePlayer) SetShuffle(on bool) {
	p.w.mu.Lock()
	p.w.st.Shuffle = on
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}

// TestMusicShuffleRepeat: the Music screen's shuffle and repeat reach the
// player, and the player's own changes (MPRIS) show on the screen.
func TestMusicShuffleRepeat(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	u.b.Media = &fakeMedia{}
	u.Show(ViewMusic)
	s := u.music
	test.Tap(s.shuffle)
	s.repeat.SetSelected("Repeat all")
	w.mu.Lock()
	st := w.st
	w.mu.Unlock()
	if !st.Shuffle || st.Repeat != RepeatAll {
		t.Errorf("player state %+v after tapping shuffle and choosing repeat all", st)
	}
	fakePlayer{w}.SetRepeat(RepeatOne) // as MPRIS would
	u.pump(context.Background())
	if s.repeat.Selected != "Repeat one" {
		t.Errorf("repeat shows %q after the player changed", s.repeat.Selected)
	}

	// Reopening a title that stopped at 1:05 offers to continue there.
	w.mu.Lock()
	w.st = PlayerState{Title: "Kettle Song", Playing: true, Duration: 3 * time.Minute, Resume: 65 * time.Second}
	w.mu.Unlock()
	w.changed(areaPlayer)
	u.pump(context.Background())
	if !s.resume.Visible() || s.resume.Text != "Continue from 1:05" {
		t.Fatalf("resume offer %q visible=%v", s.resume.Text, s.resume.Visible())
	}
	saveShot(t, u, "music-controls.png")
	test.Tap(s.resume)
	w.mu.Lock()
	pos := w.st.Position
	w.mu.Unlock()
	if pos != 65*time.Second {
		t.Errorf("position %v after continuing", pos)
	}
}

func (p fakePlayer) Enqueue(_ context.Context, q []sealed.ContentID) error {
	p.w.mu.Lock()
	p.insertLocked(len(p.w.queue), q)
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
	return nil
}

func (p fakePlayer) PlayNext(_ context.Context, q []sealed.ContentID) error {
	p.w.mu.Lock()
	p.insertLocked(min(p.w.pos+1, len(p.w.queue)), q)
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
	return nil
}

// insertLocked puts q at index at with fresh keys, as the player does.
func (p fakePlayer) insertLocked(at int, q []sealed.ContentID) {
	keys := make([]uint64, len(q))
	for i := range keys {
		p.w.lastKey++
		keys[i] = p.w.lastKey
	}
	p.w.queue = slices.Insert(p.w.queue, at, q...)
	p.w.keys = slices.Insert(p.w.keys, at, keys...)
	p.syncLocked()
}

// syncLocked shows the queue in the player's state.
func (p fakePlayer) syncLocked() {
	p.w.st.Queue = p.w.st.Queue[:0:0]
	for i, c := range p.w.queue {
		p.w.st.Queue = append(p.w.st.Queue, QueueItem{Key: p.w.keys[i], Content: c})
	}
	p.w.st.Index = p.w.pos
}

func (p fakePlayer) RemoveFromQueue(key uint64) {
	p.w.mu.Lock()
	if i := slices.Index(p.w.keys, key); i >= 0 {
		p.w.queue, p.w.keys = slices.Delete(p.w.queue, i, i+1), slices.Delete(p.w.keys, i, i+1)
		if i < p.w.pos {
			p.w.pos--
		}
		p.syncLocked()
	}
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}

func (p fakePlayer) MoveInQueue(key uint64, to int) {
	p.w.mu.Lock()
	if i := slices.Index(p.w.keys, key); i >= 0 {
		cur := p.w.keys[p.w.pos]
		c := p.w.queue[i]
		p.w.queue = slices.Insert(slices.Delete(p.w.queue, i, i+1), to, c)
		p.w.keys = slices.Insert(slices.Delete(p.w.keys, i, i+1), to, key)
		p.w.pos = slices.Index(p.w.keys, cur)
		p.syncLocked()
	}
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}

func (p fakePlayer) PlayQueued(key uint64) {
	p.w.mu.Lock()
	if i := slices.Index(p.w.keys, key); i >= 0 {
		p.w.pos = i
		p.syncLocked()
		p.loadLocked()
	}
	p.w.mu.Unlock()
	p.w.changed(areaPlayer)
}

// TestMusicQueue edits the queue from the Queue view while a title plays:
// play next, add to queue, select and move up and down, remove, play an
// item now; the current title stays current and marked ▶ throughout.
func TestMusicQueue(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	u.b.Media = &fakeMedia{tracks: []Track{
		{Content: cid(11), TitleID: "k1", Name: "Kettle Song", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 1},
		{Content: cid(12), TitleID: "k2", Name: "Toast Waltz", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 2},
		{Content: cid(13), TitleID: "g1", Name: "Garden Hymn", Artist: "Ana", Album: "Allotment", Track: 1},
		{Content: cid(14), TitleID: "g2", Name: "Rain on Glass", Artist: "Ana", Album: "Allotment", Track: 2},
	}}
	u.Show(ViewMusic)
	s := u.music
	names := func() []string {
		var ns []string
		for i := range s.queue {
			ns = append(ns, s.queueTrack(i).Name)
		}
		return ns
	}
	want := func(what string, order []string, current string) {
		t.Helper()
		u.pump(context.Background())
		if got := names(); !slices.Equal(got, order) {
			t.Fatalf("%s: queue %v, want %v", what, got, order)
		}
		if got := s.queueTrack(s.qIndex).Name; got != current {
			t.Fatalf("%s: current %q, want %q", what, got, current)
		}
		if s.pl.showQueue && (s.trackL.Length() != len(order) || !shows(u, "▶")) {
			t.Fatalf("%s: rows %q", what, texts(s.trackL))
		}
	}
	// Albums are Allotment (Ana) then Sunday Morning; play Allotment.
	s.artistL.Select(0)
	s.albumL.Select(0)
	s.trackL.Select(0)
	want("play", []string{"Garden Hymn", "Rain on Glass"}, "Garden Hymn")
	s.albumL.Select(1)
	test.Tap(s.next)
	want("play next", []string{"Garden Hymn", "Kettle Song", "Toast Waltz", "Rain on Glass"}, "Garden Hymn")
	if !strings.Contains(s.status.Text, "to play next") {
		t.Errorf("status %q", s.status.Text)
	}

	s.pl.sel.SetSelected("Queue")
	if !s.pl.showQueue || !s.pl.up.Disabled() || !s.play.Disabled() {
		t.Fatalf("queue view: shown %v, up enabled %v with nothing selected", s.pl.showQueue, !s.pl.up.Disabled())
	}
	s.trackL.Select(3) // Rain on Glass
	test.Tap(s.pl.up)
	want("up", []string{"Garden Hymn", "Kettle Song", "Rain on Glass", "Toast Waltz"}, "Garden Hymn")
	test.Tap(s.pl.up)
	want("up again", []string{"Garden Hymn", "Rain on Glass", "Kettle Song", "Toast Waltz"}, "Garden Hymn")
	if i := s.queueSelected(); i != 1 || s.queueTrack(i).Name != "Rain on Glass" {
		t.Fatalf("selection at %d after moving, want it to follow Rain on Glass to 1", i)
	}
	test.Tap(s.pl.up) // above the current title
	want("up over current", []string{"Rain on Glass", "Garden Hymn", "Kettle Song", "Toast Waltz"}, "Garden Hymn")
	if !s.pl.up.Disabled() {
		t.Error("up enabled on the first item")
	}
	test.Tap(s.pl.down)
	test.Tap(s.pl.down)
	want("down twice", []string{"Garden Hymn", "Kettle Song", "Rain on Glass", "Toast Waltz"}, "Garden Hymn")

	s.trackL.Select(1) // Kettle Song
	test.Tap(s.pl.rm)
	want("remove", []string{"Garden Hymn", "Rain on Glass", "Toast Waltz"}, "Garden Hymn")
	if i := s.queueSelected(); i != 1 {
		t.Errorf("after removing, selected %d, want the next item (1)", i)
	}
	test.Tap(s.enqueue) // the album shown (Sunday Morning) at the end
	want("add to queue", []string{"Garden Hymn", "Rain on Glass", "Toast Waltz", "Kettle Song", "Toast Waltz"}, "Garden Hymn")
	saveShot(t, u, "music-queue.png")

	s.trackL.Select(2)
	test.Tap(s.play) // plays the selected item now
	want("play item", []string{"Garden Hymn", "Rain on Glass", "Toast Waltz", "Kettle Song", "Toast Waltz"}, "Toast Waltz")
	if s.qIndex != 2 {
		t.Errorf("current %d, want 2 (the item played, not its twin)", s.qIndex)
	}
}

func (m *fakeMedia) WatchedFolders(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.watched), nil
}

func (m *fakeMedia) WatchFolder(_ context.Context, p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.watched, p) {
		m.watched = append(m.watched, p)
		slices.Sort(m.watched)
	}
	return nil
}

func (m *fakeMedia) UnwatchFolder(_ context.Context, p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.watched = slices.DeleteFunc(m.watched, func(x string) bool { return x == p })
	return nil
}

// Rescan "adds" the watched folders' tracks from the table; tracks held
// already count as there, as the real one's size+mtime check does.
func (m *fakeMedia) Rescan(ctx context.Context, progress func(AddProgress)) (AddResult, error) {
	m.mu.Lock()
	m.rescans++
	var res AddResult
	for _, p := range m.watched {
		for _, tr := range m.table[p] {
			if slices.ContainsFunc(m.tracks, func(x Track) bool { return x.Content == tr.Content }) {
				res.Existing++
			} else {
				m.tracks = append(m.tracks, tr)
				res.Added++
			}
			progress(AddProgress{Files: 3, FilesDone: res.Added + res.Existing, Current: tr.Name})
		}
	}
	m.mu.Unlock()
	return res, nil
}

// TestWatchedFoldersCard: the start-up rescan runs once, when the library
// first loads, and says what it did (Settings and Music); Settings lists the
// watched folders, watches another (its media are added at once) and stops
// watching one.
func TestWatchedFoldersCard(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	m := &fakeMedia{watched: []string{"/home/ana/Music"}, table: map[string][]Track{
		"/home/ana/Music": {
			{Content: cid(11), TitleID: "k1", Name: "Kettle Song", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 1},
			{Content: cid(12), TitleID: "k2", Name: "Toast Waltz", Artist: "The Kitchen Band", Album: "Sunday Morning", Track: 2},
		},
		"/media/usb/Songs": {{Content: cid(13), TitleID: "g1", Name: "Garden Hymn", Artist: "Ana", Album: "Allotment", Track: 1}},
	}}
	u.b.Media = m
	c := u.settings.watched
	u.mark(areaLibrary)
	u.pump(context.Background())
	if m.rescans != 1 || c.status.Text != "Watched folders: added 2, already there 0, skipped 0." ||
		u.music.status.Text != c.status.Text {
		t.Fatalf("start-up rescan: %d runs, settings %q, music %q", m.rescans, c.status.Text, u.music.status.Text)
	}
	u.mark(areaLibrary)
	u.pump(context.Background())
	if m.rescans != 1 {
		t.Errorf("%d rescans after a second library load, want the start-up one only", m.rescans)
	}

	u.Show(ViewSettings)
	if !shows(u, "/home/ana/Music") || len(c.rows.Objects) != 1 {
		t.Fatalf("settings rows %q", texts(c.rows))
	}
	c.watch("/media/usb/Songs") // what the folder dialog does
	if len(c.rows.Objects) != 2 || m.rescans != 2 || c.status.Text != "Watched folders: added 1, already there 2, skipped 0." {
		t.Fatalf("after watching another: rows %q, %d rescans, %q", texts(c.rows), m.rescans, c.status.Text)
	}
	if sc, ok := u.settings.obj.(*container.Scroll); ok { // bring the card into view
		sc.ScrollToOffset(fyne.NewPos(0, c.obj.Position().Y))
	}
	saveShot(t, u, "settings-watched.png")
	rm := c.rows.Objects[0].(*fyne.Container).Objects[1].(*widget.Button)
	test.Tap(rm) // stop watching /home/ana/Music
	if got, _ := m.WatchedFolders(context.Background()); !slices.Equal(got, []string{"/media/usb/Songs"}) || len(c.rows.Objects) != 1 {
		t.Errorf("after removing: watched %v, rows %q", got, texts(c.rows))
	}
	if len(m.tracks) != 3 || !strings.Contains(c.status.Text, "stays") {
		t.Errorf("removing a folder kept %d tracks, status %q", len(m.tracks), c.status.Text)
	}
}

// TestMusicAddFilesPicksSeveral: after the file dialog names one file, the
// media files beside it are offered with that one checked; "All" and Add
// add every one of them (not the text file or the hidden one; .oga and
// .m4v, which the folder walk takes, too); a file alone in its folder is
// added at once.
func TestMusicAddFilesPicksSeveral(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	dir := filepath.Join(t.TempDir(), "Sunday Morning")
	os.MkdirAll(dir, 0o755)
	m := &fakeMedia{table: map[string][]Track{}}
	for i, n := range []string{"01 Kettle Song.mp3", "02 Toast Waltz.flac", "03 Radio On.MP3", "04 Field.oga", "05 Clip.m4v", "notes.txt", ".hidden.mp3"} {
		p := filepath.Join(dir, n)
		os.WriteFile(p, []byte("x"), 0o644)
		m.table[p] = []Track{{Content: cid(40 + i), TitleID: n, Name: n, Album: "Sunday Morning"}}
	}
	u.b.Media = m
	u.Show(ViewMusic)
	s := u.music
	s.pickBeside(filepath.Join(dir, "02 Toast Waltz.flac"))
	p := s.picking
	if p == nil || !slices.Equal(p.names, []string{"01 Kettle Song.mp3", "02 Toast Waltz.flac", "03 Radio On.MP3", "04 Field.oga", "05 Clip.m4v"}) ||
		!slices.Equal(p.checks.Selected, []string{"02 Toast Waltz.flac"}) {
		t.Fatalf("chooser %+v", p)
	}
	p.all.SetChecked(true)
	p.dlg.Confirm()
	u.pump(context.Background())
	m.mu.Lock()
	n := len(m.tracks)
	m.mu.Unlock()
	if n != 5 || !strings.Contains(s.status.Text, "Added 5") {
		t.Fatalf("added %d tracks, status %q", n, s.status.Text)
	}

	alone := filepath.Join(t.TempDir(), "single.ogg")
	os.WriteFile(alone, []byte("x"), 0o644)
	m.table[alone] = []Track{{Content: cid(50), TitleID: "single", Name: "Single"}}
	s.picking = nil
	s.pickBeside(alone)
	u.pump(context.Background())
	if s.picking != nil || len(m.tracks) != 6 {
		t.Errorf("a file alone in its folder: chooser %v, %d tracks", s.picking != nil, len(m.tracks))
	}
}
