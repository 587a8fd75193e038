package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// quietButton is a widget.Button whose tap skips Fyne's tap animation while
// quiet reports true (a video plays, or the tap starts one). That
// animation refreshes the button at every frame for 300 ms, and Fyne
// repaints the whole window for each refresh: without a GPU (Mesa llvmpipe
// under Xvfb) 15–25 ms of CPU a repaint, so a tap on Play doubled the
// repaints just as a video started, and its first frames waited 100–160 ms
// for the UI goroutine and were replaced before they were shown.
type quietButton struct {
	widget.Button
	quiet func() bool
}

func newQuietButton(label string, icon fyne.Resource, tapped func(), quiet func() bool) *quietButton {
	b := &quietButton{quiet: quiet}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// Tapped implements fyne.Tappable: the button's action, animated only when
// not quiet.
func (b *quietButton) Tapped(e *fyne.PointEvent) {
	if b.quiet == nil || !b.quiet() {
		b.Button.Tapped(e)
		return
	}
	if !b.Disabled() && b.OnTapped != nil {
		b.OnTapped()
	}
}
