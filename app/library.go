package app

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Library sort orders and state filters, as shown.
var (
	librarySorts   = []string{"Newest", "Name", "Artist", "Progress"}
	libraryFilters = []string{"All", "Playable", "Downloading", "Locked"}
)

const autoSupplier = "Automatic — best sources"

// libraryScreen lists what this device holds: a virtualised list (cost is
// the rows on screen, not the titles held), filter and sort, and a detail
// panel for the selected title.
type libraryScreen struct {
	u      *UI
	obj    fyne.CanvasObject
	all    []Item
	shown  []int                          // indices into all, filtered and sorted
	states map[sealed.ContentID]ItemState // last states seen; owned by the refresh goroutine
	filter *widget.Entry
	sortS  *widget.Select
	stateS *widget.Select
	count  *widget.Label
	list   *widget.List
	err    *widget.Label

	qmu sync.Mutex
	q   libQuery // guarded by qmu: read by the refresh goroutine

	sel       sealed.ContentID
	hasSel    bool
	detail    fyne.CanvasObject
	dName     *widget.Label
	dInfo     *widget.Label
	dProgress *widget.ProgressBar
	play      *quietButton
	getKey    *widget.Button
	supplier  *widget.Select
	suppliers []directory.Supplier
	fetch     *widget.Button
	swarmB    *widget.Button
	policy    *widget.Select
	dErr      *widget.Label
	hint      *widget.Label
}

func newLibraryScreen(u *UI) *libraryScreen {
	s := &libraryScreen{u: u, states: map[sealed.ContentID]ItemState{}}
	s.filter = widget.NewEntry()
	s.filter.SetPlaceHolder("Filter by title or artist")
	s.sortS = widget.NewSelect(librarySorts, nil)
	s.sortS.SetSelectedIndex(0)
	s.stateS = widget.NewSelect(libraryFilters, nil)
	s.stateS.SetSelectedIndex(0)
	s.count = widget.NewLabel("")
	s.err = errorLabel()
	s.list = widget.NewList(
		func() int { return len(s.shown) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("Title name")
			name.TextStyle.Bold = true
			name.Truncation = fyne.TextTruncateEllipsis
			artist := widget.NewLabel("Artist")
			artist.Truncation = fyne.TextTruncateEllipsis
			state := widget.NewLabel("locked — get key")
			state.Truncation = fyne.TextTruncateEllipsis
			bar := widget.NewProgressBar()
			rate := widget.NewLabel("")
			rate.Truncation = fyne.TextTruncateEllipsis
			right := container.NewHBox(
				container.NewGridWrap(fyne.NewSize(130, 36), state),
				container.NewGridWrap(fyne.NewSize(80, 36), bar),
				container.NewGridWrap(fyne.NewSize(140, 36), rate))
			return container.NewBorder(nil, nil, widget.NewIcon(theme.MediaMusicIcon()), right,
				container.NewGridWithColumns(2, name, artist))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.shown) {
				return
			}
			it := s.all[s.shown[id]]
			row := o.(*fyne.Container)
			left := row.Objects[0].(*fyne.Container)
			right := row.Objects[2].(*fyne.Container)
			row.Objects[1].(*widget.Icon).SetResource(mediaIcon(it.MediaType))
			setText(left.Objects[0].(*widget.Label), it.Name)
			setText(left.Objects[1].(*widget.Label), dotted(it.Artist, lengthText(it.Duration, it.Width, it.Height)))
			state := right.Objects[0].(*fyne.Container).Objects[0].(*widget.Label)
			imp := widget.MediumImportance
			if it.State == StateLocked {
				imp = widget.WarningImportance
			}
			if state.Importance != imp {
				state.Importance = imp
				state.Refresh()
			}
			setText(state, it.State.String())
			bar := right.Objects[1].(*fyne.Container).Objects[0].(*widget.ProgressBar)
			rate := right.Objects[2].(*fyne.Container).Objects[0].(*widget.Label)
			if it.State == StateOwned {
				bar.Hide()
				setText(rate, bytesText(it.Size))
				return
			}
			bar.Show()
			if v := it.Progress(); bar.Value != v {
				bar.SetValue(v)
			}
			if it.State == StateDownloading {
				setText(rate, rateText(it.Rate)+" · "+count(it.Sources, "source"))
			} else {
				setText(rate, bytesText(it.Have)+" of "+bytesText(it.Size))
			}
		})
	s.list.OnSelected = func(id widget.ListItemID) {
		if id < len(s.shown) {
			s.sel, s.hasSel = s.all[s.shown[id]].Content, true
			s.showDetail(true)
		}
	}

	s.dName = heading("")
	s.dName.Wrapping = fyne.TextWrapWord
	s.dInfo = widget.NewLabel("")
	s.dInfo.Wrapping = fyne.TextWrapWord
	s.dProgress = widget.NewProgressBar()
	s.play = newQuietButton("Play", theme.MediaPlayIcon(), s.tapPlay, func() bool { // no tap animation when it starts a video
		it, ok := s.selected()
		return ok && strings.HasPrefix(it.MediaType, "video/")
	})
	s.play.Importance = widget.HighImportance
	s.getKey = widget.NewButtonWithIcon("Get key", theme.LoginIcon(), s.tapGetKey)
	s.getKey.Importance = widget.WarningImportance
	s.supplier = widget.NewSelect([]string{autoSupplier}, nil)
	s.supplier.SetSelectedIndex(0)
	s.fetch = widget.NewButtonWithIcon("Fetch", theme.DownloadIcon(), s.tapFetch)
	s.swarmB = widget.NewButtonWithIcon("Show swarm", theme.ViewRefreshIcon(), func() {
		if s.hasSel {
			u.swarm.followTitle(s.sel)
			u.Show(ViewSwarm)
		}
	})
	s.policy = widget.NewSelect(policyChoices, s.setPolicy)
	s.dErr = errorLabel()
	s.detail = container.NewVBox(s.dName, s.dInfo, s.dProgress,
		container.NewHBox(s.play, s.getKey, s.swarmB),
		widget.NewLabel("Fetch from"), s.supplier, s.fetch,
		widget.NewLabel("Who may copy this title from me"), s.policy,
		s.dErr)
	s.detail.Hide()
	s.sortS.OnChanged = func(string) { s.reshape() }
	s.filter.OnChanged = func(string) { s.reshape() }
	s.stateS.OnChanged = func(string) { s.reshape() }

	bar := container.NewBorder(nil, nil, nil, container.NewHBox(s.stateS, s.sortS), s.filter)
	top := container.NewVBox(container.NewBorder(nil, nil, heading("Library"), s.count), bar, s.err)
	s.hint = widget.NewLabel("Choose a title to play it, fetch it from a supplier you pick, or set who may copy it from you.")
	s.hint.Wrapping = fyne.TextWrapWord
	split := container.NewHSplit(container.NewBorder(top, nil, nil, nil, s.list),
		container.NewVScroll(container.NewPadded(container.NewStack(s.hint, s.detail))))
	split.Offset = 0.72
	s.obj = split
	return s
}

// apply takes a new snapshot of the library (UI goroutine), with shown
// already shaped by q off the UI goroutine.
func (s *libraryScreen) apply(items []Item, shown []int, q libQuery, finished []string, err error) {
	showErr(s.err, err)
	if err != nil {
		return
	}
	for _, name := range finished {
		if !s.u.bus {
			break // Fyne's notifications need the session bus
		}
		s.u.app.SendNotification(fyne.NewNotification("Download finished", name+" is ready to play."))
	}
	s.all = items
	if q != s.query() { // the user changed the filter meanwhile
		shown = shapeLibrary(items, s.query())
	}
	s.setShown(shown)
	if s.hasSel {
		s.showDetail(false)
	}
}

// setText changes l's text only when it differs: a truncating label shapes
// its text on every SetText, and list refreshes rebind every visible row.
func setText(l *widget.Label, text string) {
	if l.Text != text {
		l.SetText(text)
	}
}

// finished names the titles that became playable since the last call;
// the refresh goroutine calls it (it owns states).
func (s *libraryScreen) finished(items []Item) []string {
	var out []string
	for _, it := range items {
		if old, ok := s.states[it.Content]; ok && old != StateOwned && it.State == StateOwned {
			out = append(out, it.Name)
		}
	}
	clear(s.states)
	for _, it := range items {
		s.states[it.Content] = it.State
	}
	return out
}

// libQuery is how the library list is filtered and sorted.
type libQuery struct {
	text  string // lower-case
	state int    // index into libraryFilters
	sort  int    // index into librarySorts
}

// query reads the current filter and sort; safe from any goroutine.
func (s *libraryScreen) query() libQuery {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return s.q
}

// reshape filters and sorts all into shown after the user changed the
// filter or the order (UI goroutine).
func (s *libraryScreen) reshape() {
	q := libQuery{text: strings.ToLower(strings.TrimSpace(s.filter.Text)), state: s.stateS.SelectedIndex(), sort: s.sortS.SelectedIndex()}
	s.qmu.Lock()
	s.q = q
	s.qmu.Unlock()
	s.setShown(shapeLibrary(s.all, q))
}

func (s *libraryScreen) setShown(shown []int) {
	s.shown = shown
	if len(s.shown) == len(s.all) {
		s.count.SetText(count(len(s.all), "title"))
	} else {
		s.count.SetText(fmt.Sprintf("%d of %s", len(s.shown), count(len(s.all), "title")))
	}
	s.list.Refresh()
}

// shapeLibrary returns the indices of all that pass q, in q's order. It
// touches no widget, so the refresh goroutine runs it for 10,000 titles
// instead of the UI goroutine.
func shapeLibrary(all []Item, q libQuery) []int {
	shown := make([]int, 0, len(all))
	for i := range all {
		it := &all[i]
		switch q.state {
		case 1:
			if it.State != StateOwned && it.State != StateDownloading {
				continue
			}
		case 2:
			if it.State != StateDownloading && it.State != StatePaused {
				continue
			}
		case 3:
			if it.State != StateLocked {
				continue
			}
		}
		if q.text != "" && !containsFold(it.Name, q.text) && !containsFold(it.Artist, q.text) {
			continue
		}
		shown = append(shown, i)
	}
	var keys []string // lower-case sort keys, by index into all
	if q.sort == 1 || q.sort == 2 {
		keys = make([]string, len(all))
		for _, i := range shown {
			if q.sort == 1 {
				keys[i] = strings.ToLower(all[i].Name)
			} else {
				keys[i] = strings.ToLower(all[i].Artist) + "\x00" + strings.ToLower(all[i].Name)
			}
		}
	}
	slices.SortStableFunc(shown, func(a, b int) int {
		switch q.sort {
		case 1, 2:
			return cmp.Compare(keys[a], keys[b])
		case 3:
			return cmp.Compare(all[a].Progress(), all[b].Progress())
		}
		return all[b].Added.Compare(all[a].Added)
	})
	return shown
}

// containsFold reports whether s contains lower (already lower-case),
// without allocating for ASCII.
func containsFold(s, lower string) bool {
	for i := 0; i+len(lower) <= len(s); i++ {
		ok := true
		for j := 0; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (s *libraryScreen) selected() (Item, bool) {
	if !s.hasSel {
		return Item{}, false
	}
	for _, it := range s.all {
		if it.Content == s.sel {
			return it, true
		}
	}
	return Item{}, false
}

// showDetail fills the detail panel; fresh means a new selection.
func (s *libraryScreen) showDetail(fresh bool) {
	it, ok := s.selected()
	if !ok {
		s.detail.Hide()
		s.hint.Show()
		return
	}
	s.hint.Hide()
	s.dName.SetText(it.Name)
	info := dotted(it.MediaType, lengthText(it.Duration, it.Width, it.Height), bytesText(it.Size), it.State.String())
	if it.Artist != "" {
		info = "by " + it.Artist + "\n" + info
	}
	if it.State == StateDownloading {
		info += "\n" + rateText(it.Rate) + " from " + count(it.Sources, "source")
	}
	s.dInfo.SetText(info)
	s.dProgress.SetValue(it.Progress())
	if it.State == StateOwned || it.State == StateDownloading {
		s.play.Enable()
	} else {
		s.play.Disable()
	}
	if it.State == StateLocked {
		s.getKey.Show()
		s.getKey.SetText("Get key — " + money(it.Price, it.Currency))
	} else {
		s.getKey.Hide()
	}
	if it.State == StateOwned {
		s.fetch.Disable()
	} else {
		s.fetch.Enable()
	}
	if fresh {
		s.policy.SetSelected(policyName(it.Policy))
		showErr(s.dErr, nil)
		s.loadSuppliers(it.Content)
	}
	s.detail.Show()
}

func (s *libraryScreen) loadSuppliers(c sealed.ContentID) {
	s.supplier.SetOptions([]string{autoSupplier})
	s.supplier.SetSelectedIndex(0)
	s.suppliers = nil
	s.u.background(func(ctx context.Context) func() {
		sup, err := s.u.b.Library.Suppliers(ctx, c)
		return func() {
			if !s.hasSel || s.sel != c {
				return
			}
			if err != nil {
				showErr(s.dErr, fmt.Errorf("listing suppliers: %s", errText(err)))
				return
			}
			s.suppliers = sup
			opts := []string{autoSupplier}
			for _, p := range sup {
				opts = append(opts, supplierText(p))
			}
			s.supplier.SetOptions(opts)
			s.supplier.SetSelectedIndex(0)
		}
	})
}

func supplierText(p directory.Supplier) string {
	if p.Origin {
		return "Origin store (the directory)"
	}
	where := "internet"
	if p.SameLAN {
		where = "your network"
	}
	rtt := ""
	if p.RTT > 0 {
		rtt = fmt.Sprintf("%d ms", p.RTT)
	}
	return dotted(p.Device.Short(), p.Account, where, rtt)
}

func (s *libraryScreen) tapPlay() {
	it, ok := s.selected()
	if !ok {
		return
	}
	// The queue is the visible order from the selected title on.
	var queue []sealed.ContentID
	start := 0
	for _, i := range s.shown {
		x := s.all[i]
		if x.State != StateOwned && x.State != StateDownloading {
			continue
		}
		if x.Content == it.Content {
			start = len(queue)
		}
		queue = append(queue, x.Content)
	}
	s.u.play(queue, start, func(err error) { showErr(s.dErr, err) })
}

func (s *libraryScreen) tapGetKey() {
	it, ok := s.selected()
	if !ok {
		return
	}
	run := func(p *license.Payment) {
		s.getKey.Disable()
		s.u.background(func(ctx context.Context) func() {
			rc, err := s.u.b.Library.GetKey(ctx, it.Content, p)
			return func() {
				s.getKey.Enable()
				showErr(s.dErr, err)
				if err == nil {
					s.u.mark(areaLibrary)
					s.u.showReceipt(it.Name, rc)
				}
			}
		})
	}
	if it.Price == 0 {
		run(nil)
		return
	}
	s.u.askPayment("Get the key for “"+it.Name+"” — "+money(it.Price, it.Currency), run)
}

func (s *libraryScreen) tapFetch() {
	it, ok := s.selected()
	if !ok {
		return
	}
	var from identity.ID
	if i := s.supplier.SelectedIndex() - 1; i >= 0 && i < len(s.suppliers) {
		from = s.suppliers[i].Device
	}
	s.fetch.Disable()
	s.u.background(func(ctx context.Context) func() {
		err := s.u.b.Library.Fetch(ctx, it.Content, from)
		return func() {
			s.fetch.Enable()
			showErr(s.dErr, err)
			s.u.mark(areaLibrary)
		}
	})
}

func (s *libraryScreen) setPolicy(name string) {
	it, ok := s.selected()
	if !ok || name == policyName(it.Policy) {
		return
	}
	p := policyFromName(name, it.Policy)
	s.u.background(func(ctx context.Context) func() {
		err := s.u.b.Sharing.SetPolicy(ctx, it.Content, p)
		return func() {
			showErr(s.dErr, err)
			s.u.mark(areaLibrary)
		}
	})
}

// reveal shows the title c in the list, clearing a filter that hides it,
// and selects it (UI goroutine).
func (s *libraryScreen) reveal(c sealed.ContentID) {
	find := func() int {
		for i, j := range s.shown {
			if s.all[j].Content == c {
				return i
			}
		}
		return -1
	}
	if find() < 0 && (s.filter.Text != "" || s.stateS.SelectedIndex() != 0) {
		s.filter.SetText("")
		s.stateS.SetSelectedIndex(0)
		s.reshape()
	}
	if i := find(); i >= 0 {
		s.list.Select(i)
		s.list.ScrollTo(i)
	}
}
