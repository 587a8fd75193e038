package app

import (
	"context"
	"time"

	"github.com/kith-media/kith/share/sealed"
)

// Media is the household's own music: the titles this device holds with
// their tags, their artwork, and adding files of this device.
type Media interface {
	// Tracks lists every title held, with tags (may be 50,000).
	Tracks(ctx context.Context) ([]Track, error)
	// Artwork is a title's JPEG thumbnail; an error when it has none.
	Artwork(ctx context.Context, titleID string) ([]byte, error)
	// Add publishes files and folders (recursively) of this device to its
	// household, telling progress as it goes; ctx cancels it.
	Add(ctx context.Context, paths []string, progress func(AddProgress)) (AddResult, error)
	// RemoveFromDevice deletes titles' ciphertext from this device; their
	// licenses stay, so they fetch again when played.
	RemoveFromDevice(ctx context.Context, content []sealed.ContentID) error
	// WatchedFolders are the folders whose media are added again at every
	// start (Rescan); WatchFolder and UnwatchFolder edit them.
	WatchedFolders(ctx context.Context) ([]string, error)
	WatchFolder(ctx context.Context, path string) error
	UnwatchFolder(ctx context.Context, path string) error
	// Rescan adds what is new in the watched folders, as Add does; files
	// added before (same path, size and mtime) are skipped without being
	// read, and a folder that cannot be read is reported in the error
	// while the others are still scanned.
	Rescan(ctx context.Context, progress func(AddProgress)) (AddResult, error)
	Playlists
}

// Playlists are named, ordered lists of titles kept on this device.
type Playlists interface {
	Playlists(ctx context.Context) ([]Playlist, error)
	CreatePlaylist(ctx context.Context, name string) (int64, error)
	RenamePlaylist(ctx context.Context, id int64, name string) error
	DeletePlaylist(ctx context.Context, id int64) error
	// PlaylistItems are the playlist's title IDs in order.
	PlaylistItems(ctx context.Context, id int64) ([]string, error)
	// SetPlaylistItems replaces them (add, remove and reorder).
	SetPlaylistItems(ctx context.Context, id int64, titleIDs []string) error
}

// Playlist is one playlist.
type Playlist struct {
	ID    int64
	Name  string
	Count int
}

// Track is one title with its tags.
type Track struct {
	Content     sealed.ContentID
	TitleID     string
	Name        string
	Artist      string
	Album       string
	AlbumArtist string
	Track, Disc int
	Year        int
	Duration    time.Duration
	Complete    bool // held whole: plays without fetching
}

// AlbumArtistOrArtist is who an album is filed under.
func (t *Track) AlbumArtistOrArtist() string {
	if t.AlbumArtist != "" {
		return t.AlbumArtist
	}
	if t.Artist != "" {
		return t.Artist
	}
	return "Unknown artist"
}

// AddProgress is where adding stands.
type AddProgress struct {
	Files, FilesDone int
	Bytes, BytesDone int64
	Rate             float64 // bytes/s
	Current          string  // the file being added
}

// AddResult says what adding did.
type AddResult struct {
	Added, Existing, Skipped int
}
