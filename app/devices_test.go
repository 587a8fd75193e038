package app

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
)

// tapDialogButton taps the button labelled label in the top overlay.
func tapDialogButton(t *testing.T, u *UI, label string) {
	t.Helper()
	top := u.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatalf("no dialog to tap %q in", label)
	}
	var found *widget.Button
	walkVisible(top, func(x fyne.CanvasObject) bool {
		if b, ok := x.(*widget.Button); ok && b.Text == label {
			found = b
		}
		return found == nil
	})
	if found == nil {
		t.Fatalf("no %q button in the dialog: %q", label, texts(top))
	}
	test.Tap(found)
}

// Settings → Devices lists the account's devices (this one marked, without
// a Remove button); Remove asks first, naming the device (Cancel keeps
// it), the dialog's Remove removes it and the list is asked for again; a
// refused removal shows the directory's words and keeps the row.
func TestSettingsDevicesListAndRemove(t *testing.T) {
	w := newFakeWorld()
	added := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w.devices = []Device{{ID: "ATTIC-DEVICE", Name: "attic", Added: added}, {ID: "PHONE-DEVICE", Name: "phone", Added: added}}
	u := newTestUI(t, w)
	signUp(t, u)
	u.Show(ViewSettings)
	c := u.settings.devices
	if !shows(u, "test-host — this device") || !shows(u, "attic · added 1 Dec 2026") || !shows(u, "phone") {
		t.Fatalf("devices card: %q", texts(c.obj))
	}
	if len(c.removes) != 2 || c.removes[w.me] != nil || c.removes["ATTIC-DEVICE"] == nil {
		t.Fatalf("Remove buttons for %v; want attic and phone, not this device", keys(c.removes))
	}

	test.Tap(c.removes["ATTIC-DEVICE"])
	if !shows(u, "Remove “attic”?") || !shows(u, "for good") {
		t.Fatalf("no confirmation naming attic: %q", texts(u.win.Canvas().Overlays().Top()))
	}
	tapDialogButton(t, u, "Cancel")
	if len(w.removed) != 0 || !shows(u, "attic") {
		t.Fatalf("No removed it: removed %v, %q", w.removed, texts(c.obj))
	}

	calls := w.devCalls
	test.Tap(c.removes["ATTIC-DEVICE"])
	tapDialogButton(t, u, "Remove")
	if len(w.removed) != 1 || w.removed[0] != "ATTIC-DEVICE" {
		t.Fatalf("removed %v; want attic", w.removed)
	}
	if w.devCalls != calls+1 || shows(u, "attic") || !shows(u, "phone") || c.removes["ATTIC-DEVICE"] != nil {
		t.Fatalf("list after removing attic (%d loads): %q", w.devCalls-calls, texts(c.obj))
	}

	w.mu.Lock()
	w.removeErr = &directory.Error{Status: 403, Code: directory.CodeForbidden, Message: "the directory is read-only today"}
	w.mu.Unlock()
	test.Tap(c.removes["PHONE-DEVICE"])
	tapDialogButton(t, u, "Remove")
	if !shows(u, "could not remove “phone”: the directory is read-only today") || !shows(u, "phone") ||
		c.removes["PHONE-DEVICE"].Disabled() {
		t.Fatalf("a refused removal: %q", texts(c.obj))
	}

	w.mu.Lock()
	w.devicesErr = &directory.Error{Status: 503, Code: "unavailable", Message: "the directory is busy"}
	w.mu.Unlock()
	test.Tap(c.reload)
	if !shows(u, "could not list the devices: the directory is busy") {
		t.Fatalf("a refused listing: %q", texts(c.obj))
	}
}

// A sign-in refused for the account's device cap shows the directory's
// words and says where to make room: Settings → Devices on another of the
// account's devices (this one is not signed in, so it cannot list them).
func TestSignInDeviceLimitPointsToDevices(t *testing.T) {
	w := newFakeWorld()
	w.accounts["household"] = "correct horse battery"
	w.signInErr = &directory.Error{Status: 403, Code: directory.CodeDeviceLimit,
		Message: "this account already has 32 devices; remove one in Settings"}
	u := newTestUI(t, w)
	test.Type(u.welcome.account, "household")
	test.Type(u.welcome.password, "correct horse battery")
	test.Tap(u.welcome.signIn)
	if u.View() != ViewWelcome || !shows(u, "this account already has 32 devices") ||
		!shows(u, "On one of the account's other devices, open Settings → Devices") {
		t.Fatalf("device limit: view %q, %q", u.View(), texts(u.welcome.obj))
	}
}

func keys(m map[identity.ID]*widget.Button) []identity.ID {
	var out []identity.ID
	for k := range m {
		out = append(out, k)
	}
	return out
}
