package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/sealed"
)

// ViewMusic is the household's own music: Artists → Albums → Tracks.
const ViewMusic = "music"

// musicScreen shows the tracks this device holds by artist and album, with
// artwork, a search over title, artist and album, and adding files.
type musicScreen struct {
	u   *UI
	obj fyne.CanvasObject

	search            *widget.Entry
	count, status     *widget.Label
	artistL, albumL   *widget.List
	trackL            *widget.List
	addFiles, addDir  *widget.Button
	play              *widget.Button
	remove            *widget.Button
	resume            *widget.Button
	enqueue, next     *widget.Button
	queue             []QueueItem // the player's, as last applied
	qIndex            int
	qKey              uint64 // the selected queue item (0 none)
	shuffle           *widget.Check
	repeat            *widget.Select
	ix                *musicIndex
	sel               []int    // tracks matching the search
	artists           []string // "" first: every artist
	albums            []album
	artist            string
	albumAt, albumSet int
	art               map[string]image.Image // by title ID; nil value = none
	artMu             sync.Mutex
	adding            context.CancelFunc
	pl                *playlistBar
	picking           *filePick // the last "Add files" chooser shown
}

func newMusicScreen(u *UI) *musicScreen {
	s := &musicScreen{u: u, ix: newMusicIndex(nil), art: map[string]image.Image{}, albumAt: -1}
	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Search title, artist or album")
	s.search.OnChanged = func(string) { s.apply() }
	s.count, s.status = widget.NewLabel(""), widget.NewLabel("")
	s.status.Truncation = fyne.TextTruncateEllipsis
	s.addFiles = widget.NewButtonWithIcon("Add files…", theme.FileAudioIcon(), s.pickFile)
	s.addDir = widget.NewButtonWithIcon("Add folder…", theme.FolderOpenIcon(), s.pickFolder)
	s.play = widget.NewButtonWithIcon("Play", theme.MediaPlayIcon(), func() {
		if s.pl.showQueue {
			s.playQueued()
			return
		}
		if s.pl.cur != nil {
			s.playPlaylist(max(0, s.pl.at))
			return
		}
		s.playAlbum(0)
	})
	s.play.Disable()
	s.resume = widget.NewButtonWithIcon("", theme.MediaFastForwardIcon(), func() {
		if st := u.b.Player.State(); st.Resume > 0 {
			u.b.Player.Seek(st.Resume)
		}
	})
	s.resume.Hide()
	s.enqueue = widget.NewButtonWithIcon("Add to queue", theme.ContentAddIcon(), func() { s.addToQueue(false) })
	s.next = widget.NewButtonWithIcon("Play next", theme.MediaSkipNextIcon(), func() { s.addToQueue(true) })
	s.remove = widget.NewButtonWithIcon("Remove from this device", theme.DeleteIcon(), s.confirmRemove)
	s.shuffle = widget.NewCheck("Shuffle", func(on bool) { u.b.Player.SetShuffle(on) })
	s.repeat = widget.NewSelect(repeatNames, func(v string) {
		for i, n := range repeatNames {
			if n == v {
				u.b.Player.SetRepeat(Repeat(i))
			}
		}
	})
	s.repeat.SetSelectedIndex(0)

	s.artistL = widget.NewList(func() int { return len(s.artists) },
		func() fyne.CanvasObject { return widget.NewLabel("Artist name") },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			name := s.artists[id]
			if name == "" {
				name = "All artists"
			}
			o.(*widget.Label).SetText(name)
		})
	s.artistL.OnSelected = func(id widget.ListItemID) { s.artist = s.artists[id]; s.showAlbums() }

	s.albumL = widget.NewList(func() int { return len(s.albums) },
		func() fyne.CanvasObject {
			img := canvas.NewImageFromImage(nil)
			img.FillMode = canvas.ImageFillContain
			img.SetMinSize(fyne.NewSize(56, 56))
			name := widget.NewLabel("Album name")
			name.TextStyle.Bold = true
			// Clipped, not ellipsised: Fyne shapes an ellipsised label's
			// whole text with a new shaper at every refresh (most of a
			// search keystroke's time over 50,000 tracks).
			name.Truncation = fyne.TextTruncateClip
			sub := widget.NewLabel("Artist · year")
			sub.Truncation = fyne.TextTruncateClip
			return container.NewBorder(nil, nil, img, nil, container.NewVBox(name, sub))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(s.albums) {
				return
			}
			al := s.albums[id]
			row := o.(*fyne.Container)
			img := row.Objects[1].(*canvas.Image)
			img.Image = s.artwork(al)
			if img.Image == nil {
				img.Resource, img.Image = theme.MediaMusicIcon(), nil
			} else {
				img.Resource = nil
			}
			img.Refresh()
			texts := row.Objects[0].(*fyne.Container)
			texts.Objects[0].(*widget.Label).SetText(al.Name)
			year := ""
			if al.Year > 0 {
				year = fmt.Sprint(al.Year)
			}
			sub := dotted(al.Artist, year, count(len(al.Tracks), "track"))
			texts.Objects[1].(*widget.Label).SetText(sub)
		})
	s.albumL.OnSelected = func(id widget.ListItemID) { s.albumAt = id; s.showTracks() }

	s.trackL = widget.NewList(func() int {
		if s.pl.cur != nil {
			return len(s.pl.items)
		}
		if s.pl.showQueue {
			return len(s.queue)
		}
		return s.albumLen()
	},
		func() fyne.CanvasObject {
			n := widget.NewLabel("00")
			name := widget.NewLabel("Track name")
			name.Truncation = fyne.TextTruncateClip
			return container.NewBorder(nil, nil, n, widget.NewLabel("00:00"), name)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			var t Track
			num := ""
			switch {
			case s.pl.cur != nil && id < len(s.pl.items):
				t = s.pl.track(id)
				num = fmt.Sprintf("%2d", id+1)
			case s.pl.showQueue && id < len(s.queue):
				t = s.queueTrack(id)
				num = fmt.Sprintf("%2d", id+1)
				if id == s.qIndex {
					num = "▶"
				}
			case s.pl.cur == nil && s.albumAt >= 0 && s.albumAt < len(s.albums) && id < len(s.albums[s.albumAt].Tracks):
				t = s.ix.tracks[s.albums[s.albumAt].Tracks[id]]
				if t.Track > 0 {
					num = fmt.Sprintf("%2d", t.Track)
				}
			default:
				return
			}
			row := o.(*fyne.Container)
			row.Objects[1].(*widget.Label).SetText(num)
			row.Objects[0].(*widget.Label).SetText(t.Name)
			dur := ""
			if t.Duration > 0 {
				dur = clock(t.Duration)
			}
			row.Objects[2].(*widget.Label).SetText(dur)
		})
	s.trackL.OnSelected = func(id widget.ListItemID) {
		if s.pl.showQueue { // select the item (move, remove, play it now)
			s.selectQueued(id)
			return
		}
		if s.pl.cur != nil { // a playlist: select the item (move, remove, play from it)
			s.pl.at = id
			s.pl.buttons()
			return
		}
		s.playAlbum(id)
		s.trackL.UnselectAll()
	}
	s.pl = newPlaylistBar(s)

	top := container.NewBorder(nil, nil, nil, container.NewHBox(s.addFiles, s.addDir, s.remove), s.search)
	right := container.NewHSplit(s.albumL,
		container.NewBorder(container.NewVBox(s.pl.obj,
			container.NewHBox(s.play, s.next, s.enqueue, s.pl.edit), // three short rows: the album column keeps its width
			container.NewHBox(s.shuffle, s.repeat, s.resume)), nil, nil, nil, s.trackL))
	right.Offset = 0.4
	cols := container.NewHSplit(s.artistL, right)
	cols.Offset = 0.2
	s.obj = container.NewBorder(top, container.NewBorder(nil, nil, nil, s.count, s.status), nil, nil, cols)
	return s
}

func (s *musicScreen) albumLen() int {
	if s.albumAt < 0 || s.albumAt >= len(s.albums) {
		return 0
	}
	return len(s.albums[s.albumAt].Tracks)
}

// repeatNames are the repeat modes as the selector shows them, by Repeat value.
var repeatNames = []string{"Repeat off", "Repeat one", "Repeat all"}

// applyPlayer shows the player's shuffle and repeat and offers to continue
// a title where it stopped (UI goroutine); the
// widgets' callbacks only run when the value changes.
func (s *musicScreen) applyPlayer(st PlayerState) {
	s.applyQueue(st)
	if st.Resume > 0 {
		s.resume.SetText("Continue from " + clock(st.Resume))
		s.resume.Show()
	} else {
		s.resume.Hide()
	}
	if s.shuffle.Checked != st.Shuffle {
		s.shuffle.SetChecked(st.Shuffle)
	}
	if int(st.Repeat) < len(repeatNames) && s.repeat.Selected != repeatNames[st.Repeat] {
		s.repeat.SetSelectedIndex(int(st.Repeat))
	}
}

// shown asks for the tracks (the screen was opened).
func (s *musicScreen) shown() {
	if s.u.b.Media == nil {
		s.status.SetText("Adding your own media needs a directory this device can publish to.")
		s.addFiles.Disable()
		s.addDir.Disable()
		return
	}
	s.u.mark(areaMusic)
	s.pl.load(0)
	if s.u.sync {
		s.u.pump(s.u.ctx)
	}
}

// reload asks for the tracks again (after adding).
func (s *musicScreen) reload() { s.shown() }

// applyIndex shows a loaded track list (UI goroutine).
func (s *musicScreen) applyIndex(ix *musicIndex, err error) {
	if err != nil {
		s.status.SetText(errText(err))
		return
	}
	s.ix = ix
	s.apply()
}

// apply filters by the search text and rebuilds the columns.
func (s *musicScreen) apply() {
	s.sel = s.ix.filter(s.search.Text)
	s.artists = append([]string{""}, s.ix.artists(s.sel)...)
	s.count.SetText(count(len(s.sel), "track"))
	s.artistL.Refresh()
	s.showAlbums()
}

func (s *musicScreen) showAlbums() {
	s.albums = s.ix.albums(s.sel, s.artist)
	s.albumAt = -1
	if len(s.albums) > 0 {
		s.albumAt = 0
	}
	s.albumL.Refresh()
	s.loadArtwork()
	s.showTracks()
}

func (s *musicScreen) showTracks() {
	s.pl.buttons()
	if s.pl.showQueue && s.queueSelected() >= 0 || !s.pl.showQueue && (s.albumAt >= 0 || s.pl.cur != nil && len(s.pl.items) > 0) {
		s.play.Enable()
	} else {
		s.play.Disable()
	}
	s.trackL.Refresh()
}

// artwork is an album's picture: its first track's, when loaded.
func (s *musicScreen) artwork(al album) image.Image {
	s.artMu.Lock()
	defer s.artMu.Unlock()
	for _, i := range al.Tracks {
		if img := s.art[s.ix.tracks[i].TitleID]; img != nil {
			return img
		}
	}
	return nil
}

// loadArtwork fetches the pictures of the albums shown that are not
// loaded yet: the first of an album's tracks (up to 4) that has one.
func (s *musicScreen) loadArtwork() {
	if s.u.b.Media == nil {
		return
	}
	var want [][]string
	s.artMu.Lock()
	for _, al := range s.albums {
		if len(want) == 200 {
			break
		}
		var ids []string
		for _, i := range al.Tracks[:min(4, len(al.Tracks))] {
			id := s.ix.tracks[i].TitleID
			if _, done := s.art[id]; !done {
				s.art[id] = nil
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			want = append(want, ids)
		}
	}
	s.artMu.Unlock()
	if len(want) == 0 {
		return
	}
	s.u.background(func(ctx context.Context) func() {
		got := map[string]image.Image{}
		for _, ids := range want {
			for _, id := range ids {
				b, err := s.u.b.Media.Artwork(ctx, id)
				if err != nil {
					continue
				}
				if img, err := jpeg.Decode(bytes.NewReader(b)); err == nil {
					got[id] = img
					break
				}
			}
		}
		if len(got) == 0 {
			return nil // nothing new to draw
		}
		return func() {
			s.artMu.Lock()
			for id, img := range got {
				s.art[id] = img
			}
			s.artMu.Unlock()
			s.albumL.Refresh()
		}
	})
}

// confirmRemove deletes the shown album's ciphertext from this device
// (licenses kept) after asking.
func (s *musicScreen) confirmRemove() {
	if s.albumAt < 0 || s.albumAt >= len(s.albums) || s.u.b.Media == nil {
		return
	}
	al := s.albums[s.albumAt]
	var cs []sealed.ContentID
	for _, i := range al.Tracks {
		cs = append(cs, s.ix.tracks[i].Content)
	}
	s.u.confirm("Remove from this device",
		fmt.Sprintf("Delete the %s of %q from this device? You keep them: they download again when played.", count(len(cs), "track"), al.Name),
		func() { s.removeContent(cs) })
}

func (s *musicScreen) removeContent(cs []sealed.ContentID) {
	s.u.background(func(ctx context.Context) func() {
		err := s.u.b.Media.RemoveFromDevice(ctx, cs)
		return func() {
			if err != nil {
				s.status.SetText(errText(err))
				return
			}
			s.status.SetText(fmt.Sprintf("Removed %s from this device; they download again when played.", count(len(cs), "track")))
			s.reload()
		}
	})
}

// showPlayErr shows why a title did not play in the screen's status line.
func (s *musicScreen) showPlayErr(err error) {
	if err != nil {
		s.status.SetText(errText(err))
	}
}

// playPlaylist plays the current playlist from item i.
func (s *musicScreen) playPlaylist(i int) {
	q, start := s.pl.queue(i)
	if len(q) == 0 {
		s.status.SetText("None of this playlist's titles is in your library.")
		return
	}
	s.u.play(q, start, s.showPlayErr)
}

// playAlbum plays the selected album from track i.
func (s *musicScreen) playAlbum(i int) {
	if s.albumAt < 0 || s.albumAt >= len(s.albums) {
		return
	}
	var q []sealed.ContentID
	for _, ti := range s.albums[s.albumAt].Tracks {
		q = append(q, s.ix.tracks[ti].Content)
	}
	s.u.play(q, i, s.showPlayErr)
}

func (s *musicScreen) pickFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		r.Close()
		s.pickBeside(r.URI().Path())
	}, s.u.win)
	d.SetFilter(storage.NewExtensionFileFilter(mediaExts))
	d.Show()
}

func (s *musicScreen) pickFolder() {
	dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil || l == nil {
			return
		}
		s.add([]string{l.Path()})
	}, s.u.win).Show()
}

// dropped adds files dragged onto the window.
func (s *musicScreen) dropped(uris []fyne.URI) {
	var paths []string
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	if len(paths) > 0 {
		s.u.Show(ViewMusic)
		s.add(paths)
	}
}

// add publishes paths with a progress dialog (files, bytes, rate, cancel).
func (s *musicScreen) add(paths []string) {
	if s.u.b.Media == nil || s.adding != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.u.ctx)
	s.adding = cancel
	bar := widget.NewProgressBar()
	label := widget.NewLabel("Looking for media…")
	cur := widget.NewLabel("")
	cur.Truncation = fyne.TextTruncateEllipsis
	var dlg *dialog.CustomDialog
	stop := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { cancel() })
	dlg = dialog.NewCustomWithoutButtons("Adding to your household", container.NewVBox(label, bar, cur, stop), s.u.win)
	dlg.Resize(fyne.NewSize(460, 200))
	dlg.SetOnClosed(s.u.pushKeys(&dialogKeys{escape: cancel})) // Escape is Cancel
	dlg.Show()
	var mu sync.Mutex
	var lastShown time.Time
	progress := func(p AddProgress) {
		mu.Lock()
		now := time.Now()
		if now.Sub(lastShown) < 100*time.Millisecond && p.FilesDone < p.Files {
			mu.Unlock()
			return
		}
		lastShown = now
		mu.Unlock()
		s.u.do(func() {
			if p.Bytes > 0 {
				bar.SetValue(float64(p.BytesDone) / float64(p.Bytes))
			}
			label.SetText(fmt.Sprintf("%d of %s · %s of %s · %s/s", p.FilesDone, count(p.Files, "file"),
				mib(p.BytesDone), mib(p.Bytes), mib(int64(p.Rate))))
			cur.SetText(p.Current)
		})
	}
	s.u.background(func(context.Context) func() {
		res, err := s.u.b.Media.Add(ctx, paths, progress)
		return func() {
			cancel()
			s.adding = nil
			dlg.Hide()
			msg := fmt.Sprintf("Added %d, already there %d, skipped %d.", res.Added, res.Existing, res.Skipped)
			if err != nil {
				msg += " " + errText(err)
			}
			s.status.SetText(msg)
			s.reload()
		}
	})
}

// mib formats bytes the way the rest of the app does.
func mib(n int64) string { return bytesText(n) }
