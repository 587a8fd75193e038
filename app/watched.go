package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// watchedCard is Settings' "Watched folders": folders of this device whose
// media are added at every start (new files added, files added before
// skipped by path, size and mtime). Add one with the folder dialog — its
// files are added at once — or remove one (what was added stays). The
// start-up rescan's progress shows here and in the Music screen's status.
type watchedCard struct {
	u       *UI
	obj     *widget.Card
	rows    *fyne.Container
	add     *widget.Button
	bar     *widget.ProgressBar
	status  *widget.Label
	folders []string

	mu       sync.Mutex
	started  bool // the start-up rescan was started
	scanning bool
}

func newWatchedCard(u *UI) *watchedCard {
	c := &watchedCard{u: u}
	c.rows = container.NewVBox()
	c.add = widget.NewButtonWithIcon("Watch a folder…", theme.FolderOpenIcon(), c.pick)
	c.bar = widget.NewProgressBar()
	c.bar.Hide()
	c.status = wrapped("")
	c.obj = widget.NewCard("Watched folders", "Their media are added to your household at every start: new files are added, files already added are skipped.",
		container.NewVBox(c.rows, container.NewHBox(c.add), c.bar, c.status))
	return c
}

// load shows the watched folders (off the UI goroutine).
func (c *watchedCard) load() {
	m := c.u.b.Media
	if m == nil {
		c.obj.Hide()
		return
	}
	if !c.obj.Visible() {
		c.obj.Show()
		c.relayout()
	}
	c.u.background(func(ctx context.Context) func() {
		fs, err := m.WatchedFolders(ctx)
		return func() {
			if err != nil {
				c.status.SetText(errText(err))
				return
			}
			c.show(fs)
		}
	})
}

func (c *watchedCard) show(folders []string) {
	c.folders = folders
	c.rows.Objects = c.rows.Objects[:0]
	if len(folders) == 0 {
		c.rows.Add(widget.NewLabel("No folder is watched."))
	}
	for _, f := range folders {
		name := widget.NewLabel(f)
		name.Truncation = fyne.TextTruncateEllipsis
		rm := widget.NewButtonWithIcon("", theme.ContentRemoveIcon(), func() { c.unwatch(f) })
		c.rows.Add(container.NewBorder(nil, nil, nil, rm, name))
	}
	c.rows.Refresh()
	c.relayout()
}

// relayout lays the Settings screen out again: the card changed size.
func (c *watchedCard) relayout() {
	if s := c.u.settings; s != nil && s.box != nil {
		s.box.Refresh()
		s.obj.Refresh()
	}
}

func (c *watchedCard) pick() {
	dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil || l == nil {
			return
		}
		c.watch(l.Path())
	}, c.u.win).Show()
}

// watch adds a folder to the watched ones and adds its media now.
func (c *watchedCard) watch(path string) {
	m := c.u.b.Media
	c.u.background(func(ctx context.Context) func() {
		err := m.WatchFolder(ctx, path)
		return func() {
			if err != nil {
				c.status.SetText(errText(err))
				return
			}
			c.load()
			c.rescan()
		}
	})
}

func (c *watchedCard) unwatch(path string) {
	m := c.u.b.Media
	c.u.background(func(ctx context.Context) func() {
		err := m.UnwatchFolder(ctx, path)
		return func() {
			if err != nil {
				c.status.SetText(errText(err))
				return
			}
			c.status.SetText(fmt.Sprintf("No longer watching %s; what was added from it stays.", path))
			c.load()
		}
	})
}

// atStart runs the start-up rescan once, when the device is signed in
// (UI goroutine: the library's first load).
func (c *watchedCard) atStart() {
	if c.u.b.Media == nil || c.u.b.Session.Account() == "" {
		return
	}
	c.mu.Lock()
	first := !c.started
	c.started = true
	c.mu.Unlock()
	if first {
		c.rescan()
	}
}

// rescan adds what is new in the watched folders, showing progress
// (UI goroutine).
func (c *watchedCard) rescan() {
	m := c.u.b.Media
	c.mu.Lock()
	busy := c.scanning
	c.scanning = true
	c.mu.Unlock()
	if m == nil || busy {
		return
	}
	var last time.Time
	var lastMu sync.Mutex
	progress := func(p AddProgress) {
		lastMu.Lock()
		if now := time.Now(); now.Sub(last) < 200*time.Millisecond && p.FilesDone < p.Files {
			lastMu.Unlock()
			return
		}
		last = time.Now()
		lastMu.Unlock()
		c.u.do(func() {
			if p.Files == 0 {
				return
			}
			if !c.bar.Visible() {
				c.bar.Show()
				c.relayout()
			}
			c.bar.SetValue(float64(p.FilesDone) / float64(p.Files))
			msg := fmt.Sprintf("Watched folders: %d of %s checked · %s/s", p.FilesDone, count(p.Files, "file"), mib(int64(p.Rate)))
			c.status.SetText(msg)
			c.u.music.status.SetText(msg)
		})
	}
	c.u.background(func(ctx context.Context) func() {
		res, err := m.Rescan(ctx, progress)
		c.mu.Lock()
		c.scanning = false
		c.mu.Unlock()
		if res == (AddResult{}) && err == nil {
			return nil // nothing watched, or nothing in it: nothing to say
		}
		return func() {
			c.bar.Hide()
			c.relayout()
			msg := fmt.Sprintf("Watched folders: added %d, already there %d, skipped %d.", res.Added, res.Existing, res.Skipped)
			if err != nil {
				msg += " " + errText(err)
			}
			c.status.SetText(msg)
			c.u.music.status.SetText(msg)
			if res.Added > 0 {
				c.u.music.reload()
				c.u.mark(areaLibrary)
			}
		}
	})
}
