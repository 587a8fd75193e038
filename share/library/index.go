package library

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// Title is one entry of the library's catalog.
type Title struct {
	ID        string
	Name      string
	Artist    string
	MediaType string
	ContentID sealed.ContentID
	Size      int64 // plaintext bytes
	Added     time.Time
	Tags
}

// Tags are what a title's file tags say beyond its name and artist (see
// share/tags); zero when unknown.
type Tags struct {
	Album       string
	AlbumArtist string
	Genre       string
	Track       int
	Disc        int
	Year        int
	Duration    time.Duration
	Width       int // a video's size in pixels; 0 when unknown or not video
	Height      int
}

// PutTitle inserts or replaces a title (Added is kept from the first insert).
func (l *Library) PutTitle(ctx context.Context, t Title) error {
	if t.ID == "" {
		return errors.New("putting title: empty id")
	}
	if strings.HasPrefix(t.ID, "!") {
		// The policies table keeps its own rows under such keys (resumeKey:
		// the default saved while sharing is off); a title of that ID would
		// read that row as its policy and share while sharing is off. Title
		// IDs come from the directory's catalog (hex), which a hostile
		// directory could break.
		return fmt.Errorf("putting title %q: not a title ID", t.ID)
	}
	if t.Added.IsZero() {
		t.Added = l.opts.Now()
	}
	_, err := l.w.ExecContext(ctx, `INSERT INTO titles(id, name, artist, media_type, content_id, size, added_at,
		album, album_artist, genre, track, disc, year, duration_ms, width, height)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET name = excluded.name, artist = excluded.artist,
		media_type = excluded.media_type, content_id = excluded.content_id, size = excluded.size,
		album = excluded.album, album_artist = excluded.album_artist, genre = excluded.genre,
		track = excluded.track, disc = excluded.disc, year = excluded.year, duration_ms = excluded.duration_ms,
		width = excluded.width, height = excluded.height`,
		t.ID, t.Name, t.Artist, t.MediaType, t.ContentID.String(), t.Size, t.Added.UnixMilli(),
		t.Album, t.AlbumArtist, t.Genre, t.Track, t.Disc, t.Year, t.Duration.Milliseconds(), t.Width, t.Height)
	if err != nil {
		return fmt.Errorf("putting title %q: %w", t.ID, err)
	}
	l.forgetPolicies()
	return nil
}

// DeleteTitle removes a title from the catalog (its content stays).
func (l *Library) DeleteTitle(ctx context.Context, id string) error {
	if _, err := l.w.ExecContext(ctx, `DELETE FROM titles WHERE id = ?`, id); err != nil {
		return fmt.Errorf("deleting title %q: %w", id, err)
	}
	l.forgetPolicies()
	return nil
}

const titleCols = `id, name, artist, media_type, content_id, size, added_at,
	album, album_artist, genre, track, disc, year, duration_ms, width, height`

func scanTitle(row interface{ Scan(...any) error }) (Title, error) {
	var t Title
	var cid string
	var added, dur int64
	if err := row.Scan(&t.ID, &t.Name, &t.Artist, &t.MediaType, &cid, &t.Size, &added,
		&t.Album, &t.AlbumArtist, &t.Genre, &t.Track, &t.Disc, &t.Year, &dur, &t.Width, &t.Height); err != nil {
		return t, err
	}
	t.Duration = time.Duration(dur) * time.Millisecond
	if cid != "" {
		c, err := sealed.ParseContentID(cid)
		if err != nil {
			return t, fmt.Errorf("title %q: %w", t.ID, err)
		}
		t.ContentID = c
	}
	t.Added = time.UnixMilli(added)
	return t, nil
}

// Title returns one title; ErrNotFound if there is none.
func (l *Library) Title(ctx context.Context, id string) (*Title, error) {
	t, err := scanTitle(l.r.QueryRowContext(ctx, `SELECT `+titleCols+` FROM titles WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("title %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("loading title %q: %w", id, err)
	}
	return &t, nil
}

// TitlesFor returns the titles whose content is cid.
func (l *Library) TitlesFor(ctx context.Context, cid sealed.ContentID) ([]Title, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT `+titleCols+` FROM titles WHERE content_id = ? ORDER BY id`, cid.String())
	if err != nil {
		return nil, fmt.Errorf("listing titles of %s: %w", cid, err)
	}
	return collectTitles(rows)
}

func collectTitles(rows *sql.Rows) ([]Title, error) {
	defer rows.Close()
	var out []Title
	for rows.Next() {
		t, err := scanTitle(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Sort orders for Query.
const (
	SortName   = "name"
	SortArtist = "artist"
	SortAdded  = "added"
	SortSize   = "size"
	SortAlbum  = "album" // album artist (or artist), album, disc, track: an album's tracks in order
)

// Query selects a page of titles. The zero value lists the first 100 by name.
type Query struct {
	Search    string // case-insensitive substring of name, artist or album
	MediaType string // prefix match, e.g. "audio/"
	Sort      string // SortName (default), SortArtist, SortAdded, SortSize, SortAlbum
	Desc      bool
	Offset    int
	Limit     int // default 100, max 1000
}

// Titles returns one page of titles matching q and the total number of matches.
func (l *Library) Titles(ctx context.Context, q Query) ([]Title, int, error) {
	var where []string
	var args []any
	if q.Search != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Search) + "%"
		where = append(where, `(name LIKE ? ESCAPE '\' OR artist LIKE ? ESCAPE '\' OR album LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like)
	}
	if q.MediaType != "" {
		where = append(where, `media_type LIKE ? ESCAPE '\'`)
		args = append(args, strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.MediaType)+"%")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	order := map[string]string{
		"": "name COLLATE NOCASE %s, id %s", SortName: "name COLLATE NOCASE %s, id %s",
		SortArtist: "artist COLLATE NOCASE %s, name COLLATE NOCASE %s, id %s",
		SortAdded:  "added_at %s, id %s", SortSize: "size %s, id %s",
		SortAlbum: "coalesce(nullif(album_artist, ''), artist) COLLATE NOCASE %s, album COLLATE NOCASE %s, disc %s, track %s, name COLLATE NOCASE %s, id %s",
	}[q.Sort]
	if order == "" {
		return nil, 0, fmt.Errorf("listing titles: unknown sort %q", q.Sort)
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	order = strings.ReplaceAll(order, "%s", dir)
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	q.Offset = max(q.Offset, 0)
	var total int
	if err := l.r.QueryRowContext(ctx, `SELECT count(*) FROM titles`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting titles: %w", err)
	}
	rows, err := l.r.QueryContext(ctx, `SELECT `+titleCols+` FROM titles`+cond+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("listing titles: %w", err)
	}
	ts, err := collectTitles(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("listing titles: %w", err)
	}
	return ts, total, nil
}

// Holdings lists every content the library has a manifest for, with how much is present
// (now for a content in use, else as last recorded in the index: see live).
func (l *Library) Holdings(ctx context.Context) ([]Status, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT content_id, have, num_chunks, file_size, complete FROM content ORDER BY content_id`)
	if err != nil {
		return nil, fmt.Errorf("listing holdings: %w", err)
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var s Status
		var cid string
		if err := rows.Scan(&cid, &s.Have, &s.Total, &s.Size, &s.Complete); err != nil {
			return nil, fmt.Errorf("listing holdings: %w", err)
		}
		if s.ContentID, err = sealed.ParseContentID(cid); err != nil {
			return nil, fmt.Errorf("listing holdings: %w", err)
		}
		l.live(&s)
		out = append(out, s)
	}
	return out, rows.Err()
}

// live sets s's counts to those of its content's item if it is loaded:
// the chunks present now, which the index records only every SyncInterval
// or SyncBytes (a download's listing would lag it by up to 5 s).
func (l *Library) live(s *Status) {
	it := l.loaded(s.ContentID)
	if it == nil {
		return
	}
	it.mu.Lock()
	s.Have, s.Complete = it.nhave, it.complete
	it.mu.Unlock()
}

// Import stores a complete sealed file read from r (e.g. a publisher's own
// copy), verifying every chunk against m.
func (l *Library) Import(ctx context.Context, m *sealed.Manifest, r io.Reader) error {
	if err := l.AddManifest(ctx, m); err != nil {
		return err
	}
	cid := m.ContentID() // once: it hashes the whole manifest
	hdr := make([]byte, len(m.HeaderBytes()))
	if _, err := io.ReadFull(r, hdr); err != nil {
		return fmt.Errorf("importing %s: reading header: %w", cid, err)
	}
	if string(hdr) != string(m.HeaderBytes()) {
		return fmt.Errorf("importing %s: %w", cid, sealed.ErrBadHeader)
	}
	var buf []byte
	for i := 0; i < m.NumChunks(); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, n := m.ChunkRange(i)
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("importing %s: chunk %d: %w", cid, i, err)
		}
		if err := l.WriteChunk(cid, i, buf); err != nil {
			return fmt.Errorf("importing: %w", err)
		}
	}
	return l.Flush(cid)
}

// PutLicense stores license bytes for cid (replacing an older one).
func (l *Library) PutLicense(ctx context.Context, cid sealed.ContentID, lic []byte) error {
	_, err := l.w.ExecContext(ctx, `INSERT INTO licenses(content_id, license, stored_at) VALUES (?, ?, ?)
		ON CONFLICT(content_id) DO UPDATE SET license = excluded.license, stored_at = excluded.stored_at`,
		cid.String(), lic, l.now())
	if err != nil {
		return fmt.Errorf("storing license for %s: %w", cid, err)
	}
	return nil
}

// License returns the stored license bytes for cid; ErrNotFound if none.
func (l *Library) License(ctx context.Context, cid sealed.ContentID) ([]byte, error) {
	var b []byte
	err := l.r.QueryRowContext(ctx, `SELECT license FROM licenses WHERE content_id = ?`, cid.String()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("license for %s: %w", cid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("loading license for %s: %w", cid, err)
	}
	return b, nil
}

// SavePosition records the playback position of a title (the player's
// Positions shape); failures are logged, not returned.
func (l *Library) SavePosition(titleID string, pos time.Duration) {
	_, err := l.w.Exec(`INSERT INTO positions(title_id, position_ms, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(title_id) DO UPDATE SET position_ms = excluded.position_ms, updated_at = excluded.updated_at`,
		titleID, pos.Milliseconds(), l.now())
	if err != nil {
		l.log.Warn("library: saving position", "title", titleID, "err", err)
	}
}

// Position returns the saved playback position of a title, 0 if none.
func (l *Library) Position(titleID string) time.Duration {
	var ms int64
	if err := l.r.QueryRow(`SELECT position_ms FROM positions WHERE title_id = ?`, titleID).Scan(&ms); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			l.log.Warn("library: loading position", "title", titleID, "err", err)
		}
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
