package library

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/kith-media/kith/share/sealed"
)

// Bounds on watched folders.
const (
	MaxWatchedFolders = 100
	MaxWatchedPath    = 4096 // bytes
)

// WatchedFolders lists the folders whose media are added at every start,
// by path.
func (l *Library) WatchedFolders(ctx context.Context) ([]string, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT path FROM watched_folders ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("listing watched folders: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("listing watched folders: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// WatchFolder adds an absolute folder path to the watched folders (again:
// nothing changes).
func (l *Library) WatchFolder(ctx context.Context, path string) error {
	if !filepath.IsAbs(path) || len(path) > MaxWatchedPath || !utf8.ValidString(path) {
		return fmt.Errorf("watching a folder: want an absolute path of at most %d bytes, got %q", MaxWatchedPath, path)
	}
	path = filepath.Clean(path)
	// One statement: the bound holds however many callers race.
	res, err := l.w.ExecContext(ctx, `INSERT INTO watched_folders(path, added_at)
		SELECT ?, ? WHERE (SELECT count(*) FROM watched_folders) < ? OR EXISTS (SELECT 1 FROM watched_folders WHERE path = ?)
		ON CONFLICT(path) DO NOTHING`, path, l.now(), MaxWatchedFolders, path)
	if err != nil {
		return fmt.Errorf("watching %s: %w", path, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var there bool
		if err := l.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM watched_folders WHERE path = ?)`, path).Scan(&there); err != nil {
			return fmt.Errorf("watching %s: %w", path, err)
		}
		if !there {
			return fmt.Errorf("watching a folder: at most %d folders are watched", MaxWatchedFolders)
		}
	}
	return nil
}

// UnwatchFolder takes a folder off the watched folders; what was added
// from it stays.
func (l *Library) UnwatchFolder(ctx context.Context, path string) error {
	if _, err := l.w.ExecContext(ctx, `DELETE FROM watched_folders WHERE path = ?`, filepath.Clean(path)); err != nil {
		return fmt.Errorf("unwatching %s: %w", path, err)
	}
	return nil
}

// EachTrack calls fn with every title's tags (ID, name, artist, content,
// album, album artist, track, disc, year, duration; not media type, size,
// genre or added time) and whether its content is held whole, in one query:
// what a music list shows, at a fraction of EachTitle plus HeldContent's
// cost over 50,000 titles.
func (l *Library) EachTrack(ctx context.Context, fn func(t Title, complete bool) error) error {
	rows, err := l.r.QueryContext(ctx, `SELECT t.id, t.name, t.artist, t.content_id, t.album, t.album_artist,
		t.track, t.disc, t.year, t.duration_ms, coalesce(c.complete, 0)
		FROM titles t LEFT JOIN content c ON c.content_id = t.content_id LIMIT ?`, MaxEachTitles)
	if err != nil {
		return fmt.Errorf("listing tracks: %w", err)
	}
	defer rows.Close()
	var cid string
	var dur int64
	var complete bool
	for rows.Next() {
		var t Title
		if err := rows.Scan(&t.ID, &t.Name, &t.Artist, &cid, &t.Album, &t.AlbumArtist, &t.Track, &t.Disc, &t.Year,
			&dur, &complete); err != nil {
			return fmt.Errorf("listing tracks: %w", err)
		}
		if cid != "" {
			if t.ContentID, err = sealed.ParseContentID(cid); err != nil {
				return fmt.Errorf("listing tracks: title %q: %w", t.ID, err)
			}
		}
		t.Duration = time.Duration(dur) * time.Millisecond
		if err := fn(t, complete); err != nil {
			return err
		}
	}
	return rows.Err()
}
