package wire

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
	"github.com/kith-media/kith/share/tags"
)

// libraryTags are a catalog title's tags as the device library keeps them.
func libraryTags(t directory.Title) library.Tags {
	return library.Tags{Album: t.Album, AlbumArtist: t.AlbumArtist, Genre: t.Genre, Track: t.Track,
		Disc: t.Disc, Year: t.Year, Duration: time.Duration(t.DurationMS) * time.Millisecond,
		Width: t.Width, Height: t.Height}
}

// MediaView is the app.Media of this node: tracks with tags from the
// device library and adding files through share.Node.AddFile.
func (a *Node) MediaView() app.Media { return media{a} }

type media struct{ a *Node }

// Tracks implements app.Media: every title of the library (the screen sorts).
func (m media) Tracks(ctx context.Context) ([]app.Track, error) {
	var out []app.Track
	err := m.a.n.Library().EachTrack(ctx, func(t library.Title, complete bool) error {
		out = append(out, app.Track{Content: t.ContentID, TitleID: t.ID, Name: t.Name, Artist: t.Artist,
			Album: t.Album, AlbumArtist: t.AlbumArtist, Track: t.Track, Disc: t.Disc, Year: t.Year,
			Duration: t.Duration, Complete: complete})
		return nil
	})
	return out, err
}

// Artwork implements app.Media.
func (m media) Artwork(ctx context.Context, titleID string) ([]byte, error) {
	n := m.a.n
	return n.Library().Artwork(ctx, titleID)
}

// Add implements app.Media: the media files under paths are added a few
// at a time (share.Node.AddFiles); a file that is not media is skipped, the
// first other error stops. A file
// added before (same path, size and mtime, its title still in the library)
// is counted as there without being read or asking the directory.
func (m media) Add(ctx context.Context, paths []string, progress func(app.AddProgress)) (app.AddResult, error) {
	var res app.AddResult
	n := m.a.n
	files, err := tags.MediaFiles(ctx, paths)
	if err != nil {
		return res, err
	}
	p := app.AddProgress{Files: len(files)}
	for _, f := range files {
		p.Bytes += f.Size
	}
	start := time.Now()
	var mu sync.Mutex              // p, inFlight and res: the workers report at once
	inFlight := map[string]int64{} // bytes sealed of the files being added
	report := func(cur string) {   // mu held
		q := p
		for _, k := range inFlight {
			q.BytesDone += k
		}
		q.Current = cur
		if s := time.Since(start).Seconds(); s > 0 {
			q.Rate = float64(q.BytesDone) / s
		}
		progress(q)
	}
	mu.Lock()
	report("")
	mu.Unlock()
	lib := n.Library()
	sizes := map[string]int64{}
	var todo []string
	for _, f := range files {
		if abs, err := filepath.Abs(f.Path); err == nil {
			if src, err := lib.SourceByPath(ctx, abs, f.Size, f.ModTime); err == nil {
				if _, err := lib.Title(ctx, src.TitleID); err == nil {
					mu.Lock()
					res.Existing++
					p.FilesDone++
					p.BytesDone += f.Size
					report(f.Path)
					mu.Unlock()
					continue
				}
			}
		}
		todo = append(todo, f.Path)
		sizes[f.Path] = f.Size
	}
	err = n.AddFiles(ctx, todo, share.AddFilesOptions{
		Progress: func(path string, k int64) {
			mu.Lock()
			inFlight[path] = k
			report(path)
			mu.Unlock()
		},
		Done: func(path string, a *share.Added, err error) error {
			mu.Lock()
			defer mu.Unlock()
			delete(inFlight, path)
			switch {
			case errors.Is(err, tags.ErrNotMedia):
				res.Skipped++
			case err != nil:
				return fmt.Errorf("adding %s: %w", path, err)
			case a.Existing:
				res.Existing++
			default:
				res.Added++
			}
			p.FilesDone++
			p.BytesDone += sizes[path]
			report(path)
			return nil
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		m.a.subs.notify()
		return res, err
	}
	m.a.subs.notify()
	return res, nil
}

// WatchedFolders implements app.Media.
func (m media) WatchedFolders(ctx context.Context) ([]string, error) {
	n := m.a.n
	return n.Library().WatchedFolders(ctx)
}

// WatchFolder implements app.Media.
func (m media) WatchFolder(ctx context.Context, path string) error {
	n := m.a.n
	return n.Library().WatchFolder(ctx, path)
}

// UnwatchFolder implements app.Media.
func (m media) UnwatchFolder(ctx context.Context, path string) error {
	n := m.a.n
	return n.Library().UnwatchFolder(ctx, path)
}

// Rescan implements app.Media: Add over the watched folders that can be
// read; the others are named in the error.
func (m media) Rescan(ctx context.Context, progress func(app.AddProgress)) (app.AddResult, error) {
	n := m.a.n
	folders, err := n.Library().WatchedFolders(ctx)
	if err != nil {
		return app.AddResult{}, err
	}
	var ok []string
	var problems []error
	for _, f := range folders {
		st, err := os.Stat(f)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("watched folder: %w", err))
		case !st.IsDir():
			problems = append(problems, fmt.Errorf("watched folder %s is not a folder", f))
		default:
			ok = append(ok, f)
		}
	}
	var res app.AddResult
	if len(ok) > 0 {
		res, err = m.Add(ctx, ok, progress)
		problems = append(problems, err)
	}
	return res, errors.Join(problems...)
}

// Playlists implements app.Media.
func (m media) Playlists(ctx context.Context) ([]app.Playlist, error) {
	n := m.a.n
	ps, err := n.Library().Playlists(ctx)
	out := make([]app.Playlist, len(ps))
	for i, p := range ps {
		out[i] = app.Playlist{ID: p.ID, Name: p.Name, Count: p.Count}
	}
	return out, err
}

// CreatePlaylist implements app.Media.
func (m media) CreatePlaylist(ctx context.Context, name string) (int64, error) {
	n := m.a.n
	return n.Library().CreatePlaylist(ctx, name)
}

// RenamePlaylist implements app.Media.
func (m media) RenamePlaylist(ctx context.Context, id int64, name string) error {
	n := m.a.n
	return n.Library().RenamePlaylist(ctx, id, name)
}

// DeletePlaylist implements app.Media.
func (m media) DeletePlaylist(ctx context.Context, id int64) error {
	n := m.a.n
	return n.Library().DeletePlaylist(ctx, id)
}

// PlaylistItems implements app.Media.
func (m media) PlaylistItems(ctx context.Context, id int64) ([]string, error) {
	n := m.a.n
	return n.Library().PlaylistItems(ctx, id)
}

// SetPlaylistItems implements app.Media.
func (m media) SetPlaylistItems(ctx context.Context, id int64, titleIDs []string) error {
	n := m.a.n
	return n.Library().SetPlaylistItems(ctx, id, titleIDs)
}

// RemoveFromDevice implements app.Media.
func (m media) RemoveFromDevice(ctx context.Context, content []sealed.ContentID) error {
	n := m.a.n
	for _, c := range content {
		if err := n.RemoveFromDevice(ctx, c); err != nil {
			return err
		}
	}
	m.a.subs.notify()
	return nil
}
