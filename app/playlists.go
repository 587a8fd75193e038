package app

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/sealed"
)

// playlistBar is the Music screen's playlists: pick one to show it in the
// tracks column; create, rename, delete; add the album shown; move the
// selected track up or down, remove it; play from it.
type playlistBar struct {
	s         *musicScreen
	obj       fyne.CanvasObject // the playlist row; edit holds the item buttons
	edit      fyne.CanvasObject
	sel       *widget.Select
	lists     []Playlist
	cur       *Playlist // nil: the tracks column shows the album (or the queue)
	showQueue bool      // the tracks column shows the player's queue
	items     []string  // title IDs of cur
	at        int       // selected item, -1 none
	add, ren  *widget.Button
	del       *widget.Button
	up, down  *widget.Button
	rm        *widget.Button
}

func newPlaylistBar(s *musicScreen) *playlistBar {
	p := &playlistBar{s: s, at: -1}
	p.sel = widget.NewSelect(nil, func(name string) { p.choose(name) })
	p.sel.PlaceHolder = "Playlists"
	newB := widget.NewButtonWithIcon("New…", theme.ContentAddIcon(), p.create)
	p.add = widget.NewButtonWithIcon("Add album", theme.ListIcon(), p.addAlbum)
	p.ren = widget.NewButtonWithIcon("", theme.DocumentCreateIcon(), p.rename)
	p.del = widget.NewButtonWithIcon("", theme.DeleteIcon(), p.remove)
	p.up = widget.NewButtonWithIcon("", theme.MoveUpIcon(), func() { p.move(-1) })
	p.down = widget.NewButtonWithIcon("", theme.MoveDownIcon(), func() { p.move(1) })
	p.rm = widget.NewButtonWithIcon("", theme.ContentRemoveIcon(), p.removeItem)
	p.obj = container.NewHBox(p.sel, newB, p.add, p.ren, p.del)
	p.edit = container.NewHBox(p.up, p.down, p.rm)
	p.buttons()
	return p
}

// buttons enables what applies now.
func (p *playlistBar) buttons() {
	en := func(b *widget.Button, on bool) {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	en(p.add, p.cur != nil && p.s.albumAt >= 0)
	en(p.ren, p.cur != nil)
	en(p.del, p.cur != nil)
	at, n := p.at, len(p.items)
	if p.showQueue {
		at, n = p.s.queueSelected(), len(p.s.queue)
	}
	item := (p.cur != nil || p.showQueue) && at >= 0 && at < n
	en(p.up, item && at > 0)
	en(p.down, item && at < n-1)
	en(p.rm, item)
}

// load reads the playlists (and the current one's items) off the UI goroutine.
func (p *playlistBar) load(selectID int64) {
	m := p.s.u.b.Media
	if m == nil {
		return
	}
	if selectID == 0 && p.cur != nil {
		selectID = p.cur.ID
	}
	p.s.u.background(func(ctx context.Context) func() {
		ls, err := m.Playlists(ctx)
		var items []string
		var cur *Playlist
		for i := range ls {
			if ls[i].ID == selectID {
				cur = &ls[i]
				items, err = m.PlaylistItems(ctx, selectID)
			}
		}
		return func() {
			if err != nil {
				p.s.status.SetText(errText(err))
			}
			p.lists, p.cur, p.items = ls, cur, items
			if p.at >= len(items) {
				p.at = len(items) - 1
			}
			names := []string{"Albums", "Queue"}
			for _, l := range ls {
				names = append(names, l.Name)
			}
			p.sel.SetOptions(names)
			if cur != nil {
				p.sel.Selected = cur.Name
			} else if p.showQueue {
				p.sel.Selected = "Queue"
			} else {
				p.sel.Selected = ""
			}
			p.sel.Refresh()
			p.buttons()
			p.s.showTracks()
		}
	})
}

func (p *playlistBar) choose(name string) {
	p.cur, p.items, p.at = nil, nil, -1
	p.showQueue = name == "Queue"
	p.s.qKey = 0
	p.s.trackL.UnselectAll()
	for i := range p.lists {
		if p.lists[i].Name == name {
			p.load(p.lists[i].ID)
			return
		}
	}
	p.buttons()
	p.s.showTracks()
}

func (p *playlistBar) create() {
	e := widget.NewEntry()
	e.SetPlaceHolder("Playlist name")
	dialog.ShowForm("New playlist", "Create", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", e)}, func(ok bool) {
		if ok {
			p.createNamed(e.Text)
		}
	}, p.s.u.win)
}

func (p *playlistBar) createNamed(name string) {
	m := p.s.u.b.Media
	p.s.u.background(func(ctx context.Context) func() {
		id, err := m.CreatePlaylist(ctx, name)
		return func() {
			if err != nil {
				p.s.status.SetText(errText(err))
				return
			}
			p.load(id)
		}
	})
}

func (p *playlistBar) rename() {
	if p.cur == nil {
		return
	}
	e := widget.NewEntry()
	e.SetText(p.cur.Name)
	id := p.cur.ID
	dialog.ShowForm("Rename playlist", "Rename", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", e)}, func(ok bool) {
		if ok {
			p.renameTo(id, e.Text)
		}
	}, p.s.u.win)
}

func (p *playlistBar) renameTo(id int64, name string) {
	m := p.s.u.b.Media
	p.s.u.background(func(ctx context.Context) func() {
		err := m.RenamePlaylist(ctx, id, name)
		return func() {
			if err != nil {
				p.s.status.SetText(errText(err))
			}
			p.load(id)
		}
	})
}

func (p *playlistBar) remove() {
	if p.cur == nil {
		return
	}
	id, name := p.cur.ID, p.cur.Name
	p.s.u.confirm("Delete playlist", fmt.Sprintf("Delete the playlist %q? Its titles stay in your library.", name),
		func() { p.deleteID(id) })
}

func (p *playlistBar) deleteID(id int64) {
	m := p.s.u.b.Media
	p.s.u.background(func(ctx context.Context) func() {
		err := m.DeletePlaylist(ctx, id)
		return func() {
			if err != nil {
				p.s.status.SetText(errText(err))
			}
			p.cur, p.items, p.at = nil, nil, -1
			p.load(0)
		}
	})
}

// save stores items as the current playlist's titles.
func (p *playlistBar) save(items []string) {
	if p.cur == nil {
		return
	}
	m, id := p.s.u.b.Media, p.cur.ID
	p.items = items
	p.buttons()
	p.s.showTracks()
	p.s.u.background(func(ctx context.Context) func() {
		err := m.SetPlaylistItems(ctx, id, items)
		return func() {
			if err != nil {
				p.s.status.SetText(errText(err))
			}
			p.load(id)
		}
	})
}

func (p *playlistBar) addAlbum() {
	s := p.s
	if p.cur == nil || s.albumAt < 0 || s.albumAt >= len(s.albums) {
		return
	}
	items := append([]string(nil), p.items...)
	for _, i := range s.albums[s.albumAt].Tracks {
		items = append(items, s.ix.tracks[i].TitleID)
	}
	p.save(items)
}

func (p *playlistBar) move(d int) {
	if p.showQueue {
		p.s.moveQueued(d)
		return
	}
	j := p.at + d
	if p.cur == nil || p.at < 0 || j < 0 || j >= len(p.items) {
		return
	}
	items := append([]string(nil), p.items...)
	items[p.at], items[j] = items[j], items[p.at]
	p.at = j
	p.save(items)
}

func (p *playlistBar) removeItem() {
	if p.showQueue {
		p.s.removeQueued()
		return
	}
	if p.cur == nil || p.at < 0 || p.at >= len(p.items) {
		return
	}
	items := append(append([]string(nil), p.items[:p.at]...), p.items[p.at+1:]...)
	p.at = min(p.at, len(items)-1)
	p.save(items)
}

// track is the i-th item as a track (a title not in the library shows its ID).
func (p *playlistBar) track(i int) Track {
	id := p.items[i]
	if t, ok := p.s.ix.byID[id]; ok {
		return p.s.ix.tracks[t]
	}
	return Track{TitleID: id, Name: id}
}

// queue is the playlist as content IDs from item i (titles not in the
// library are left out; the ones held partly fetch as they play).
func (p *playlistBar) queue(from int) ([]sealed.ContentID, int) {
	var q []sealed.ContentID
	start := 0
	for i := range p.items {
		t, ok := p.s.ix.byID[p.items[i]]
		if !ok {
			continue
		}
		if i == from {
			start = len(q)
		}
		q = append(q, p.s.ix.tracks[t].Content)
	}
	return q, start
}
