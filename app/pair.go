package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/identity"
)

// FoundDirectory is a directory announced on the LAN: an unauthenticated
// claim (anyone can announce any name and fingerprint) until paired. One
// typed by the user has one host and no fingerprint: pairing learns it.
type FoundDirectory struct {
	Name        string
	Hosts       []string // host:port, as announced
	Fingerprint identity.ID
}

// Pairing is how this device comes to trust a household's directory: the
// user chooses one of the directories found and types the join code its
// own screen shows (package directory/pairing).
type Pairing interface {
	// Search looks on the LAN for a few seconds and lists every directory
	// found.
	Search(ctx context.Context) ([]FoundDirectory, error)
	// Pair checks, with code, that d is the directory whose screen shows
	// code; only then does the device save and use it.
	Pair(ctx context.Context, d FoundDirectory, code string) error
	// JoinCode makes a new one-time code for a device joining the
	// household directory this device runs (an error if it runs none); it
	// stretches the code with argon2id, so it takes a moment.
	JoinCode(ctx context.Context) (code string, expires time.Time, err error)
	// SaveDirectory saves "https://host:port#FINGERPRINT" as the directory
	// to use from the next start; "" forgets the saved one (the next start
	// searches the LAN and asks to pair again).
	SaveDirectory(url string) error
	// StartHousehold runs a household directory on this computer instead
	// of joining one, and uses it.
	StartHousehold(ctx context.Context) error
}

// pairPanel is the welcome screen's first step when this device has no
// directory yet: find → choose → type the code shown on the household's
// screen → paired.
type pairPanel struct {
	s      *welcomeScreen
	obj    fyne.CanvasObject
	list   *widget.RadioGroup
	detail *widget.Label // the chosen directory's addresses and full fingerprint
	found  []FoundDirectory
	code   *widget.Entry
	addr   *widget.Entry // or a directory typed by address
	pair   *widget.Button
	search *widget.Button
	own    *widget.Button
	status *widget.Label
	err    *widget.Label
}

const pairHelp = "Anyone on your network can announce a directory, so Kith sends nothing — " +
	"no password, no card — to a directory until you pair with it.\n\n" +
	"1. Choose your household's directory below (if two look alike, compare the fingerprint).\n" +
	"2. On the computer running it, open Settings → Add a device (or run `kith-directory pair-code`): it shows a join code.\n" +
	"3. Type that code here and press Enter."

func newPairPanel(s *welcomeScreen) *pairPanel {
	p := &pairPanel{s: s}
	p.detail = widget.NewLabel("")
	p.detail.TextStyle.Monospace = true
	p.detail.Wrapping = fyne.TextWrapBreak
	p.detail.Hide()
	p.list = widget.NewRadioGroup(nil, func(string) { p.showChosen() })
	p.code = widget.NewEntry()
	p.code.SetPlaceHolder("join code, e.g. 7KQ2M-XD4HP")
	p.code.OnSubmitted = func(string) { p.submit() }
	p.pair = widget.NewButtonWithIcon("Pair", theme.ConfirmIcon(), p.submit)
	p.pair.Importance = widget.HighImportance
	p.search = widget.NewButtonWithIcon("Search again", theme.SearchIcon(), p.rescan)
	p.addr = widget.NewEntry()
	p.addr.SetPlaceHolder("or its address, e.g. 192.168.1.20:7443")
	p.addr.OnSubmitted = func(string) { p.submit() }
	p.own = widget.NewButtonWithIcon("Start a household on this computer instead", theme.HomeIcon(), p.startOwn)
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.err = errorLabel()
	help := widget.NewLabel(pairHelp)
	help.Wrapping = fyne.TextWrapWord
	p.obj = container.NewVBox(help, widget.NewSeparator(), p.status, p.list, p.detail,
		widget.NewForm(widget.NewFormItem("Or address", p.addr), widget.NewFormItem("Join code", p.code)),
		container.NewHBox(p.pair, p.search), p.err, widget.NewSeparator(), container.NewHBox(p.own))
	return p
}

// describeDirectory is d's line in the list: number, name, first address
// and the fingerprint's first groups (the full one shows when chosen).
func describeDirectory(i int, d FoundDirectory) string {
	name := []rune(d.Name)
	if len(name) == 0 {
		name = []rune("Kith directory")
	}
	if len(name) > 24 {
		name = append(name[:23], '…')
	}
	host := ""
	if len(d.Hosts) > 0 {
		host = d.Hosts[0]
		if len(d.Hosts) > 1 {
			host += fmt.Sprintf(" (+%d)", len(d.Hosts)-1)
		}
	}
	fp := string(d.Fingerprint)
	if len(fp) > 15 {
		fp = fp[:15] + "…"
	}
	return fmt.Sprintf("%d. %s — %s — %s", i+1, string(name), host, fp)
}

// setFound shows the directories found.
func (p *pairPanel) setFound(found []FoundDirectory) {
	p.found = found
	opts := make([]string, len(found))
	for i, d := range found {
		opts[i] = describeDirectory(i, d)
	}
	p.list.Options = opts
	if len(found) == 1 {
		p.list.Selected = opts[0]
	} else if !containsString(opts, p.list.Selected) {
		p.list.Selected = ""
	}
	p.list.Refresh()
	p.showChosen()
	p.relayout()
	switch len(found) {
	case 0:
		p.status.SetText("No directory answered on your network. Check that the household's computer is on, then search again.")
	case 1:
		p.status.SetText("Kith found this directory on your network:")
	default:
		p.status.SetText(fmt.Sprintf("Kith found %s on your network; choose your household's:", count(len(found), "directory")))
	}
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (p *pairPanel) chosen() (FoundDirectory, bool) {
	for i, d := range p.found {
		if describeDirectory(i, d) == p.list.Selected {
			return d, true
		}
	}
	return FoundDirectory{}, false
}

// showChosen shows the chosen directory's addresses and full fingerprint,
// to compare with the household's screen.
func (p *pairPanel) showChosen() {
	d, ok := p.chosen()
	if !ok {
		p.detail.Hide()
		return
	}
	p.detail.SetText(fmt.Sprintf("%s\nat %s\nfingerprint %s", d.Name, strings.Join(d.Hosts, ", "), d.Fingerprint))
	p.detail.Show()
	p.relayout()
}

// relayout lays the panel out again after the list or details changed size.
func (p *pairPanel) relayout() {
	if c, ok := p.obj.(*fyne.Container); ok {
		c.Refresh()
	}
	if p.s.title != nil {
		p.s.title.Refresh()
	}
}

func (p *pairPanel) shown() {
	p.s.u.win.Canvas().Focus(p.code)
	if p.found == nil {
		p.rescan()
	}
}

func (p *pairPanel) rescan() {
	p.setBusy(true)
	p.status.SetText("Looking for directories on your network…")
	p.s.u.background(func(ctx context.Context) func() {
		found, err := p.s.u.b.Pairing.Search(ctx)
		return func() {
			p.setBusy(false)
			showErr(p.err, err)
			if found == nil {
				found = []FoundDirectory{}
			}
			p.setFound(found)
			p.s.u.win.Canvas().Focus(p.code)
		}
	})
}

func (p *pairPanel) submit() {
	d, ok := p.chosen()
	if a := strings.TrimSpace(p.addr.Text); a != "" {
		d, ok = FoundDirectory{Name: "", Hosts: []string{a}}, true
	}
	switch {
	case !ok:
		showErr(p.err, errors.New("choose your household's directory first (or type its address)"))
		return
	case strings.TrimSpace(p.code.Text) == "":
		showErr(p.err, errors.New("type the join code shown on the household's screen"))
		return
	}
	code := p.code.Text
	showErr(p.err, nil)
	p.setBusy(true)
	p.status.SetText("Checking the code with " + strings.Join(append([]string{d.Name}, d.Hosts...), " ") + "…")
	p.s.u.background(func(ctx context.Context) func() {
		err := p.s.u.b.Pairing.Pair(ctx, d, code)
		return func() {
			p.setBusy(false)
			if err != nil {
				p.status.SetText("Not paired.")
				showErr(p.err, err)
				p.s.u.win.Canvas().Focus(p.code)
				return
			}
			p.code.SetText("")
			p.s.shown() // now paired: the account step
		}
	})
}

// startOwn runs a household directory here instead of joining one.
func (p *pairPanel) startOwn() {
	showErr(p.err, nil)
	p.setBusy(true)
	p.status.SetText("Starting a household directory on this computer…")
	p.s.u.background(func(ctx context.Context) func() {
		err := p.s.u.b.Pairing.StartHousehold(ctx)
		return func() {
			p.setBusy(false)
			if err != nil {
				showErr(p.err, err)
				return
			}
			p.s.u.settings.refresh()
			p.s.shown()
		}
	})
}

func (p *pairPanel) setBusy(b bool) {
	if b {
		p.own.Disable()
		p.pair.Disable()
		p.search.Disable()
		p.s.busy.Show()
		p.s.busy.Start()
		return
	}
	p.own.Enable()
	p.pair.Enable()
	p.search.Enable()
	p.s.busy.Stop()
	p.s.busy.Hide()
}

// joinCodeCard is Settings' "Add a device" card on a device that runs the
// household directory: it shows a join code for the joining device.
type joinCodeCard struct {
	u      *UI
	obj    *widget.Card
	button *widget.Button
	code   *widget.Label
	info   *widget.Label
}

func newJoinCodeCard(u *UI) *joinCodeCard {
	c := &joinCodeCard{u: u}
	c.code = widget.NewLabel("")
	c.code.TextStyle = fyne.TextStyle{Monospace: true, Bold: true}
	c.code.SizeName = theme.SizeNameHeadingText
	c.info = widget.NewLabel("On the computer that joins, choose this household in Kith's welcome screen and type the code shown here. A code works once, for 10 minutes.")
	c.info.Wrapping = fyne.TextWrapWord
	c.button = widget.NewButtonWithIcon("Show a join code", theme.ContentAddIcon(), c.show)
	c.obj = widget.NewCard("Add a device", "", container.NewVBox(c.info, c.button, c.code))
	return c
}

func (c *joinCodeCard) show() {
	c.button.Disable()
	c.code.SetText("Making a code…")
	c.u.background(func(ctx context.Context) func() {
		code, exp, err := c.u.b.Pairing.JoinCode(ctx)
		return func() {
			c.button.Enable()
			if err != nil {
				c.code.SetText(errText(err))
				return
			}
			c.code.SetText(fmt.Sprintf("%s   (until %s)", code, exp.Local().Format("15:04")))
			// Bring the card with the code into view (on a short window it
			// appears below the fold, to be found only by scrolling).
			if sc, ok := c.u.settings.obj.(*container.Scroll); ok {
				sc.ScrollToOffset(fyne.NewPos(0, c.obj.Position().Y))
			}
		}
	})
}
