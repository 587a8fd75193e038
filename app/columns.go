package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// columns lays out one row of a table: every column has a fixed width
// except the one at flex, which takes the width left over. A header and
// its rows use the same columns, so they line up whatever the cells say,
// and a cell longer than its column is cut with an ellipsis (cells are
// truncating labels) instead of running into the next column.
type columns struct {
	widths []float32 // per column; the flex column's entry is its minimum
	flex   int
}

// Layout implements fyne.Layout.
func (c columns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	fixed := float32(0)
	for i, w := range c.widths {
		if i != c.flex {
			fixed += w
		}
	}
	fixed += pad * float32(max(0, len(c.widths)-1))
	flexW := max(c.widths[c.flex], size.Width-fixed)
	x := float32(0)
	for i, o := range objs {
		if i >= len(c.widths) {
			o.Hide()
			continue
		}
		w := c.widths[i]
		if i == c.flex {
			w = flexW
		}
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w + pad
	}
}

// MinSize implements fyne.Layout.
func (c columns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	w := theme.Padding() * float32(max(0, len(c.widths)-1))
	for _, x := range c.widths {
		w += x
	}
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(w, h)
}

// row builds a table row of truncating labels with texts, laid out by c.
func (c columns) row(bold bool, texts ...string) *fyne.Container {
	cells := make([]fyne.CanvasObject, len(texts))
	for i, t := range texts {
		l := widget.NewLabel(t)
		l.Truncation = fyne.TextTruncateEllipsis
		l.TextStyle.Bold = bold
		cells[i] = l
	}
	return container.New(c, cells...)
}

// uploadColumns are the Sharing screen's "Downloaded from me" table:
// device, title (the rest of the width), bytes supplied, when.
var uploadColumns = columns{widths: []float32{110, 100, 88, 120}, flex: 1}
