package app

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
)

// Dialogs answer the keyboard: Enter does what the highlighted button does
// (Pay, Done) and Escape dismisses. Fyne's dialogs do neither, and key
// events go either to the focused widget or, with nothing focused, to the
// canvas's one key handler — so a dialog's keys are pushed on u.dialogKeys
// while it is shown (the window's handler sends them to the top one), and
// the text fields of a form submit on Enter and cancel on Escape themselves.

// dialogKeys is what Enter and Escape do in one shown dialog.
type dialogKeys struct {
	enter, escape func()
}

// pushKeys makes k answer Enter and Escape until the returned func is
// called (when the dialog closes). Dialogs shown from inside another's
// callback stack properly: each pops only its own entry.
func (u *UI) pushKeys(k *dialogKeys) (pop func()) {
	u.dialogKeys = append(u.dialogKeys, k)
	return func() {
		for i, x := range u.dialogKeys {
			if x == k {
				u.dialogKeys = append(u.dialogKeys[:i], u.dialogKeys[i+1:]...)
				return
			}
		}
	}
}

// dialogKey handles e for the top dialog; false when no dialog is shown.
func (u *UI) dialogKey(e *fyne.KeyEvent) bool {
	if len(u.dialogKeys) > 0 && u.win.Canvas().Overlays().Top() == nil {
		u.dialogKeys = nil // closed without its callback (never by Kith's own dialogs)
	}
	if len(u.dialogKeys) == 0 {
		return false
	}
	top := u.dialogKeys[len(u.dialogKeys)-1]
	switch e.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		call(top.enter)
	case fyne.KeyEscape:
		call(top.escape)
	}
	return true // other keys do not reach the screens behind the dialog
}

// dialogEntry is a text field of a dialog: Escape cancels the dialog
// (a plain Entry swallows it), Enter in a one-line field submits it.
type dialogEntry struct {
	widget.Entry
	onEscape func()
}

func newDialogEntry(placeholder string, password, multiLine bool) *dialogEntry {
	e := &dialogEntry{}
	e.Password = password
	e.MultiLine = multiLine
	if multiLine {
		e.Wrapping = fyne.TextWrapWord
	}
	e.PlaceHolder = placeholder
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey implements fyne.Focusable.
func (e *dialogEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(k)
}

// askPayment shows the payment form; ok gets what was typed. The card
// name field has the focus, Enter in a one-line field pays, Escape
// cancels.
func (u *UI) askPayment(title string, ok func(*license.Payment)) {
	name := newDialogEntry("", false, false)
	card := newDialogEntry("4242 4242 4242 4242", false, false)
	exp := newDialogEntry("MM/YY", false, false)
	cvc := newDialogEntry("123", true, false)
	addr := newDialogEntry("Street, town, postcode", false, true)
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
	}, u.win)
	for _, e := range []*dialogEntry{name, card, exp, cvc, addr} {
		e.onEscape = d.Hide
		if !e.MultiLine {
			e.OnSubmitted = func(string) { d.Submit() }
		}
	}
	d.SetOnClosed(u.pushKeys(&dialogKeys{enter: d.Submit, escape: d.Hide}))
	d.Resize(fyne.NewSize(460, 420))
	d.Show()
	u.win.Canvas().Focus(name)
}

// showReceipt shows what was bought, for how much, with which card.
// Enter and Escape close it, as Done does.
func (u *UI) showReceipt(name string, rc *directory.Receipt) {
	if rc == nil {
		return
	}
	paid := "Free registration"
	if rc.Amount > 0 {
		paid = "Paid " + money(rc.Amount, rc.Currency)
		if rc.CardLast4 != "" {
			paid += fmt.Sprintf(" with %s ending %s", brandName(rc.CardBrand), rc.CardLast4)
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
	d := dialog.NewCustom("Receipt", "Done", l, u.win)
	d.SetOnClosed(u.pushKeys(&dialogKeys{enter: d.Hide, escape: d.Hide}))
	d.Resize(fyne.NewSize(440, 280))
	d.Show()
	u.win.Canvas().Unfocus() // keys reach the dialog, not a button behind it
}

// brandName is a card brand as a person writes it; the directory reports
// brands in lower case ("visa").
func brandName(b string) string {
	switch strings.ToLower(b) {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "discover":
		return "Discover"
	case "", "card":
		return "card"
	}
	return strings.ToUpper(b[:1]) + b[1:]
}

// confirm asks a yes/no question; ok runs on Yes. Enter answers Yes (the
// highlighted button), Escape No.
func (u *UI) confirm(title, message string, ok func()) { u.confirmAs(title, message, "", ok) }

// confirmAs is confirm with the Yes button saying what it does (action,
// e.g. "Remove") and No saying Cancel; "" keeps Yes and No.
func (u *UI) confirmAs(title, message, action string, ok func()) {
	d := dialog.NewConfirm(title, message, func(yes bool) {
		if yes {
			ok()
		}
	}, u.win)
	if action != "" {
		d.SetConfirmText(action)
		d.SetDismissText("Cancel")
	}
	d.SetOnClosed(u.pushKeys(&dialogKeys{enter: d.Confirm, escape: d.Hide}))
	d.Show()
	u.win.Canvas().Unfocus() // keys reach the dialog, not a button behind it
}
