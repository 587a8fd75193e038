package tags

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MaxWalkFiles bounds the files one folder walk collects.
const MaxWalkFiles = 1_000_000

// mediaExts are the file name endings a folder walk picks up.
var mediaExts = map[string]bool{".mp3": true, ".flac": true, ".ogg": true, ".oga": true, ".opus": true,
	".m4a": true, ".mp4": true, ".m4v": true, ".wav": true, ".webm": true, ".mkv": true}

// MediaExtensions lists the file name endings a folder walk picks up,
// sorted (".flac", ".m4a", …).
func MediaExtensions() []string {
	out := make([]string, 0, len(mediaExts))
	for e := range mediaExts {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// MediaFile is a file found by MediaFiles.
type MediaFile struct {
	Path    string
	Size    int64
	ModTime time.Time
}

// MediaFiles expands paths (files and folders, folders recursively, not
// following symbolic links to folders) into the media files among them,
// sorted by path within each folder given. Files named explicitly are kept
// whatever their extension; in folders only media extensions count.
func MediaFiles(ctx context.Context, paths []string) ([]MediaFile, error) {
	var out []MediaFile
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("listing media: %w", err)
		}
		if !st.IsDir() {
			out = append(out, MediaFile{Path: p, Size: st.Size(), ModTime: st.ModTime()})
			continue
		}
		var found []MediaFile
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !mediaExts[strings.ToLower(filepath.Ext(path))] {
				return nil
			}
			if len(out)+len(found) >= MaxWalkFiles {
				return fmt.Errorf("more than %d media files", MaxWalkFiles)
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			found = append(found, MediaFile{Path: path, Size: fi.Size(), ModTime: fi.ModTime()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing media in %s: %w", p, err)
		}
		sort.Slice(found, func(i, j int) bool { return found[i].Path < found[j].Path })
		out = append(out, found...)
	}
	return out, nil
}
