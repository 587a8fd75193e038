package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
)

// showViewer opens (or refreshes) the picture viewer window with the
// current picture title.
func (u *UI) showViewer() {
	st := u.lastPlayer
	if st.Image == nil {
		return
	}
	img := canvas.NewImageFromImage(st.Image)
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScaleSmooth
	if u.viewer == nil {
		u.viewer = u.app.NewWindow(st.Title)
		u.viewer.SetOnClosed(func() { u.viewer = nil })
		v := u.viewer
		v.Canvas().SetOnTypedKey(func(e *fyne.KeyEvent) {
			if e.Name == fyne.KeyEscape { // as any picture viewer
				v.Close()
			}
		})
		b := st.Image.Bounds()
		u.viewer.Resize(fyne.NewSize(float32(min(1000, max(320, b.Dx()))), float32(min(800, max(240, b.Dy())))))
	}
	u.viewer.SetTitle(st.Title + " — Kith")
	u.viewer.SetContent(img)
	u.viewer.Show()
}
