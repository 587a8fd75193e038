package app

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// NowPlaying is the bar at the bottom of the window: artwork, title,
// transport buttons, a seek slider with elapsed and remaining time, volume
// and a status ("buffering…", "no audio output available", errors). It is
// passive: it shows what SetState gives it and reports taps through its
// On… funcs, which may be nil.
type NowPlaying struct {
	OnPlayPause func()
	OnNext      func()
	OnPrevious  func()
	OnSeek      func(time.Duration)
	OnVolume    func(float64)
	OnView      func() // show the picture (viewer) or the video (video view)

	st      PlayerState
	setting bool // SetState is moving the sliders: do not report them
	art     *canvas.Image
	title   *widget.Label
	artist  *widget.Label
	status  *widget.Label
	play    *quietButton // quiet (no tap animation) while a video plays
	prev    *quietButton
	next    *quietButton
	view    *quietButton
	seek    *widget.Slider
	elapsed *widget.Label
	remain  *widget.Label
	volume  *widget.Slider
	obj     fyne.CanvasObject
}

// NewNowPlaying builds an empty bar.
func NewNowPlaying() *NowPlaying {
	n := &NowPlaying{}
	n.art = canvas.NewImageFromResource(Icon)
	n.art.FillMode = canvas.ImageFillContain
	n.art.SetMinSize(fyne.NewSquareSize(56))
	n.title = widget.NewLabel("Nothing playing")
	n.title.TextStyle.Bold = true
	n.title.Truncation = fyne.TextTruncateEllipsis
	n.artist = widget.NewLabel("Pick a title in your library")
	n.artist.Truncation = fyne.TextTruncateEllipsis
	n.status = widget.NewLabel("")
	n.status.Hide()
	video := func() bool { return n.st.Video }
	n.prev = newQuietButton("", theme.MediaSkipPreviousIcon(), func() { call(n.OnPrevious) }, video)
	n.play = newQuietButton("", theme.MediaPlayIcon(), func() { call(n.OnPlayPause) }, video)
	n.play.Importance = widget.HighImportance
	n.next = newQuietButton("", theme.MediaSkipNextIcon(), func() { call(n.OnNext) }, video)
	n.view = newQuietButton("View", theme.VisibilityIcon(), func() { call(n.OnView) }, video)
	n.view.Hide()
	n.seek = widget.NewSlider(0, 1)
	n.seek.Step = 0
	n.seek.OnChangeEnded = func(v float64) {
		if !n.setting && n.OnSeek != nil && n.st.Duration > 0 {
			n.OnSeek(time.Duration(v * float64(n.st.Duration)))
		}
	}
	n.elapsed = widget.NewLabel("0:00")
	n.remain = widget.NewLabel("-0:00")
	n.volume = widget.NewSlider(0, 1)
	n.volume.Step = 0.01
	n.volume.Value = 1
	n.volume.OnChanged = func(v float64) {
		if !n.setting && n.OnVolume != nil {
			n.OnVolume(v)
		}
	}
	vol := container.NewBorder(nil, nil, widget.NewIcon(theme.VolumeUpIcon()), nil, n.volume)
	volBox := container.NewGridWrap(fyne.NewSize(150, 36), vol)
	left := container.NewBorder(nil, nil, n.art, nil,
		container.NewVBox(n.title, n.artist))
	buttons := container.NewHBox(n.prev, n.play, n.next)
	seekRow := container.NewBorder(nil, nil, n.elapsed, n.remain, n.seek)
	middle := container.NewVBox(container.NewCenter(buttons), seekRow)
	right := container.NewHBox(n.status, n.view, volBox)
	bar := container.NewGridWithColumns(3, left, middle, container.NewHBox(layout.NewSpacer(), right))
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHeaderBackground))
	n.obj = container.NewStack(bg, container.NewVBox(widget.NewSeparator(), container.NewPadded(bar)))
	n.SetState(PlayerState{Volume: 1})
	return n
}

func call(f func()) {
	if f != nil {
		f()
	}
}

// Object is the bar as a canvas object.
func (n *NowPlaying) Object() fyne.CanvasObject { return n.obj }

// State is what the bar shows now.
func (n *NowPlaying) State() PlayerState { return n.st }

// Title is the title shown (for tests and accessibility).
func (n *NowPlaying) Title() string { return n.title.Text }

// Status is the status text shown, "" when none.
func (n *NowPlaying) Status() string { return n.status.Text }

// SetPlaying switches the play button between play and pause.
func (n *NowPlaying) SetPlaying(p bool) {
	if p {
		n.play.SetIcon(theme.MediaPauseIcon())
	} else {
		n.play.SetIcon(theme.MediaPlayIcon())
	}
}

// SetState shows st.
func (n *NowPlaying) SetState(st PlayerState) {
	old := n.st
	n.st = st
	n.setting = true
	defer func() { n.setting = false }()
	if st.Title == "" {
		setText(n.title, "Nothing playing")
		setText(n.artist, "Pick a title in your library")
	} else {
		setText(n.title, st.Title)
		setText(n.artist, st.Artist)
	}
	if st.Playing != old.Playing || n.st.Title == "" {
		n.SetPlaying(st.Playing)
	}
	loaded := st.Title != ""
	for _, b := range []*quietButton{n.play, n.prev, n.next} {
		if loaded {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	if st.Image != nil {
		if old.Image != st.Image {
			n.art.Resource = nil
			n.art.Image = st.Image
			n.art.Refresh()
		}
	} else if old.Image != nil || n.art.Resource == nil {
		n.art.Image = nil
		n.art.Resource = Icon
		n.art.Refresh()
	}
	switch {
	case st.Image != nil:
		setButtonText(&n.view.Button, "View")
		n.view.Show()
	case st.Video:
		setButtonText(&n.view.Button, "Video")
		n.view.Show()
	default:
		n.view.Hide()
	}
	if st.Duration > 0 {
		n.seek.Enable()
		n.seek.SetValue(float64(st.Position) / float64(st.Duration))
		setText(n.elapsed, clock(st.Position))
		setText(n.remain, "-"+clock(st.Duration-st.Position))
	} else {
		n.seek.SetValue(0)
		n.seek.Disable()
		setText(n.elapsed, clock(st.Position))
		setText(n.remain, "")
	}
	if n.volume.Value != st.Volume {
		n.volume.SetValue(st.Volume)
	}
	status := ""
	switch {
	case st.Err != "":
		status = st.Err
		n.status.Importance = widget.DangerImportance
	case st.NoOutput:
		status = "No audio output available"
		n.status.Importance = widget.WarningImportance
	case st.Buffering:
		status = "Buffering…"
		n.status.Importance = widget.MediumImportance
	}
	setText(n.status, status)
	if status == "" {
		n.status.Hide()
	} else {
		n.status.Show()
	}
}

// setButtonText sets a button's text only when it changes (a refresh redraws).
func setButtonText(b *widget.Button, s string) {
	if b.Text != s {
		b.SetText(s)
	}
}
