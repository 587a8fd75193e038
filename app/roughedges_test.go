package app

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
)

// The rough edges a person met driving two real windows (issue 15), one
// test each.

// Every count on screen agrees with its number: "1 title", "2 titles".
func TestCountsPluralised(t *testing.T) {
	for _, tc := range []struct {
		n           int
		want, thing string
	}{{0, "0 titles", "title"}, {1, "1 title", "title"}, {2, "2 titles", "title"},
		{2, "2 directories", "directory"}, {1, "1 directory", "directory"}, {3, "3 days", "day"}} {
		if got := count(tc.n, tc.thing); got != tc.want {
			t.Errorf("count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}

	w := newFakeWorld()
	w.account = "a"
	w.titles = w.titles[:1]
	w.items = []Item{{Content: cid(1), Name: "Kith Jingle", State: StateDownloading, Size: 10, Have: 4, Sources: 1, Rate: 2048}}
	w.uploads = []Upload{{PeerName: "attic", Title: "Kith Jingle", Bytes: 9 << 10, Last: time.Now()}}
	w.ns = []fakeNeighbour{{Neighbour: Neighbour{ID: "OPENOPE-DEVICE", Name: "attic", Account: "friend"},
		holds: []fakeHolding{{title: w.titles[0], policy: directory.Policy{Mode: directory.PolicyAnyone}}}}}
	u := newTestUI(t, w)

	u.Show(ViewLibrary)
	u.library.list.Select(0)
	for _, want := range []string{"1 title", "2.0 KiB/s · 1 source", "2.0 KiB/s from 1 source"} {
		if !shows(u, want) {
			t.Errorf("library does not show %q: %q", want, texts(u.library.obj))
		}
	}
	u.Show(ViewSharing)
	if !shows(u, "to 1 transfer.") {
		t.Errorf("sharing summary: %q", u.sharing.supplied.Text)
	}
	u.Show(ViewNeighbours)
	u.neighbours.list.Select(0)
	if !strings.Contains(u.neighbours.note.Text, "offers you 1 title.") {
		t.Errorf("offer text: %q", u.neighbours.note.Text)
	}
	u.Show(ViewStore)
	if !strings.HasSuffix(u.store.pageL.Text, "· 1 title") {
		t.Errorf("store pager: %q", u.store.pageL.Text)
	}
	for _, s := range []string{"1 titles", "1 transfers", "1 sources", "1 devices"} {
		for _, v := range Views {
			u.Show(v)
			if shows(u, s) {
				t.Errorf("%s shows %q", v, s)
			}
		}
	}
}

// Sharing → "Downloaded from me": a long title is cut with an ellipsis
// inside its column, and header and rows line up.
func TestSharingColumnsTruncate(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	long := "Concert A (440 Hz) — the long recording with every tuning fork of the ensemble"
	w.uploads = []Upload{{PeerName: "attic", Title: long, Bytes: 9 << 10, Last: time.Now()}}
	u := newTestUI(t, w)
	u.Show(ViewSharing)
	u.win.Resize(fyne.NewSize(1000, 700))

	var header, row []*widget.Label
	for _, o := range test.LaidOutObjects(u.sharing.obj) {
		c, ok := o.(*fyne.Container)
		if !ok || len(c.Objects) != 4 {
			continue
		}
		if _, isCols := c.Layout.(columns); !isCols {
			continue
		}
		var cells []*widget.Label
		for _, x := range c.Objects {
			cells = append(cells, x.(*widget.Label))
		}
		switch cells[0].Text {
		case "Device":
			header = cells
		case "attic":
			row = cells
		}
	}
	if header == nil || row == nil {
		t.Fatalf("header %v, row %v: want both", header != nil, row != nil)
	}
	for i := range header {
		if hx, rx := header[i].Position().X, row[i].Position().X; hx != rx || header[i].Size().Width != row[i].Size().Width {
			t.Errorf("column %d: header at %v (%v wide), row at %v (%v wide)", i, hx, header[i].Size().Width, rx, row[i].Size().Width)
		}
	}
	title := row[1]
	if title.Text != long {
		t.Fatalf("title cell = %q", title.Text)
	}
	var drawn *canvas.Text
	for _, o := range test.LaidOutObjects(title) {
		if x, ok := o.(*canvas.Text); ok && x.Text != "" {
			drawn = x
		}
	}
	if drawn == nil || !strings.HasSuffix(drawn.Text, "…") || !strings.HasPrefix(long, strings.TrimSuffix(drawn.Text, "…")) {
		t.Fatalf("title drawn as %q, want a prefix of it with an ellipsis", drawn.Text)
	}
	if right := title.Position().X + title.Size().Width; right > row[2].Position().X {
		t.Errorf("title column ends at %v, past the next column at %v", right, row[2].Position().X)
	}
	if w := fyne.MeasureText(drawn.Text, drawn.TextSize, drawn.TextStyle).Width; w > title.Size().Width {
		t.Errorf("drawn title is %v wide in a %v column", w, title.Size().Width)
	}
}

// Neighbours: a device that did not say its account shows "ID · seen …",
// not " · ID · seen …".
func TestNeighbourLineSkipsEmptyFields(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.ns = []fakeNeighbour{{Neighbour: Neighbour{ID: "ABCDEFG-HIJKLMN", Name: "study", Seen: time.Now()}}}
	u := newTestUI(t, w)
	u.Show(ViewNeighbours)
	// "seen just now" or "seen 6s ago" on a slow machine: the age is not
	// this test's business, the line's first field is.
	want := "ABCDEFG · seen "
	found := false
	for _, s := range texts(u.neighbours.obj) {
		found = found || strings.HasPrefix(s, want)
	}
	if !found {
		t.Errorf("no neighbour line starting %q: %q", want, texts(u.neighbours.obj))
	}
	for _, s := range texts(u.neighbours.obj) {
		if strings.HasPrefix(strings.TrimSpace(s), "·") || strings.Contains(s, "·  ·") {
			t.Errorf("a line starts with or doubles a separator: %q", s)
		}
	}
	if got := supplierText(directory.Supplier{Device: "ABCDEFG-HIJKLMN", SameLAN: true}); strings.Contains(got, "·  ·") || strings.Contains(got, " ·  ") {
		t.Errorf("supplier without account: %q", got)
	}
}

// The volume slider starts at the player's volume, not 0.
func TestVolumeStartsFromPlayer(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.st.Volume = 0.8
	u := newTestUI(t, w)
	if got := u.np.volume.Value; got != 0.8 {
		t.Errorf("volume slider = %v before anything played, want the player's 0.8", got)
	}
}

// After buying, the Store says the title is owned and offers Play and
// Show in Library instead of "Buy for €1.99"; Enter pays and closes the
// receipt.
func TestStoreSaysOwnedAfterBuying(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	u.Show(ViewStore)
	u.store.list.Select(2) // Evening Bells, €1.99
	if u.store.buy.Text != "Buy for €1.99" || !u.store.buy.Visible() {
		t.Fatalf("before buying: %q visible=%v", u.store.buy.Text, u.store.buy.Visible())
	}
	test.Tap(u.store.buy)
	payWithTestCard(t, u)
	enter(u)
	if top := u.win.Canvas().Overlays().Top(); top != nil {
		t.Fatalf("receipt still open after Enter: %q", texts(top))
	}
	u.pump(context.Background())
	if u.store.buy.Visible() || !u.store.ownedBox.Visible() {
		t.Fatal("detail pane still offers to buy an owned title")
	}
	if !shows(u, "You own this title") || shows(u, "Buy for €1.99") {
		t.Errorf("detail pane: %q", texts(u.store.detail))
	}
	if !shows(u, "Owned") {
		t.Errorf("the store row does not say Owned: %q", texts(u.store.obj))
	}
	test.Tap(u.store.playB)
	u.pump(context.Background())
	if got := u.np.Title(); got != "Evening Bells" {
		t.Errorf("Play in the store plays %q", got)
	}
	test.Tap(u.store.showLibB)
	if u.View() != ViewLibrary {
		t.Fatalf("Show in Library shows %q", u.View())
	}
	if it, ok := u.library.selected(); !ok || it.Name != "Evening Bells" {
		t.Errorf("library selection = %+v, %v", it, ok)
	}
}

// The Buy and Receipt dialogs answer Enter and Escape.
func TestDialogsAnswerEnterAndEscape(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	u.Show(ViewStore)
	u.store.list.Select(2)

	// Escape in the payment form's focused field cancels: nothing bought.
	test.Tap(u.store.buy)
	if _, ok := u.win.Canvas().Focused().(*dialogEntry); !ok {
		t.Fatalf("payment form opened with focus on %T, want its first field", u.win.Canvas().Focused())
	}
	u.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if u.win.Canvas().Overlays().Top() != nil || len(w.items) != 0 {
		t.Fatalf("Escape did not cancel: overlay %v, items %d", u.win.Canvas().Overlays().Top() != nil, len(w.items))
	}
	// Escape with nothing focused cancels too.
	test.Tap(u.store.buy)
	u.win.Canvas().Unfocus()
	escape(u)
	if u.win.Canvas().Overlays().Top() != nil || len(w.items) != 0 {
		t.Fatal("Escape with no field focused did not cancel")
	}
	// Enter in a field pays; the receipt shows; Escape closes it.
	test.Tap(u.store.buy)
	payWithTestCard(t, u)
	if !shows(u, "Paid €1.99 with Visa ending 4242") {
		t.Fatalf("no receipt after Enter: %q", texts(u.win.Canvas().Overlays().Top()))
	}
	escape(u)
	if u.win.Canvas().Overlays().Top() != nil {
		t.Fatal("Escape did not close the receipt")
	}
	if len(u.dialogKeys) != 0 {
		t.Errorf("%d dialog key handlers left after the dialogs closed", len(u.dialogKeys))
	}
	// With no dialog, keys reach the player again.
	u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyDown})
	u.pump(context.Background())
	if u.np.State().Volume >= 0.8 {
		t.Error("Down no longer lowers the volume after the dialogs closed")
	}
}

// payWithTestCard types the test card into the open payment form and
// presses Enter in its last one-line field.
func payWithTestCard(t *testing.T, u *UI) {
	t.Helper()
	top := u.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no payment form")
	}
	var fields []*dialogEntry
	for _, o := range test.LaidOutObjects(top) {
		if e, ok := o.(*dialogEntry); ok {
			fields = append(fields, e)
		}
	}
	if len(fields) != 5 {
		t.Fatalf("payment form has %d fields, want 5", len(fields))
	}
	for i, s := range []string{"Ana Householder", "4242 4242 4242 4242", "12/30", "123"} {
		test.Type(fields[i], s)
	}
	u.win.Canvas().Focus(fields[3])
	fields[3].TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
}

func enter(u *UI)  { u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn}) }
func escape(u *UI) { u.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape}) }

// The receipt names the card brand as a person writes it: the directory
// reports "visa".
func TestReceiptCardBrand(t *testing.T) {
	for in, want := range map[string]string{"visa": "Visa", "Visa": "Visa", "amex": "American Express", "card": "card", "jcb": "Jcb"} {
		if got := brandName(in); got != want {
			t.Errorf("brandName(%q) = %q, want %q", in, got, want)
		}
	}
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	u.showReceipt("Evening Bells", &directory.Receipt{Amount: 199, Currency: "EUR", CardBrand: "visa", CardLast4: "4242", Time: time.Now()})
	if !shows(u, "Paid €1.99 with Visa ending 4242") {
		t.Errorf("receipt: %q", texts(u.win.Canvas().Overlays().Top()))
	}
}

// Controls' first states: the store pager does not claim "0 titles"
// before the catalog answered.
func TestStorePagerBeforeCatalog(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.titlesErr = &directory.Error{Status: 503, Message: "the directory is starting"}
	u := newTestUI(t, w)
	u.Show(ViewStore)
	if u.store.pageL.Text != "" || !u.store.next.Disabled() || !u.store.prev.Disabled() {
		t.Errorf("pager before any answer: %q, next disabled %v", u.store.pageL.Text, u.store.next.Disabled())
	}
	w.mu.Lock()
	w.titlesErr = nil
	w.mu.Unlock()
	u.store.search(1)
	if u.store.pageL.Text != "Page 1 of 1 · 4 titles" {
		t.Errorf("pager after the catalog answered: %q", u.store.pageL.Text)
	}
}

// Escape closes the picture viewer, as it closes dialogs.
func TestViewerClosesOnEscape(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.items = []Item{{Content: cid(4), Name: "Harbour at Dusk", MediaType: "image/png", State: StateOwned}}
	u := newTestUI(t, w)
	u.Show(ViewLibrary)
	u.library.list.Select(0)
	test.Tap(u.library.play)
	u.pump(context.Background())
	if u.viewer == nil {
		t.Fatal("no viewer")
	}
	u.viewer.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if u.viewer != nil {
		t.Error("Escape did not close the viewer")
	}
}

// The welcome form answers Enter: on the computer that started the
// household it creates the account, on one that joined it signs in — and
// that button is the highlighted one.
func TestWelcomeEnterDoesTheDefault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		embedded bool
	}{{"household computer creates", true}, {"joining computer signs in", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWorld()
			w.accounts["household"] = "correct horse battery" // for sign-in
			if !tc.embedded {
				w.dir = &DirectoryInfo{Name: "Household", URL: "https://10.0.0.2:7443", Fingerprint: "ABCDEFG-HIJKLMN-OPQRSTU", FoundOnLAN: true}
			} else {
				delete(w.accounts, "household")
			}
			u := newTestUI(t, w)
			primary := u.welcome.signIn
			if tc.embedded {
				primary = u.welcome.signUp
			}
			if primary.Importance != widget.HighImportance {
				t.Errorf("%q is not the highlighted button", primary.Text)
			}
			test.Type(u.welcome.account, "household")
			test.Type(u.welcome.password, "correct horse battery")
			u.welcome.password.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
			if u.View() != ViewStore || w.account != "household" {
				t.Errorf("after Enter: view %q, account %q; error shown %q", u.View(), w.account, u.welcome.err.Text)
			}
		})
	}
}

// Settings → Add a device: the join code is scrolled into view when it
// appears (it appeared below the fold, found only by scrolling).
func TestJoinCodeScrolledIntoView(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	u.win.Resize(fyne.NewSize(900, 480))
	u.Show(ViewSettings)
	test.Tap(u.settings.join.button)
	var code *InspectNode
	for _, n := range u.inspect().Nodes {
		if n.Type == "*widget.Label" && strings.Contains(n.Text, "7KQ2M-XD4HP") {
			code = &n
		}
	}
	if code == nil {
		t.Fatal("the join code is not on screen at all")
	}
	if code.CutY {
		t.Errorf("the join code at y=%v is cut off by the Settings scroller", code.Y)
	}
}

// No screen formats a count straight into a plural ("%d tracks" says "1
// tracks"): counts go through count(). This guards the screens added
// after the ones TestCountsPluralised drives.
func TestNoCountFormattedAsPlural(t *testing.T) {
	plural := regexp.MustCompile(`%d ([a-z]{2,}s)\b`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "probe.go" { // probe.go writes a measurement file, not a screen
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range plural.FindAllStringSubmatch(line, -1) {
				if m[1] != "ms" {
					t.Errorf("%s:%d formats a count as %q: use count(n, %q)", f, i+1, m[0], strings.TrimSuffix(m[1], "s"))
				}
			}
		}
	}
}

// Escape cancels adding music, as the dialog's Cancel button does.
func TestAddingMusicEscapeCancels(t *testing.T) {
	w := newFakeWorld()
	w.account = "ana"
	u := newTestUI(t, w)
	m := &fakeMedia{table: map[string][]Track{"/music": {
		{Content: cid(11), TitleID: "k1", Name: "One", Artist: "A", Album: "X"},
		{Content: cid(12), TitleID: "k2", Name: "Two", Artist: "A", Album: "X"},
		{Content: cid(13), TitleID: "k3", Name: "Three", Artist: "A", Album: "X"},
	}}}
	m.during = func() { escape(u) } // after the first file
	u.b.Media = m
	u.Show(ViewMusic)
	u.music.add([]string{"/music"})
	if len(m.reports) != 1 {
		t.Errorf("%d files added after Escape on the first, want 1", len(m.reports))
	}
	if !strings.Contains(u.music.status.Text, "Added 1") || !strings.Contains(u.music.status.Text, "cancelled") {
		t.Errorf("status %q", u.music.status.Text)
	}
	if u.win.Canvas().Overlays().Top() != nil || len(u.dialogKeys) != 0 {
		t.Error("the adding dialog is still open")
	}
}

// Confirmations (remove an album from this device, delete a playlist)
// answer Escape with No and Enter with Yes.
func TestConfirmAnswersEnterAndEscape(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	u := newTestUI(t, w)
	yes := 0
	u.confirm("Delete playlist", "Delete the playlist “Kitchen”?", func() { yes++ })
	escape(u)
	if yes != 0 || u.win.Canvas().Overlays().Top() != nil {
		t.Fatalf("Escape: confirmed %d times, dialog open %v", yes, u.win.Canvas().Overlays().Top() != nil)
	}
	u.confirm("Delete playlist", "Delete the playlist “Kitchen”?", func() { yes++ })
	enter(u)
	if yes != 1 || u.win.Canvas().Overlays().Top() != nil || len(u.dialogKeys) != 0 {
		t.Fatalf("Enter: confirmed %d times, dialog open %v", yes, u.win.Canvas().Overlays().Top() != nil)
	}
}

// A video in the Store shows the video icon, its length and its size in
// its row and in the detail pane; an audio title its length alone.
func TestStoreShowsVideoLengthAndSize(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.titles[0].DurationMS = 65_000
	w.titles = append(w.titles, directory.Title{ID: "t5", ContentID: cid(5), Name: "Harbour Timelapse", Artist: "Pixel Harbour",
		MediaType: "video/mp4", Size: 3 << 20, TitleTags: directory.TitleTags{DurationMS: 61_500, Width: 1280, Height: 720}})
	u := newTestUI(t, w)
	u.Show(ViewStore)
	for _, want := range []string{"Pixel Harbour · 1:01 · 1280×720", "Kith Household Band · 1:05"} {
		if !shows(u, want) {
			t.Errorf("no store row says %q: %q", want, texts(u.store.obj))
		}
	}
	u.store.list.Select(len(u.store.titles) - 1)
	if got := u.store.dMeta.Text; got != "video/mp4 · 1:01 · 1280×720 · 3.0 MiB" {
		t.Errorf("detail pane meta %q", got)
	}
	var icon fyne.Resource
	var walk func(x fyne.CanvasObject)
	walk = func(x fyne.CanvasObject) {
		switch x := x.(type) {
		case *fyne.Container:
			if ic, ok := x.Objects[min(1, len(x.Objects)-1)].(*widget.Icon); ok && len(x.Objects) == 3 {
				if ts := texts(x.Objects[0]); len(ts) > 0 && ts[0] == "Harbour Timelapse" {
					icon = ic.Resource
				}
			}
			for _, c := range x.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(x).Objects() {
				walk(c)
			}
		}
	}
	walk(u.store.obj)
	if icon == nil || icon.Name() != theme.FileVideoIcon().Name() {
		t.Errorf("the video's row icon is %v, want the video icon", icon)
	}
}

// A video in the Library shows its length and size in its row and in the
// detail pane.
func TestLibraryShowsVideoLengthAndSize(t *testing.T) {
	w := newFakeWorld()
	w.account = "a"
	w.items = []Item{{Content: cid(5), TitleID: "t5", Name: "Harbour Timelapse", Artist: "Pixel Harbour", MediaType: "video/mp4",
		Duration: 61500 * time.Millisecond, Width: 1280, Height: 720, Size: 3 << 20, Have: 3 << 20, State: StateOwned, Added: time.Now()}}
	u := newTestUI(t, w)
	u.Show(ViewLibrary)
	if !hasLabel(u.library.obj, "Pixel Harbour · 1:01 · 1280×720") { // its text; the narrow test window truncates what is drawn
		t.Errorf("the library row: %q", texts(u.library.obj))
	}
	u.library.list.Select(0)
	if got := u.library.dInfo.Text; !strings.Contains(got, "video/mp4 · 1:01 · 1280×720 · 3.0 MiB") {
		t.Errorf("the detail pane: %q", got)
	}
}

// hasLabel reports whether a visible label under o has the text s.
func hasLabel(o fyne.CanvasObject, s string) bool {
	found := false
	walkVisible(o, func(x fyne.CanvasObject) bool {
		if l, ok := x.(*widget.Label); ok {
			found = found || l.Text == s
			return false
		}
		return !found
	})
	return found
}
