package library

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on playlists.
const (
	MaxPlaylists     = 1000
	MaxPlaylistItems = 10_000
	MaxPlaylistName  = 200 // runes
)

// Playlist is a named, ordered list of titles kept on this device.
type Playlist struct {
	ID    int64
	Name  string
	Count int
}

func playlistName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxPlaylistName {
		return "", fmt.Errorf("playlist name must be 1 to %d characters", MaxPlaylistName)
	}
	return name, nil
}

// Playlists lists the playlists by name.
func (l *Library) Playlists(ctx context.Context) ([]Playlist, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT p.id, p.name, (SELECT count(*) FROM playlist_items i WHERE i.playlist = p.id)
		FROM playlists p ORDER BY p.name COLLATE NOCASE, p.id`)
	if err != nil {
		return nil, fmt.Errorf("listing playlists: %w", err)
	}
	defer rows.Close()
	var out []Playlist
	for rows.Next() {
		var p Playlist
		if err := rows.Scan(&p.ID, &p.Name, &p.Count); err != nil {
			return nil, fmt.Errorf("listing playlists: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// CreatePlaylist makes an empty playlist and returns its ID.
func (l *Library) CreatePlaylist(ctx context.Context, name string) (int64, error) {
	name, err := playlistName(name)
	if err != nil {
		return 0, err
	}
	var n int
	if err := l.r.QueryRowContext(ctx, `SELECT count(*) FROM playlists`).Scan(&n); err != nil {
		return 0, fmt.Errorf("creating playlist: %w", err)
	}
	if n >= MaxPlaylists {
		return 0, fmt.Errorf("creating playlist: at most %d playlists", MaxPlaylists)
	}
	res, err := l.w.ExecContext(ctx, `INSERT INTO playlists(name, created_at) VALUES (?, ?)`, name, l.now())
	if err != nil {
		return 0, fmt.Errorf("creating playlist: %w", err)
	}
	return res.LastInsertId()
}

// RenamePlaylist renames a playlist.
func (l *Library) RenamePlaylist(ctx context.Context, id int64, name string) error {
	name, err := playlistName(name)
	if err != nil {
		return err
	}
	res, err := l.w.ExecContext(ctx, `UPDATE playlists SET name = ? WHERE id = ?`, name, id)
	if err != nil {
		return fmt.Errorf("renaming playlist: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("playlist %d: %w", id, ErrNotFound)
	}
	return nil
}

// DeletePlaylist deletes a playlist and its items (not the titles).
func (l *Library) DeletePlaylist(ctx context.Context, id int64) error {
	return l.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM playlist_items WHERE playlist = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM playlists WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("playlist %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

// PlaylistItems returns a playlist's title IDs in order.
func (l *Library) PlaylistItems(ctx context.Context, id int64) ([]string, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT title_id FROM playlist_items WHERE playlist = ? ORDER BY pos LIMIT ?`, id, MaxPlaylistItems)
	if err != nil {
		return nil, fmt.Errorf("reading playlist: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("reading playlist: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetPlaylistItems replaces a playlist's titles (adding, removing and
// reordering are all this).
func (l *Library) SetPlaylistItems(ctx context.Context, id int64, titleIDs []string) error {
	if len(titleIDs) > MaxPlaylistItems {
		return fmt.Errorf("a playlist holds at most %d titles", MaxPlaylistItems)
	}
	for _, t := range titleIDs {
		if t == "" || len(t) > 128 {
			return errors.New("playlist: bad title ID")
		}
	}
	return l.tx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM playlists WHERE id = ?`, id).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("playlist %d: %w", id, ErrNotFound)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM playlist_items WHERE playlist = ?`, id); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO playlist_items(playlist, pos, title_id) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, t := range titleIDs {
			if _, err := st.ExecContext(ctx, id, i, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// tx runs fn in one write transaction.
func (l *Library) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
