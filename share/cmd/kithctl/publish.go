package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share"
	"github.com/kith-media/kith/share/tags"
)

// publish adds the media files under r.Paths to the household's catalog
// from this device (share.Node.AddFile), streaming progress and one Added
// line per title.
func (d *daemon) publish(ctx context.Context, r Request, send func(Line)) error {
	if len(r.Paths) == 0 {
		return badRequest("publish: no paths")
	}
	for _, p := range r.Paths {
		if !filepath.IsAbs(p) {
			return badRequest("publish: path %q is not absolute", p)
		}
	}
	rights, err := directory.ParseRights(r.Rights, time.Now())
	if err != nil {
		return badRequest("publish: %v", err)
	}
	files, err := tags.MediaFiles(ctx, r.Paths)
	if err != nil {
		return err
	}
	if r.Title != "" && len(files) != 1 {
		return badRequest("publish: --title names one file, not %d", len(files))
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	send(Line{Files: len(files), Size: total})
	for _, f := range files {
		var last time.Time
		o := share.AddOptions{Title: r.Title, Price: r.Price, Rights: rights, Public: r.Public,
			Progress: func(n int64) {
				if now := time.Now(); now.Sub(last) >= 200*time.Millisecond {
					last = now
					send(Line{Title: f.Path, Bytes: n, FileSize: f.Size})
				}
			}}
		a, err := d.current().AddFile(ctx, f.Path, o)
		if errors.Is(err, tags.ErrNotMedia) {
			send(Line{Title: f.Path, Fault: "not a media file: skipped"})
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		send(Line{Title: f.Path, Bytes: f.Size, FileSize: f.Size, Added: &Published{ID: a.Title.ID, Name: a.Title.Name,
			Artist: a.Title.Artist, Album: a.Title.Album, Track: a.Title.Track, Path: a.Path, Existing: a.Existing}})
	}
	return nil
}
