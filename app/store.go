package app

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/sealed"
)

// storePerPage is the number of titles on one store page.
const storePerPage = 50

// storeScreen searches the catalog and buys titles: a paged list on the
// left, the selected title's details and its buy button on the right.
type storeScreen struct {
	u      *UI
	obj    fyne.CanvasObject
	query  *widget.Entry
	list   *widget.List
	pageL  *widget.Label
	prev   *widget.Button
	next   *widget.Button
	err    *widget.Label
	busy   *widget.ProgressBarInfinite
	titles []directory.Title
	total  int
	page   int
	loaded bool
	seq    int // drops answers to superseded searches

	sel     int
	dName   *widget.Label
	dArtist *widget.Label
	dPrice  *widget.Label
	dRights *widget.Label
	dMeta   *widget.Label
	buy     *widget.Button
	buyErr  *widget.Label
	detail  fyne.CanvasObject
	hint    *widget.Label

	// What this device's account already has, so an owned title offers
	// Play and Show in Library instead of a second purchase.
	owned    map[string]Item           // by title ID, from the last library snapshot
	bought   map[sealed.ContentID]bool // bought here since; the library may not list it yet
	ownedBox *fyne.Container           // Play and Show in Library
	playB    *widget.Button
	showLibB *widget.Button
}

func newStoreScreen(u *UI) *storeScreen {
	s := &storeScreen{u: u, page: 1, sel: -1, owned: map[string]Item{}, bought: map[sealed.ContentID]bool{}}
	s.query = widget.NewEntry()
	s.query.SetPlaceHolder("Search titles and artists")
	s.query.OnSubmitted = func(string) { s.search(1) }
	searchB := widget.NewButtonWithIcon("Search", theme.SearchIcon(), func() { s.search(1) })
	s.list = widget.NewList(
		func() int { return len(s.titles) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("Title name")
			name.TextStyle.Bold = true
			name.Truncation = fyne.TextTruncateEllipsis
			artist := widget.NewLabel("Artist")
			artist.Truncation = fyne.TextTruncateEllipsis
			price := widget.NewLabel("€00.00")
			return container.NewBorder(nil, nil, widget.NewIcon(theme.MediaMusicIcon()), price,
				container.NewGridWithColumns(2, name, artist))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.titles) {
				return
			}
			t := s.titles[id]
			row := o.(*fyne.Container)
			grid := row.Objects[0].(*fyne.Container)
			grid.Objects[0].(*widget.Label).SetText(t.Name)
			grid.Objects[1].(*widget.Label).SetText(dotted(t.Artist, titleLength(t)))
			row.Objects[1].(*widget.Icon).SetResource(mediaIcon(t.MediaType))
			price := money(t.Price, t.Currency)
			if s.isOwned(t) {
				price = "Owned"
			}
			setText(row.Objects[2].(*widget.Label), price)
		})
	s.list.OnSelected = func(id widget.ListItemID) { s.selectTitle(id) }
	s.pageL = widget.NewLabel("")
	s.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { s.search(s.page - 1) })
	s.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { s.search(s.page + 1) })
	s.err = errorLabel()
	s.busy = widget.NewProgressBarInfinite()
	s.busy.Stop()
	s.busy.Hide()

	s.dName = heading("")
	s.dName.Wrapping = fyne.TextWrapWord
	s.dArtist = widget.NewLabel("")
	s.dPrice = widget.NewLabel("")
	s.dPrice.TextStyle.Bold = true
	s.dRights = widget.NewLabel("")
	s.dRights.Wrapping = fyne.TextWrapWord
	s.dMeta = widget.NewLabel("")
	s.buy = widget.NewButtonWithIcon("Get", theme.DownloadIcon(), s.tapBuy)
	s.buy.Importance = widget.HighImportance
	s.buyErr = errorLabel()
	s.playB = widget.NewButtonWithIcon("Play", theme.MediaPlayIcon(), s.tapPlay)
	s.playB.Importance = widget.HighImportance
	s.showLibB = widget.NewButtonWithIcon("Show in Library", theme.StorageIcon(), s.tapShowInLibrary)
	s.ownedBox = container.NewHBox(s.playB, s.showLibB)
	s.ownedBox.Hide()
	s.detail = container.NewVBox(s.dName, s.dArtist, s.dPrice, s.dRights, s.dMeta, s.buy, s.ownedBox, s.buyErr)
	s.detail.Hide()

	top := container.NewVBox(heading("Store"),
		container.NewBorder(nil, nil, nil, searchB, s.query), s.busy, s.err)
	pager := container.NewHBox(s.prev, s.pageL, s.next)
	left := container.NewBorder(top, container.NewCenter(pager), nil, nil, s.list)
	s.hint = widget.NewLabel("Choose a title to see its price and rights, and to get it.")
	s.hint.Wrapping = fyne.TextWrapWord
	split := container.NewHSplit(left, container.NewPadded(container.NewStack(s.hint, s.detail)))
	split.Offset = 0.62
	s.obj = split
	s.setPager()
	return s
}

func mediaIcon(mt string) fyne.Resource {
	switch {
	case strings.HasPrefix(mt, "image/"):
		return theme.FileImageIcon()
	case strings.HasPrefix(mt, "video/"):
		return theme.FileVideoIcon()
	}
	return theme.MediaMusicIcon()
}

func (s *storeScreen) shown() {
	if !s.loaded {
		s.search(1)
	}
}

// search loads page of the current query off the UI goroutine.
func (s *storeScreen) search(page int) {
	if page < 1 {
		page = 1
	}
	q := strings.TrimSpace(s.query.Text)
	s.seq++
	seq := s.seq
	s.busy.Show()
	s.busy.Start()
	s.u.background(func(ctx context.Context) func() {
		ts, total, err := s.u.b.Catalog.Titles(ctx, q, page, storePerPage)
		return func() {
			if seq != s.seq {
				return
			}
			s.busy.Stop()
			s.busy.Hide()
			showErr(s.err, err)
			if err != nil {
				return
			}
			s.loaded = true
			s.titles, s.total, s.page = ts, total, page
			s.list.UnselectAll()
			s.sel = -1
			s.detail.Hide()
			s.hint.Show()
			s.list.Refresh()
			s.setPager()
			if len(ts) == 0 {
				if q == "" {
					showErr(s.err, fmt.Errorf("the catalog is empty"))
				} else {
					showErr(s.err, fmt.Errorf("nothing matches “%s”", q))
				}
			}
		}
	})
}

func (s *storeScreen) pages() int { return max(1, (s.total+storePerPage-1)/storePerPage) }

func (s *storeScreen) setPager() {
	if !s.loaded { // not "0 titles" before the catalog answered
		s.pageL.SetText("")
		s.prev.Disable()
		s.next.Disable()
		return
	}
	s.pageL.SetText(fmt.Sprintf("Page %d of %d · %s", s.page, s.pages(), count(s.total, "title")))
	if s.page > 1 {
		s.prev.Enable()
	} else {
		s.prev.Disable()
	}
	if s.page < s.pages() {
		s.next.Enable()
	} else {
		s.next.Disable()
	}
}

func (s *storeScreen) selectTitle(id int) {
	if id < 0 || id >= len(s.titles) {
		return
	}
	s.sel = id
	t := s.titles[id]
	s.dName.SetText(t.Name)
	if t.Artist != "" {
		s.dArtist.SetText("by " + t.Artist)
		s.dArtist.Show()
	} else {
		s.dArtist.Hide()
	}
	s.dPrice.SetText(money(t.Price, t.Currency))
	s.dRights.SetText(rightsText(t.Rights))
	s.dMeta.SetText(dotted(t.MediaType, titleLength(t), bytesText(t.Size)))
	if t.Price == 0 {
		s.buy.SetText("Get (free)")
	} else {
		s.buy.SetText("Buy for " + money(t.Price, t.Currency))
	}
	if t.Withdrawn {
		s.buy.Disable()
		s.dMeta.SetText(s.dMeta.Text + " · withdrawn by the publisher")
	} else {
		s.buy.Enable()
	}
	showErr(s.buyErr, nil)
	s.showOwned(t)
	s.hint.Hide()
	s.detail.Show()
}

// isOwned reports whether this account already holds a license for t
// (a locked copy, ciphertext without a key, is not owned).
func (s *storeScreen) isOwned(t directory.Title) bool {
	if s.bought[t.ContentID] {
		return true
	}
	it, ok := s.owned[t.ID]
	return ok && it.State != StateLocked
}

// showOwned switches the detail pane between buying t and, once it is
// owned, saying so with Play and Show in Library.
func (s *storeScreen) showOwned(t directory.Title) {
	if !s.isOwned(t) {
		s.ownedBox.Hide()
		s.buy.Show()
		return
	}
	s.buy.Hide()
	it, ok := s.owned[t.ID]
	switch {
	case ok && it.State == StateOwned:
		s.dPrice.SetText("You own this title.")
	case ok:
		s.dPrice.SetText("You own this title — " + it.State.String() + ".")
	default: // bought here; the library has not listed it yet
		s.dPrice.SetText("You own this title — downloading.")
	}
	s.ownedBox.Show()
}

// applyLibrary learns what the account owns from a library snapshot (UI
// goroutine) and refreshes the rows and the detail pane.
func (s *storeScreen) applyLibrary(items []Item) {
	clear(s.owned)
	for _, it := range items {
		if it.TitleID != "" && (it.State != StateLocked || s.owned[it.TitleID].TitleID == "") {
			s.owned[it.TitleID] = it
		}
	}
	s.list.Refresh()
	if s.sel >= 0 && s.sel < len(s.titles) && s.detail.Visible() {
		s.showOwned(s.titles[s.sel])
	}
}

// selectedTitle is the title in the detail pane.
func (s *storeScreen) selectedTitle() (directory.Title, bool) {
	if s.sel < 0 || s.sel >= len(s.titles) {
		return directory.Title{}, false
	}
	return s.titles[s.sel], true
}

func (s *storeScreen) tapPlay() {
	t, ok := s.selectedTitle()
	if !ok {
		return
	}
	c := t.ContentID
	if it, ok := s.owned[t.ID]; ok {
		c = it.Content
	}
	s.u.play([]sealed.ContentID{c}, 0, func(err error) { showErr(s.buyErr, err) })
}

func (s *storeScreen) tapShowInLibrary() {
	t, ok := s.selectedTitle()
	if !ok {
		return
	}
	c := t.ContentID
	if it, ok := s.owned[t.ID]; ok {
		c = it.Content
	}
	s.u.Show(ViewLibrary)
	s.u.library.reveal(c)
}

func rightsText(r license.Rights) string {
	var parts []string
	if r.Reshare {
		parts = append(parts, "You may share it onward with other devices.")
	} else {
		parts = append(parts, "For your devices only: no re-sharing.")
	}
	if r.Expires.IsZero() {
		parts = append(parts, "Never expires.")
	} else {
		parts = append(parts, "Expires "+r.Expires.Local().Format("2 Jan 2006")+".")
	}
	return strings.Join(parts, " ")
}

func (s *storeScreen) tapBuy() {
	if s.sel < 0 || s.sel >= len(s.titles) {
		return
	}
	t := s.titles[s.sel]
	if t.Price == 0 {
		s.buyNow(t, nil)
		return
	}
	s.u.askPayment("Buy “"+t.Name+"” for "+money(t.Price, t.Currency), func(p *license.Payment) {
		s.buyNow(t, p)
	})
}

func (s *storeScreen) buyNow(t directory.Title, p *license.Payment) {
	s.buy.Disable()
	showErr(s.buyErr, nil)
	s.u.background(func(ctx context.Context) func() {
		rc, err := s.u.b.Catalog.Buy(ctx, t, p)
		return func() {
			s.buy.Enable()
			if err != nil {
				showErr(s.buyErr, err)
				return
			}
			s.bought[t.ContentID] = true
			if cur, ok := s.selectedTitle(); ok && cur.ContentID == t.ContentID {
				s.showOwned(cur)
			}
			s.list.Refresh()
			s.u.mark(areaLibrary)
			s.u.showReceipt(t.Name, rc)
		}
	})
}
