package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/kith-media/kith/share/tags"
)

// mediaExts are the file names "Add files…" offers: the folder walk's
// (share/tags), so a file the folder walk adds can be picked too.
var mediaExts = tags.MediaExtensions()

// maxPickList bounds the files listed beside a picked one.
const maxPickList = 2000

// filePick is the "Add files" chooser: Fyne's file dialog picks one file,
// so once it has, the media files beside it are listed with checkboxes
// (the picked one checked; "All" checks every one) and the checked ones
// are added together.
type filePick struct {
	dir    string
	names  []string
	checks *widget.CheckGroup
	all    *widget.Check
	dlg    *dialog.ConfirmDialog
}

// pickBeside offers the media files in the folder of path, path checked;
// a folder with only that file adds it at once.
func (s *musicScreen) pickBeside(path string) {
	dir := filepath.Dir(path)
	var names []string
	if es, err := os.ReadDir(dir); err == nil {
		for _, e := range es {
			if len(names) == maxPickList {
				break
			}
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") &&
				slices.Contains(mediaExts, strings.ToLower(filepath.Ext(e.Name()))) {
				names = append(names, e.Name())
			}
		}
	}
	first := filepath.Base(path)
	if !slices.Contains(names, first) {
		names = append([]string{first}, names...)
	}
	if len(names) == 1 {
		s.add([]string{path})
		return
	}
	p := &filePick{dir: dir, names: names}
	p.checks = widget.NewCheckGroup(names, nil)
	p.checks.SetSelected([]string{first})
	p.all = widget.NewCheck("All "+count(len(names), "file"), func(on bool) {
		if on {
			p.checks.SetSelected(names)
		} else {
			p.checks.SetSelected(nil)
		}
	})
	list := container.NewVScroll(p.checks)
	list.SetMinSize(fyne.NewSize(440, 320))
	p.dlg = dialog.NewCustomConfirm("Add files from "+filepath.Base(dir), "Add", "Cancel",
		container.NewBorder(p.all, nil, nil, nil, list), func(ok bool) {
			if !ok {
				return
			}
			var paths []string
			for _, n := range names { // in folder order, whatever order they were checked in
				if slices.Contains(p.checks.Selected, n) {
					paths = append(paths, filepath.Join(dir, n))
				}
			}
			if len(paths) > 0 {
				s.add(paths)
			}
		}, s.u.win)
	p.dlg.SetOnClosed(s.u.pushKeys(&dialogKeys{enter: p.dlg.Confirm, escape: p.dlg.Hide}))
	s.picking = p
	p.dlg.Show()
}
