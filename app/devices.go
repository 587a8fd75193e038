package app

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// devicesCard is Settings → Devices: the devices enrolled under this
// device's account, each other one with a Remove button. The directory caps
// an account's devices (device_limit); this is where a user makes room.
type devicesCard struct {
	u       *UI
	obj     *widget.Card
	note    *widget.Label // loading, not signed in, how many
	list    *fyne.Container
	err     *widget.Label
	reload  *widget.Button
	removes map[identity.ID]*widget.Button // the rows' Remove buttons (tests tap them)
	gen     int                            // loads started; an older one's answer is dropped
}

func newDevicesCard(u *UI) *devicesCard {
	c := &devicesCard{u: u, removes: map[identity.ID]*widget.Button{}}
	c.note = widget.NewLabel("")
	c.note.Wrapping = fyne.TextWrapWord
	c.list = container.NewVBox()
	c.err = errorLabel()
	c.reload = widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), c.load)
	c.obj = widget.NewCard("Devices", "The devices signed in to this account",
		container.NewVBox(c.note, c.list, c.err, container.NewHBox(c.reload)))
	return c
}

// load asks the directory for the account's devices and lists them.
func (c *devicesCard) load() {
	c.gen++
	gen := c.gen
	if c.u.b.Session.Account() == "" {
		c.show(nil)
		c.note.SetText("Sign in to see this account's devices.")
		c.reload.Disable()
		return
	}
	c.reload.Disable()
	if len(c.removes) == 0 {
		c.note.SetText("Asking the directory…")
	}
	c.u.background(func(ctx context.Context) func() {
		ds, err := c.u.b.Session.Devices(ctx)
		return func() {
			if gen != c.gen {
				return // a newer load (or a sign-out) has been started since
			}
			c.reload.Enable()
			if err != nil {
				showErr(c.err, fmt.Errorf("could not list the devices: %s", errText(err)))
				return
			}
			showErr(c.err, nil)
			c.show(ds)
		}
	})
}

// show lists ds; nil clears the list.
func (c *devicesCard) show(ds []Device) {
	c.removes = map[identity.ID]*widget.Button{}
	rows := make([]fyne.CanvasObject, 0, len(ds))
	for _, d := range ds {
		name := widget.NewLabel(deviceLine(d))
		name.Truncation = fyne.TextTruncateEllipsis
		var right fyne.CanvasObject
		if !d.This {
			b := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() { c.confirmRemove(d) })
			c.removes[d.ID] = b
			right = b
		}
		rows = append(rows, container.NewBorder(nil, nil, nil, right, name))
	}
	c.list.Objects = rows
	c.list.Refresh()
	switch n := len(ds); {
	case ds == nil:
		c.note.SetText("")
	case n == 1:
		c.note.SetText("Only this device is signed in to the account.")
	default:
		c.note.SetText(count(n, "device") + " are signed in to the account. Remove one you no longer use to make room for a new one.")
	}
}

// deviceLine is a row's text: the name, this device marked, when it was added.
func deviceLine(d Device) string {
	s := d.Name
	if s == "" {
		s = "(unnamed device)"
	}
	if d.This {
		s += " — this device"
	}
	if !d.Added.IsZero() {
		s += " · added " + d.Added.Local().Format("2 Jan 2006")
	}
	return s
}

// confirmRemove asks before revoking d: the directory refuses a revoked
// device for good (it cannot sign in again with its key), so a slip of
// the mouse must not do it.
func (c *devicesCard) confirmRemove(d Device) {
	name := d.Name
	if name == "" {
		name = "this unnamed device"
	}
	c.u.confirmAs("Remove “"+name+"”?",
		fmt.Sprintf("“%s” will be taken out of the account %s for good: the directory refuses its requests, it gets no new licenses, and it cannot sign in again as it is (it would have to be set up anew).", name, c.u.b.Session.Account()),
		"Remove", func() { c.remove(d, name) })
}

func (c *devicesCard) remove(d Device, name string) {
	if b := c.removes[d.ID]; b != nil {
		b.Disable()
	}
	c.u.background(func(ctx context.Context) func() {
		err := c.u.b.Session.RemoveDevice(ctx, d.ID)
		return func() {
			if err != nil {
				showErr(c.err, fmt.Errorf("could not remove “%s”: %s", name, errText(err)))
				if b := c.removes[d.ID]; b != nil {
					b.Enable()
				}
				return
			}
			c.load()
		}
	})
}

// deviceLimitText explains a refused enrolment: the directory's words
// (how many devices the account has), then where the list is. This
// device is not signed in, so it cannot show the list itself: one of the
// account's other devices can, or this one after another is removed.
func deviceLimitText(err error) (string, bool) {
	var de *directory.Error
	if !errors.As(err, &de) || de.Code != directory.CodeDeviceLimit {
		return "", false
	}
	msg := de.Message
	if msg == "" {
		msg = "this account has as many devices as its directory allows"
	}
	return msg + ". On one of the account's other devices, open Settings → Devices and remove one you no longer use, then sign in here again.", true
}
