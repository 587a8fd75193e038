package share

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/tags"
)

// encodeMP3 makes a tagged MP3 of secs seconds with lame (scripts/deps.sh test installs it).
func encodeMP3(t *testing.T, dir, name, title, album string, track int, secs string) string {
	t.Helper()
	wav := filepath.Join(t.TempDir(), "src.wav")
	out := filepath.Join(dir, name)
	for _, c := range [][]string{
		{"sox", "-q", "-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", secs, "sine", "330"},
		{"lame", "--quiet", "--tt", title, "--ta", "The Household", "--tl", album, "--tn", itoa(track), wav, out},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, b)
		}
	}
	return out
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestAddFromDevice: a household device publishes its own files; another
// device of the household sees them with their tags and gets them from it,
// never from the origin; another account sees nothing.
func TestAddFromDevice(t *testing.T) {
	ctx := context.Background()
	d := startPublishingDirectory(t, nil)
	a := startNode(t, d, "home", nil)
	b := startNode(t, d, "home", nil)
	c := startNode(t, d, "away", nil)

	music := t.TempDir()
	album := filepath.Join(music, "Album")
	if err := os.Mkdir(album, 0o755); err != nil {
		t.Fatal(err)
	}
	encodeMP3(t, album, "b.mp3", "Second", "Kitchen Sessions", 2, "2")
	encodeMP3(t, album, "a.mp3", "First", "Kitchen Sessions", 1, "3")
	if err := os.WriteFile(filepath.Join(album, "notes.txt"), []byte("not media"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := tags.MediaFiles(ctx, []string{music})
	if err != nil || len(files) != 2 || filepath.Base(files[0].Path) != "a.mp3" {
		t.Fatalf("MediaFiles = %v, %v", files, err)
	}
	var added []*Added
	var progress int64
	for _, f := range files {
		ad, err := a.AddFile(ctx, f.Path, AddOptions{Progress: func(n int64) { progress = n }})
		if err != nil {
			t.Fatalf("AddFile(%s): %v", f.Path, err)
		}
		if progress != f.Size {
			t.Errorf("progress ended at %d of %d", progress, f.Size)
		}
		added = append(added, ad)
	}
	first := added[0].Title
	if first.Name != "First" || first.Artist != "The Household" || first.Album != "Kitchen Sessions" || first.Track != 1 ||
		first.DurationMS < 2900 || first.DurationMS > 3100 || first.Visibility != directory.VisibilityHousehold {
		t.Errorf("added title %+v", first)
	}
	// The same file again, and the same bytes under another name: the same title.
	again, err := a.AddFile(ctx, files[0].Path, AddOptions{})
	if err != nil || !again.Existing || again.Title.ID != first.ID {
		t.Errorf("adding again: %+v, %v", again, err)
	}
	cp := filepath.Join(music, "copy.mp3")
	raw, _ := os.ReadFile(files[0].Path)
	if err := os.WriteFile(cp, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if dup, err := a.AddFile(ctx, cp, AddOptions{}); err != nil || !dup.Existing || dup.Title.ID != first.ID {
		t.Errorf("adding a copy: %+v, %v", dup, err)
	}
	if _, err := a.AddFile(ctx, filepath.Join(album, "notes.txt"), AddOptions{}); !errors.Is(err, tags.ErrNotMedia) {
		t.Errorf("adding a text file: %v", err)
	}

	// B (same household) sees both with tags; C (another account) sees none.
	ts, n, err := b.dirClient().Titles(ctx, "kitchen", 1, 10)
	if err != nil || n != 2 {
		t.Fatalf("household sees %d titles, %v", n, err)
	}
	if ts, n, _ := c.dirClient().Titles(ctx, "", 1, 10); n != 0 {
		t.Errorf("another account sees %v", ts)
	}
	if _, err := c.Register(ctx, first.ID); err == nil {
		t.Error("another account registered a household title")
	}
	_ = ts
	// B gets it from A: the origin has nothing.
	if _, err := b.Register(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	waitSupplier(t, b, a, &first)
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Fetch(fctx, first.ContentID); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, &first); !bytes.Equal(got, raw) {
		t.Fatal("B's plaintext differs from A's file")
	}
	if got := downloadedFrom(t, b, d.ident.ID()); got != 0 {
		t.Errorf("B took %d bytes from the origin", got)
	}
	if got := downloadedFrom(t, b, a.ID()); got < first.Size-1024 { // chunks, not the header
		t.Errorf("B took %d of %d bytes from A", got, first.Size)
	}
	lt, err := b.lib.Title(ctx, first.ID)
	if err != nil || lt.Album != "Kitchen Sessions" || lt.Track != 1 {
		t.Errorf("B's library title %+v, %v", lt, err)
	}
	if entries, _ := os.ReadDir(d.originDir); len(entries) != 0 {
		t.Errorf("the origin store holds %d files", len(entries))
	}

	// Remove from this device: the ciphertext goes, the license and title
	// stay, and it can be fetched again.
	if err := b.RemoveFromDevice(ctx, first.ContentID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.lib.Status(ctx, first.ContentID); err == nil {
		t.Error("the content is still in B's library")
	}
	if _, err := b.lib.License(ctx, first.ContentID); err != nil {
		t.Errorf("the license went with the content: %v", err)
	}
	if _, err := b.lib.Title(ctx, first.ID); err != nil {
		t.Errorf("the title went with the content: %v", err)
	}
	if err := b.Fetch(fctx, first.ContentID); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, &first); !bytes.Equal(got, raw) {
		t.Fatal("B's plaintext differs after fetching again")
	}
}
