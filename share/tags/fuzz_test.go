package tags

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRead feeds arbitrary bytes, under names of every format, to ReadAt:
// it must not panic, must not read past its budget, and whatever it returns
// must be bounded valid UTF-8 (a video's size 1..MaxDimension or 0×0); a deferred MP3 frame count (DeferScan, the
// bytes written to Info.Scan) must give the duration ReadAt's own count
// gives.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/seeds/*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b, filepath.Base(s))
		}
	}
	f.Add(id3Tag(20, id3Frame("TIT2", 10, []byte{3, 0xff, 'a'})), "a.mp3")
	f.Add([]byte("fLaC\x00\x00\x00\x22"), "b.flac")
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt "), "c.wav")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		r := &countingReaderAt{r: bytes.NewReader(data)}
		o := Options{MaxTagBytes: 1 << 20, MaxArtBytes: 1 << 20, Timeout: 500 * time.Millisecond}
		in, err := ReadAt(context.Background(), r, int64(len(data)), name, o)
		if err != nil {
			return
		}
		if n := r.n.Load(); n > 2*o.MaxTagBytes+(256<<10) {
			t.Fatalf("read %d bytes", n)
		}
		for _, s := range []string{in.Title, in.Artist, in.Album, in.AlbumArtist, in.Genre} {
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxText {
				t.Fatalf("unbounded text %q", s)
			}
		}
		if in.Title == "" || in.MediaType == "" || in.Duration < 0 || in.Duration > MaxDuration || len(in.Problems) > MaxProblems ||
			in.Width < 0 || in.Width > MaxDimension || in.Height < 0 || in.Height > MaxDimension || (in.Width == 0) != (in.Height == 0) {
			t.Fatalf("bad info %+v", in)
		}
		// Deferred, the frames counted from the bytes written to Scan give
		// the duration ReadAt's own count gives (compared where the budget
		// and the deadline cannot cut that count short).
		lo := o
		lo.Timeout = time.Minute
		lo.DeferScan = true
		din, err := ReadAt(context.Background(), bytes.NewReader(data), int64(len(data)), name, lo)
		if err != nil {
			t.Fatalf("deferred: %v (read without: ok)", err)
		}
		if din.Scan != nil && int64(len(data)) <= o.MaxTagBytes/2 {
			lo.DeferScan = false
			ref, err := ReadAt(context.Background(), bytes.NewReader(data), int64(len(data)), name, lo)
			if err != nil {
				t.Fatal(err)
			}
			feedScan(din, data)
			if din.Duration != ref.Duration {
				t.Fatalf("deferred scan: %v, read: %v", din.Duration, ref.Duration)
			}
		}
	})
}
