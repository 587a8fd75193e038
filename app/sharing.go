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
)

// Policy choices as shown, in the order of directory's modes.
var policyChoices = []string{"Anyone in this network", "My household only", "Chosen devices", "Nobody"}

func policyName(p directory.Policy) string {
	switch p.Mode {
	case directory.PolicyHousehold:
		return policyChoices[1]
	case directory.PolicyList:
		return policyChoices[2]
	case directory.PolicyNobody:
		return policyChoices[3]
	}
	return policyChoices[0]
}

// policyFromName is the policy for a choice, keeping old's lists.
func policyFromName(name string, old directory.Policy) directory.Policy {
	p := directory.Policy{Allow: old.Allow, Deny: old.Deny}
	switch name {
	case policyChoices[1]:
		p.Mode = directory.PolicyHousehold
	case policyChoices[2]:
		p.Mode = directory.PolicyList
	case policyChoices[3]:
		p.Mode = directory.PolicyNobody
	default:
		p.Mode = directory.PolicyAnyone
	}
	return p
}

type sharingSnapshot struct {
	enabled  bool
	def      directory.Policy
	uploads  []Upload
	supplied int64
	install  InstallOffer
	// installRead: install was read (only while the screen is shown:
	// reading it makes the package the first time); else the last one stays.
	installRead bool
}

// sharingScreen: serving on/off, the default policy, who downloaded what.
type sharingScreen struct {
	u        *UI
	obj      fyne.CanvasObject
	snap     sharingSnapshot
	on       *widget.Check
	policy   *widget.RadioGroup
	allow    *widget.Entry
	save     *widget.Button
	supplied *widget.Label
	list     *widget.List
	empty    *widget.Label
	err      *widget.Label
	applying bool

	installURL  *widget.Label // the page's address, selectable to copy
	installSum  *widget.Label // the package's SHA-256
	installNote *widget.Label
}

func newSharingScreen(u *UI) *sharingScreen {
	s := &sharingScreen{u: u}
	s.on = widget.NewCheck("Share my titles with other devices", func(on bool) {
		if s.applying {
			return
		}
		s.u.background(func(ctx context.Context) func() {
			err := s.u.b.Sharing.SetEnabled(ctx, on)
			return func() { showErr(s.err, err); s.u.mark(areaSharing) }
		})
	})
	s.policy = widget.NewRadioGroup(policyChoices, func(string) {
		if !s.applying {
			s.setAllowVisible()
		}
	})
	s.allow = widget.NewMultiLineEntry()
	s.allow.SetPlaceHolder("Device IDs or account names, one per line")
	s.allow.SetMinRowsVisible(3)
	s.save = widget.NewButtonWithIcon("Apply", theme.ConfirmIcon(), s.tapSave)
	s.supplied = widget.NewLabel("")
	s.supplied.TextStyle.Bold = true
	s.err = errorLabel()
	s.empty = widget.NewLabel("No one has downloaded from you yet.")
	s.list = widget.NewList(
		func() int { return len(s.snap.uploads) },
		func() fyne.CanvasObject {
			return uploadColumns.row(false, "Device", "Title", "0 MiB", "when")
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.snap.uploads) {
				return
			}
			up := s.snap.uploads[id]
			g := o.(*fyne.Container)
			name := up.PeerName
			if name == "" {
				name = up.Peer.Short()
			}
			setText(g.Objects[0].(*widget.Label), name)
			setText(g.Objects[1].(*widget.Label), up.Title)
			setText(g.Objects[2].(*widget.Label), bytesText(up.Bytes))
			when := ago(up.Last)
			if up.Active {
				when = "now, " + rateText(up.Rate)
			}
			setText(g.Objects[3].(*widget.Label), when)
		})
	s.installURL = widget.NewLabel("")
	s.installURL.Selectable = true
	s.installURL.TextStyle.Bold = true
	s.installSum = widget.NewLabel("")
	s.installSum.Selectable = true
	s.installSum.TextStyle.Monospace = true
	s.installSum.Wrapping = fyne.TextWrapBreak
	s.installNote = widget.NewLabel("")
	s.installNote.Wrapping = fyne.TextWrapWord
	// Explanations wrap (a card's subtitle does not, and its width would
	// squeeze the uploads table beside it).
	install := widget.NewCard("Give Kith to a neighbour", "",
		container.NewVBox(wrapped("Someone on your network without Kith can install it from this device."),
			s.installNote, s.installURL, s.installSum))
	settings := container.NewVBox(widget.NewCard("Sharing", "",
		container.NewVBox(wrapped("Titles you hold are offered under these rules unless a title has its own (set it in Library)."),
			s.on, widget.NewLabel("By default, who may copy from me:"), s.policy, s.allow, s.save, s.err)), install)
	header := uploadColumns.row(true, "Device", "Title", "Supplied", "When")
	uploads := container.NewBorder(container.NewVBox(heading("Downloaded from me"), s.supplied, header, s.empty), nil, nil, nil, s.list)
	split := container.NewHSplit(container.NewVScroll(settings), uploads)
	split.Offset = 0.42
	s.obj = split
	s.setAllowVisible()
	return s
}

func (s *sharingScreen) setAllowVisible() {
	if s.policy.Selected == policyChoices[2] {
		s.allow.Show()
	} else {
		s.allow.Hide()
	}
}

func (s *sharingScreen) tapSave() {
	p := policyFromName(s.policy.Selected, s.snap.def)
	if p.Mode == directory.PolicyList {
		p.Allow = nil
		for _, l := range strings.FieldsFunc(s.allow.Text, func(r rune) bool { return r == '\n' || r == ',' }) {
			if l = strings.TrimSpace(l); l != "" {
				p.Allow = append(p.Allow, l)
			}
		}
		if len(p.Allow) == 0 {
			showErr(s.err, fmt.Errorf("name at least one device or account"))
			return
		}
	}
	s.save.Disable()
	s.u.background(func(ctx context.Context) func() {
		err := s.u.b.Sharing.SetDefaultPolicy(ctx, p)
		return func() { s.save.Enable(); showErr(s.err, err); s.u.mark(areaSharing) }
	})
}

func (s *sharingScreen) apply(snap sharingSnapshot) {
	first := s.snap.uploads == nil && s.supplied.Text == ""
	if !snap.installRead {
		snap.install = s.snap.install
	}
	policyChanged := policyName(snap.def) != policyName(s.snap.def) || strings.Join(snap.def.Allow, "\n") != strings.Join(s.snap.def.Allow, "\n")
	s.snap = snap
	s.applying = true
	s.on.SetChecked(snap.enabled)
	if first || policyChanged {
		s.policy.SetSelected(policyName(snap.def))
		s.allow.SetText(strings.Join(snap.def.Allow, "\n"))
		s.setAllowVisible()
	}
	s.applying = false
	s.supplied.SetText(fmt.Sprintf("You have supplied %s to %s.", bytesText(snap.supplied), count(len(snap.uploads), "transfer")))
	if snap.installRead {
		s.applyInstall(snap.install)
	}
	if len(snap.uploads) == 0 {
		s.empty.Show()
	} else {
		s.empty.Hide()
	}
	s.list.Refresh()
}

// applyInstall shows the install page's address and the package checksum.
func (s *sharingScreen) applyInstall(in InstallOffer) {
	switch {
	case in.URL == "":
		s.installNote.SetText("The install page opens when this device is online.")
		s.installURL.Hide()
		s.installSum.Hide()
	case !in.Available && in.Preparing:
		s.installNote.SetText("Preparing Kith's package from this program (a few seconds); the page offers it when it is ready.")
		s.installURL.SetText(in.URL)
		s.installURL.Show()
		s.installSum.Hide()
	case !in.Available:
		note := "No Kith package on this device yet, so the page at this address says it is not available."
		if in.Problem != "" {
			note = "The Kith package cannot be offered: " + in.Problem + "."
		}
		if in.Dir != "" {
			note += " Put Kith.tar.xz (from `make package`) in " + in.Dir + "."
		}
		s.installNote.SetText(note)
		s.installURL.SetText(in.URL)
		s.installURL.Show()
		s.installSum.Hide()
	default:
		s.installNote.SetText(fmt.Sprintf("They open this address in a browser and download Kith (%s). "+
			"The page is not encrypted: they should check that its SHA-256 matches this one.", bytesText(in.Size)))
		s.installURL.SetText(in.URL)
		s.installURL.Show()
		s.installSum.SetText("SHA-256 " + in.SHA256)
		s.installSum.Show()
	}
}

// wrapped is a label whose text wraps at the width it is given.
func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}
