package share

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/tags"
)

// TestAddFiles adds a folder with several files at once: every media file
// becomes its own title (tags read), the text file is reported to Done as
// not media, progress names each file, and each file is told once. With
// one sealer, files are sealed one at a time. An error Done returns stops
// the rest.
func TestAddFiles(t *testing.T) {
	d := startPublishingDirectory(t, nil)
	n := startNode(t, d, "ana", nil)
	ctx := context.Background()
	dir := t.TempDir()
	var paths []string
	for i := 1; i <= 6; i++ {
		paths = append(paths, encodeMP3(t, dir, fmt.Sprintf("%02d.mp3", i), fmt.Sprintf("Song %d", i), "Many", i, "1"))
	}
	notes := filepath.Join(dir, "notes.mp3") // a media name, not media bytes
	if err := os.WriteFile(notes, []byte("shopping list\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, notes)

	var mu sync.Mutex
	done := map[string]int{}
	titles := map[string]string{}
	progressed := map[string]bool{}
	err := n.AddFiles(ctx, paths, AddFilesOptions{
		Workers: 3,
		Progress: func(p string, _ int64) {
			mu.Lock()
			progressed[p] = true
			mu.Unlock()
		},
		Done: func(p string, a *Added, err error) error {
			done[p]++ // Done is called one at a time
			switch {
			case p == notes:
				if !errors.Is(err, tags.ErrNotMedia) {
					return fmt.Errorf("notes: %v, want not media", err)
				}
			case err != nil:
				return err
			default:
				titles[p] = a.Title.Name
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		if done[p] != 1 {
			t.Errorf("%s told %d times", p, done[p])
		}
		if p != notes && (titles[p] != fmt.Sprintf("Song %d", i+1) || !progressed[p]) {
			t.Errorf("%s: title %q, progress %v", p, titles[p], progressed[p])
		}
	}
	ids := map[string]bool{}
	for _, p := range paths[:6] {
		a, err := n.AddFile(ctx, p, AddOptions{}) // again: the same titles
		if err != nil || !a.Existing {
			t.Fatalf("again %s: %+v %v", p, a, err)
		}
		ids[a.Title.ID] = true
	}
	if len(ids) != 6 {
		t.Errorf("%d distinct titles for 6 files", len(ids))
	}

	// Four files in flight, one sealed at a time: no file's sealing
	// (its progress, from the first report to its whole size) overlaps
	// another's, though each pauses mid-file.
	one := t.TempDir()
	var serial []string
	sizes := map[string]int64{}
	for i := 1; i <= 5; i++ {
		p := encodeMP3(t, one, fmt.Sprintf("%02d.mp3", i), fmt.Sprintf("One %d", i), "One at a time", i, "40")
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		serial, sizes[p] = append(serial, p), st.Size()
	}
	sealing := map[string]bool{}
	var overlaps []string
	err = n.AddFiles(ctx, serial, AddFilesOptions{Workers: 4, Sealers: 1, Progress: func(p string, k int64) {
		mu.Lock()
		defer mu.Unlock()
		sealing[p] = k < sizes[p]
		var now []string
		for q, on := range sealing {
			if on {
				now = append(now, q)
			}
		}
		if len(now) > 1 {
			overlaps = append(overlaps, fmt.Sprint(now))
		}
		if k < sizes[p] {
			// Mid-file: give the other workers time to start sealing.
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
		}
	}})
	if err != nil || len(sealing) != len(serial) || len(overlaps) > 0 {
		t.Errorf("one sealer: %v; %d files reported; sealed at once: %v", err, len(sealing), overlaps)
	}

	// An error from Done stops adding.
	more := t.TempDir()
	var later []string
	for i := 1; i <= 5; i++ {
		later = append(later, encodeMP3(t, more, fmt.Sprintf("%02d.mp3", i), fmt.Sprintf("Later %d", i), "Later", i, "1"))
	}
	stop := errors.New("stop here")
	var told []string
	err = n.AddFiles(ctx, later, AddFilesOptions{Workers: 1, Done: func(p string, _ *Added, err error) error {
		told = append(told, p)
		return stop
	}})
	if !errors.Is(err, stop) || len(told) != 1 || !slices.Contains(later, told[0]) {
		t.Errorf("after Done said stop: %v, told %v", err, told)
	}
}

// TestAddFilesUnderRateLimit: a directory that limits this device's rate
// (as the app's own household directory does) answers some of a folder's
// publishes and registrations 429; those files wait and are sent again,
// and every file is added once.
func TestAddFilesUnderRateLimit(t *testing.T) {
	d := startPublishingDirectory(t, func(o *directory.Options) { o.RateDevice = 4 }) // bursts of 8
	n := startNode(t, d, "ana", nil)
	ctx := context.Background()
	dir := t.TempDir()
	var paths []string
	for i := 1; i <= 9; i++ {
		paths = append(paths, encodeMP3(t, dir, fmt.Sprintf("%02d.mp3", i), fmt.Sprintf("Limited %d", i), "Limited", i, "1"))
	}
	ids := map[string]bool{}
	err := n.AddFiles(ctx, paths, AddFilesOptions{Done: func(p string, a *Added, err error) error {
		if err != nil {
			return err
		}
		ids[a.Title.ID] = !a.Existing
		return nil
	}})
	if err != nil || len(ids) != len(paths) {
		t.Fatalf("added %d of %d titles: %v", len(ids), len(paths), err)
	}
	for id, isNew := range ids {
		if !isNew {
			t.Errorf("%s was there already", id)
		}
	}
}
