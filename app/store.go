package app

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
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
}

func newStoreScreen(u *UI) *storeScreen {
	s := &storeScreen{u: u, page: 1, sel: -1}
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
			grid.Objects[1].(*widget.Label).SetText(t.Artist)
			row.Objects[1].(*widget.Icon).SetResource(mediaIcon(t.MediaType))
			row.Objects[2].(*widget.Label).SetText(money(t.Price, t.Currency))
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
	s.detail = container.NewVBox(s.dName, s.dArtist, s.dPrice, s.dRights, s.dMeta, s.buy, s.buyErr)
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
	s.pageL.SetText(fmt.Sprintf("Page %d of %d · %d titles", s.page, s.pages(), s.total))
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
	s.dArtist.SetText("by " + t.Artist)
	s.dPrice.SetText(money(t.Price, t.Currency))
	s.dRights.SetText(rightsText(t.Rights))
	s.dMeta.SetText(fmt.Sprintf("%s · %s", t.MediaType, bytesText(t.Size)))
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
	s.hint.Hide()
	s.detail.Show()
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
	askPayment(s.u.win, "Buy “"+t.Name+"” for "+money(t.Price, t.Currency), func(p *license.Payment) {
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
			s.u.mark(areaLibrary)
			showReceipt(s.u.win, t.Name, rc)
		}
	})
}

// askPayment shows the payment form; ok gets what was typed.
func askPayment(w fyne.Window, title string, ok func(*license.Payment)) {
	name := widget.NewEntry()
	card := widget.NewEntry()
	card.SetPlaceHolder("4242 4242 4242 4242")
	exp := widget.NewEntry()
	exp.SetPlaceHolder("MM/YY")
	cvc := widget.NewPasswordEntry()
	cvc.SetPlaceHolder("123")
	addr := widget.NewMultiLineEntry()
	addr.SetPlaceHolder("Street, town, postcode")
	addr.SetMinRowsVisible(2)
	items := []*widget.FormItem{
		widget.NewFormItem("Name on card", name),
		widget.NewFormItem("Card number", card),
		widget.NewFormItem("Expiry", exp),
		widget.NewFormItem("CVC", cvc),
		widget.NewFormItem("Billing address", addr),
	}
	d := dialog.NewForm(title, "Pay", "Cancel", items, func(b bool) {
		if b {
			ok(&license.Payment{Name: strings.TrimSpace(name.Text), Card: strings.ReplaceAll(card.Text, " ", ""),
				Expiry: strings.TrimSpace(exp.Text), CVC: strings.TrimSpace(cvc.Text), Address: strings.TrimSpace(addr.Text)})
		}
	}, w)
	d.Resize(fyne.NewSize(460, 420))
	d.Show()
}

// showReceipt shows what was bought, for how much, with which card.
func showReceipt(w fyne.Window, name string, rc *directory.Receipt) {
	if rc == nil {
		return
	}
	paid := "Free registration"
	if rc.Amount > 0 {
		paid = "Paid " + money(rc.Amount, rc.Currency)
		if rc.CardLast4 != "" {
			paid += fmt.Sprintf(" with %s ending %s", rc.CardBrand, rc.CardLast4)
		}
	}
	lines := []string{
		"“" + name + "” is yours: it is in your Library and downloading now.",
		"",
		paid,
		"Account: " + rc.Account,
		"Purchase: " + rc.PurchaseID,
		"Date: " + rc.Time.Local().Format("2 Jan 2006 15:04"),
	}
	if rc.Supplier != "" {
		lines = append(lines, "Supplied by device "+rc.Supplier.Short())
	}
	l := widget.NewLabel(strings.Join(lines, "\n"))
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("Receipt", "Done", l, w)
	d.Resize(fyne.NewSize(440, 280))
	d.Show()
}
