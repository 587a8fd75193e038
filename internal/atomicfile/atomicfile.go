// Package atomicfile writes files so that a crash leaves either the old
// file or the whole new one: a temporary file in the same folder, synced,
// renamed into place, then the folder synced — every error checked.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// File is a temporary file that becomes its final name on Commit. Close
// without Commit removes it.
type File struct {
	*os.File
	dir  string
	done bool
}

// Create makes a temporary file with mode perm in dir (created, 0700, when
// missing) for the caller to write; Commit moves it into place.
func Create(dir string, perm os.FileMode) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, dir: dir}, nil
}

// Commit syncs and closes the file, renames it to path (in the same
// folder, replacing any file there) and syncs the folder.
func (f *File) Commit(path string) error { return f.commit(path, true) }

// CommitNew is Commit that never replaces: it fails with fs.ErrExist when
// path exists (the first of two racing creators wins).
func (f *File) CommitNew(path string) error { return f.commit(path, false) }

func (f *File) commit(path string, replace bool) error {
	if f.done {
		return errors.New("atomicfile: committed twice")
	}
	if filepath.Dir(path) != filepath.Clean(f.dir) {
		return fmt.Errorf("atomicfile: %s is not in %s", path, f.dir)
	}
	f.done = true
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a rename; after a link the temp name is redundant
	err := f.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else if err = os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		// The file system may not support links: check, then rename.
		if _, serr := os.Lstat(path); serr == nil {
			return fs.ErrExist
		}
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	return SyncDir(f.dir)
}

// Close removes the temporary file unless it was committed.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	err := f.File.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}

// WriteFile writes data to path atomically with mode perm, creating the
// folder (0700) when missing.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(filepath.Dir(path), perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Commit(path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// SyncDir syncs a folder, so renames and new files in it survive a crash.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
