package datadir

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/atomicfile"
)

// oldLibrary is what kithctl kept at the data folder's root before the
// library moved to library/: the SQLite index (with its journal files)
// and the sealed files. content goes first, the index last, so a
// migration cut short resumes: the index at the root means "not done".
var oldLibrary = []string{"content", "index.db-journal", "index.db-shm", "index.db-wal", "index.db"}

// oldDirectoryName is kithctl's directory file before directory.json: one
// line, URL#FINGERPRINT.
const oldDirectoryName = "directory"

// migrate moves kithctl's old layout into this one. It only renames
// within the folder; anything it would overwrite stops it with an error.
func (d Dir) migrate(log *slog.Logger) error {
	if err := d.migrateLibrary(log); err != nil {
		return err
	}
	return d.migrateDirectory(log)
}

func (d Dir) migrateLibrary(log *slog.Logger) error {
	var found []string
	for _, name := range oldLibrary {
		if _, err := os.Lstat(d.join(name)); err == nil {
			found = append(found, name)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("looking for an old library: %w", err)
		}
	}
	if len(found) == 0 {
		return nil
	}
	// A kithctl serve from before this package takes no lock, but it
	// answers on its socket: its library must not move under it.
	if c, err := net.DialTimeout("unix", d.ControlSocket(), time.Second); err == nil {
		c.Close()
		return fmt.Errorf("a kithctl serve (of an older version) runs on this folder: stop it, then start again to move its library into %s", LibraryName)
	}
	for _, name := range found {
		if _, err := os.Lstat(filepath.Join(d.Library(), name)); err == nil {
			return fmt.Errorf("two libraries: %s (kithctl's old layout) and %s: move one of them out of the folder",
				d.join(name), filepath.Join(d.Library(), name))
		}
	}
	if err := os.MkdirAll(d.Library(), 0o700); err != nil {
		return fmt.Errorf("moving the library into %s: %w", LibraryName, err)
	}
	for _, name := range found {
		if err := os.Rename(d.join(name), filepath.Join(d.Library(), name)); err != nil {
			return fmt.Errorf("moving the library into %s: %w", LibraryName, err)
		}
	}
	if err := atomicfile.SyncDir(d.Library()); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(string(d)); err != nil {
		return err
	}
	log.Info("data folder: moved the library into library/ (the layout the app and kithctl share)", "folder", string(d), "moved", found)
	return nil
}

func (d Dir) migrateDirectory(log *slog.Logger) error {
	old := d.join(oldDirectoryName)
	st, err := os.Lstat(old)
	if errors.Is(err, os.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking for an old directory file: %w", err)
	}
	if _, ok, err := d.LoadJoined(); err != nil || ok {
		// directory.json is the one in use; the old file is left alone.
		log.Warn("data folder: both directory.json and an old directory file; using directory.json", "old", old)
		return nil
	}
	b, err := readSmall(old, maxDirectoryFile)
	if err != nil {
		return fmt.Errorf("reading the old directory file: %w", err)
	}
	base, fp, err := directory.ParseURL(strings.TrimSpace(string(b)))
	if err != nil || fp == "" || !fp.Valid() {
		return fmt.Errorf("the old directory file %s does not hold URL#FINGERPRINT (%v): fix or delete it, and give --directory", old, err)
	}
	if err := d.SaveJoined(Joined{URL: base, Fingerprint: fp}); err != nil {
		return fmt.Errorf("moving the directory into %s: %w", DirectoryName, err)
	}
	if err := os.Remove(old); err != nil {
		return fmt.Errorf("moving the directory into %s: %w", DirectoryName, err)
	}
	log.Info("data folder: the directory is now in directory.json", "url", base, "fingerprint", fp)
	return nil
}
