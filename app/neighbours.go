package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
)

// neighboursScreen shows the devices found on the LAN and what the
// selected one offers this device, with the two ways to fetch from it.
type neighboursScreen struct {
	u      *UI
	obj    fyne.CanvasObject
	ns     []Neighbour
	list   *widget.List
	empty  *widget.Label
	sel    identity.ID
	hasSel bool

	who      *widget.Label
	offers   []Offer
	offerL   *widget.List
	offerSel int
	note     *widget.Label
	relay    *widget.Button
	copyB    *widget.Button
	err      *widget.Label
	done     *widget.Label
	right    fyne.CanvasObject
	hint     *widget.Label
	seq      int

	// adding a device by hand (where the router drops LAN discovery)
	addr    *widget.Entry
	addB    *widget.Button
	addErr  *widget.Label
	forget  *widget.Button // shown for a neighbour added by hand
	addHelp *widget.Label
	top     *fyne.Container // the neighbour's name and forget
}

func newNeighboursScreen(u *UI) *neighboursScreen {
	s := &neighboursScreen{u: u, offerSel: -1}
	s.list = widget.NewList(
		func() int { return len(s.ns) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("Device name")
			name.TextStyle.Bold = true
			name.Truncation = fyne.TextTruncateEllipsis
			line := widget.NewLabel("account · ID")
			line.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, widget.NewIcon(theme.ComputerIcon()), nil,
				container.NewVBox(name, line))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.ns) {
				return
			}
			n := s.ns[id]
			box := o.(*fyne.Container).Objects[0].(*fyne.Container)
			setText(box.Objects[0].(*widget.Label), n.Name)
			line := dotted(n.Account, n.ID.Short(), "seen "+ago(n.Seen))
			if n.ByHand {
				line = dotted(n.Account, n.ID.Short(), "added by hand", n.Addr)
			}
			setText(box.Objects[1].(*widget.Label), line)
		})
	s.list.OnSelected = func(id widget.ListItemID) {
		if id < len(s.ns) {
			s.choose(s.ns[id])
		}
	}
	s.empty = widget.NewLabel(lookingText)
	s.empty.Wrapping = fyne.TextWrapWord

	s.who = heading("")
	s.note = widget.NewLabel("")
	s.note.Wrapping = fyne.TextWrapWord
	s.offerL = widget.NewList(
		func() int { return len(s.offers) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("Title — Artist")
			name.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, widget.NewIcon(theme.MediaMusicIcon()), widget.NewLabel("€0.00"), name)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.offers) {
				return
			}
			of := s.offers[id]
			row := o.(*fyne.Container)
			setText(row.Objects[0].(*widget.Label), byArtist(of.Title.Name, of.Title.Artist))
			row.Objects[1].(*widget.Icon).SetResource(mediaIcon(of.Title.MediaType))
			price := money(of.Title.Price, of.Title.Currency)
			if !of.Complete {
				price += " · partial"
			}
			row.Objects[2].(*widget.Label).SetText(price)
		})
	s.offerL.OnSelected = func(id widget.ListItemID) { s.offerSel = id; s.setButtons() }
	s.relay = widget.NewButtonWithIcon("Register through this device", theme.ConfirmIcon(), func() { s.tapFetch(FetchRelay) })
	s.relay.Importance = widget.HighImportance
	s.copyB = widget.NewButtonWithIcon("Copy now, get the key later", theme.DownloadIcon(), func() { s.tapFetch(FetchCiphertext) })
	s.err = errorLabel()
	s.done = widget.NewLabel("")
	s.done.Importance = widget.SuccessImportance
	s.done.Hide()
	s.forget = widget.NewButtonWithIcon("Forget this device", theme.DeleteIcon(), s.tapForget)
	s.forget.Hide()
	s.top = container.NewBorder(nil, nil, nil, s.forget, s.who)
	actions := container.NewVBox(container.NewHBox(s.relay, s.copyB), s.err, s.done)
	s.right = container.NewBorder(container.NewVBox(s.top, s.note), actions, nil, nil, s.offerL)
	s.right.Hide()
	s.addr = widget.NewEntry()
	s.addr.SetPlaceHolder("host:port, e.g. 192.168.1.20:7143")
	s.addr.OnSubmitted = func(string) { s.tapAdd() }
	s.addB = widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), s.tapAdd)
	s.addErr = errorLabel()
	addHelp := widget.NewLabel("")
	addHelp.Wrapping = fyne.TextWrapWord
	s.addHelp = addHelp
	addBox := container.NewVBox(widget.NewSeparator(), addHelp, container.NewBorder(nil, nil, nil, s.addB, s.addr), s.addErr)
	left := container.NewBorder(container.NewVBox(heading("Neighbours"), s.empty), addBox, nil, nil, s.list)
	hint := widget.NewLabel("Choose a device to see what it offers you. Devices of your directory appear here when they are on the same network.")
	hint.Wrapping = fyne.TextWrapWord
	s.hint = hint
	split := container.NewHSplit(left, container.NewPadded(container.NewStack(hint, s.right)))
	split.Offset = 0.38
	s.obj = split
	s.setButtons()
	return s
}

const lookingText = "Looking for other Kith devices on your network…"

func ago(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	d := time.Since(t).Round(time.Second)
	if d < 5*time.Second {
		return "just now"
	}
	return d.String() + " ago"
}

// addHelpText says how to add a device by hand, with this device's own
// address (what to type on the other one).
func addHelpText(self string) string {
	t := "Not listed? Where the router blocks discovery, type the address the other device's Neighbours screen shows (host:port); it must prove it is a device of your directory."
	if self != "" {
		t += " This device: " + self
	}
	return t
}

// neighboursSnapshot is what the screen shows, read off the UI goroutine
// (Address reads the interfaces' addresses).
type neighboursSnapshot struct {
	ns      []Neighbour
	problem string // Discovery
	self    string // Address
}

func (u *UI) neighboursSnapshot() neighboursSnapshot {
	n := u.b.Neighbours
	return neighboursSnapshot{ns: n.Neighbours(), problem: n.Discovery(), self: n.Address()}
}

func (s *neighboursScreen) apply(snap neighboursSnapshot) {
	ns, problem := snap.ns, snap.problem
	s.ns = ns
	s.addHelp.SetText(addHelpText(snap.self))
	if problem != "" {
		s.empty.SetText(problem + " — Kith keeps trying; the directory's suppliers still work, and a device can be added by its address below.")
	} else {
		s.empty.SetText(lookingText)
	}
	if len(ns) == 0 || problem != "" {
		s.empty.Show()
	} else {
		s.empty.Hide()
	}
	s.list.Refresh()
}

// tapAdd adds the device at the typed address (Neighbours.Add checks it
// proves itself a device of this directory).
func (s *neighboursScreen) tapAdd() {
	addr := s.addr.Text
	if addr == "" {
		showErr(s.addErr, errors.New("type the other device's address, host:port"))
		return
	}
	s.addB.Disable()
	showErr(s.addErr, nil)
	s.u.background(func(ctx context.Context) func() {
		n, err := s.u.b.Neighbours.Add(ctx, addr)
		snap := s.u.neighboursSnapshot()
		return func() {
			s.addB.Enable()
			showErr(s.addErr, err)
			if err == nil {
				s.addr.SetText("")
				s.apply(snap)
				s.choose(n)
			}
		}
	})
}

// tapForget forgets the chosen neighbour added by hand.
func (s *neighboursScreen) tapForget() {
	if !s.hasSel {
		return
	}
	id := s.sel
	s.u.background(func(ctx context.Context) func() {
		err := s.u.b.Neighbours.Remove(ctx, id)
		snap := s.u.neighboursSnapshot()
		return func() {
			showErr(s.err, err)
			if err == nil {
				s.hasSel = false
				s.right.Hide()
				s.hint.Show()
				s.list.UnselectAll()
				s.apply(snap)
			}
		}
	})
}

// choose loads what n offers this device.
func (s *neighboursScreen) choose(n Neighbour) {
	s.sel, s.hasSel = n.ID, true
	if n.ByHand {
		s.forget.Show()
	} else {
		s.forget.Hide()
	}
	s.top.Refresh() // lays the row out again with or without forget
	s.who.SetText(n.Name)
	s.note.SetText("Asking " + n.Name + " what it offers you…")
	s.offers = nil
	s.offerSel = -1
	s.offerL.UnselectAll()
	s.offerL.Refresh()
	showErr(s.err, nil)
	s.done.Hide()
	s.hint.Hide()
	s.right.Show()
	s.setButtons()
	s.seq++
	seq := s.seq
	s.u.background(func(ctx context.Context) func() {
		offers, err := s.u.b.Neighbours.Offer(ctx, n.ID)
		return func() {
			if seq != s.seq {
				return
			}
			switch {
			case errors.Is(err, ErrRestricted):
				s.note.SetText(n.Name + "’s owner does not share with you, so it offers nothing.")
			case err != nil:
				s.note.SetText("")
				showErr(s.err, fmt.Errorf("asking %s: %s", n.Name, errText(err)))
			case len(offers) == 0:
				s.note.SetText(n.Name + " has nothing to offer you yet.")
			default:
				s.note.SetText(fmt.Sprintf("%s offers you %s. Registering through it credits it as your supplier; copying first needs no key until you play.", n.Name, count(len(offers), "title")))
			}
			s.offers = offers
			s.offerL.Refresh()
			s.setButtons()
		}
	})
}

func (s *neighboursScreen) setButtons() {
	if s.offerSel >= 0 && s.offerSel < len(s.offers) {
		s.relay.Enable()
		s.copyB.Enable()
		return
	}
	s.relay.Disable()
	s.copyB.Disable()
}

func (s *neighboursScreen) tapFetch(mode FetchMode) {
	if !s.hasSel || s.offerSel < 0 || s.offerSel >= len(s.offers) {
		return
	}
	id, of := s.sel, s.offers[s.offerSel]
	run := func(p *license.Payment) {
		s.relay.Disable()
		s.copyB.Disable()
		showErr(s.err, nil)
		s.done.Hide()
		s.u.background(func(ctx context.Context) func() {
			err := s.u.b.Neighbours.FetchFrom(ctx, id, of, mode, p)
			return func() {
				s.setButtons()
				showErr(s.err, err)
				if err == nil {
					s.done.SetText("“" + of.Title.Name + "” is on its way: see Library.")
					s.done.Show()
					s.u.mark(areaLibrary)
				}
			}
		})
	}
	if mode == FetchRelay && of.Title.Price > 0 {
		s.u.askPayment("Buy “"+of.Title.Name+"” through this neighbour — "+money(of.Title.Price, of.Title.Currency), run)
		return
	}
	run(nil)
}
