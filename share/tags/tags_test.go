package tags

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool runs an encoder that scripts/deps.sh test installs.
func tool(t *testing.T, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not installed (scripts/deps.sh test installs it): %v", name, err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8") // the encoders read tag arguments in the locale's charset
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// writeCover writes a w×h JPEG of one colour.
func writeCover(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtures encodes a 3-second tone with real encoders into every format.
type fixtures struct {
	dir, wav, cover string
}

func newFixtures(t *testing.T) *fixtures {
	t.Helper()
	dir := t.TempDir()
	f := &fixtures{dir: dir, wav: filepath.Join(dir, "src", "tone.wav"), cover: filepath.Join(dir, "src", "art.jpg")}
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	tool(t, "sox", "-q", "-n", "-r", "44100", "-c", "2", "-b", "16", f.wav, "synth", "3", "sine", "440")
	writeCover(t, f.cover, 600, 400, color.RGBA{200, 30, 30, 255})
	return f
}

func (f *fixtures) path(name string) string { return filepath.Join(f.dir, name) }

func read(t *testing.T, path string) *Info {
	t.Helper()
	in, err := Read(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	return in
}

func checkDuration(t *testing.T, in *Info, want time.Duration) {
	t.Helper()
	if d := in.Duration - want; d < -150*time.Millisecond || d > 150*time.Millisecond {
		t.Errorf("duration %v, want about %v (problems %q)", in.Duration, want, in.Problems)
	}
}

func checkArt(t *testing.T, in *Info, source string, w, h int) {
	t.Helper()
	if in.ArtworkSource != source {
		t.Fatalf("artwork source %q, want %q (problems %q)", in.ArtworkSource, source, in.Problems)
	}
	img, err := jpeg.Decode(bytes.NewReader(in.Artwork))
	if err != nil {
		t.Fatalf("artwork is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("thumbnail %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	r, g, _, _ := img.At(w/2, h/2).RGBA()
	if r>>8 < 150 || g>>8 > 80 {
		t.Errorf("thumbnail is not the red cover: r=%d g=%d", r>>8, g>>8)
	}
}

func TestTagsFromEncoders(t *testing.T) {
	f := newFixtures(t)
	meta := func(kv ...string) []string {
		var a []string
		for i := 0; i < len(kv); i += 2 {
			a = append(a, "-metadata", kv[i]+"="+kv[i+1])
		}
		return a
	}
	cases := []struct {
		name   string
		make   func(out string)
		want   Info
		art    string // artwork source wanted
		format string
	}{
		{
			// lame writes ID3v2.3 with an APIC frame from --ti.
			name: "id3v23.mp3",
			make: func(out string) {
				tool(t, "lame", "--quiet", "--id3v2-only", "--tt", "Stones Éclat", "--ta", "Ana Artist", "--tl", "First Light",
					"--ty", "2019", "--tn", "3/12", "--tg", "Rock", "--tv", "TPE2=Various", "--tv", "TPOS=1/2", "--ti", f.cover, f.wav, out)
			},
			want: Info{Title: "Stones Éclat", Artist: "Ana Artist", Album: "First Light", AlbumArtist: "Various", Genre: "Rock",
				Track: 3, TrackTotal: 12, Disc: 1, DiscTotal: 2, Year: 2019, MediaType: "audio/mpeg"},
			art: "embedded", format: "ID3v2.3",
		},
		{
			name: "id3v24.mp3",
			make: func(out string) {
				args := append([]string{"-v", "error", "-y", "-i", f.wav, "-i", f.cover, "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "copy",
					"-id3v2_version", "4", "-metadata:s:v", "comment=Cover (front)"},
					meta("title", "Quatre", "artist", "Bo", "album", "Second", "album_artist", "Bo & Co", "track", "4/10", "disc", "2/2",
						"date", "2021", "genre", "Jazz")...)
				tool(t, "ffmpeg", append(args, out)...)
			},
			want: Info{Title: "Quatre", Artist: "Bo", Album: "Second", AlbumArtist: "Bo & Co", Genre: "Jazz",
				Track: 4, TrackTotal: 10, Disc: 2, DiscTotal: 2, Year: 2021, MediaType: "audio/mpeg"},
			art: "embedded", format: "ID3v2.4",
		},
		{
			name: "id3v1.mp3",
			make: func(out string) {
				tool(t, "lame", "--quiet", "--id3v1-only", "--tt", "Old Song", "--ta", "Old Band", "--tl", "Old Album", "--ty", "1999", "--tn", "7", f.wav, out)
			},
			want:   Info{Title: "Old Song", Artist: "Old Band", Album: "Old Album", Track: 7, Year: 1999, MediaType: "audio/mpeg"},
			format: "ID3v1",
		},
		{
			// flac writes Vorbis comments; metaflac adds a PICTURE block.
			name: "tagged.flac",
			make: func(out string) {
				tool(t, "flac", "-s", "-f", "-T", "TITLE=Fleuve", "-T", "ARTIST=Cé", "-T", "ALBUM=Eaux", "-T", "ALBUMARTIST=Cé et al",
					"-T", "TRACKNUMBER=2", "-T", "TRACKTOTAL=9", "-T", "DISCNUMBER=1", "-T", "DATE=2020-06-01", "-T", "GENRE=Folk", "-o", out, f.wav)
				tool(t, "metaflac", "--import-picture-from="+f.cover, out)
			},
			want: Info{Title: "Fleuve", Artist: "Cé", Album: "Eaux", AlbumArtist: "Cé et al", Genre: "Folk",
				Track: 2, TrackTotal: 9, Disc: 1, Year: 2020, MediaType: "audio/flac"},
			art: "embedded", format: "VORBIS",
		},
		{
			name: "tagged.ogg",
			make: func(out string) {
				tool(t, "oggenc", "-Q", "-t", "Vague", "-a", "Dé", "-l", "Marées", "-N", "5", "-d", "2018", "-G", "Pop",
					"-c", "ALBUMARTIST=Dé", "-o", out, f.wav)
			},
			want: Info{Title: "Vague", Artist: "Dé", Album: "Marées", AlbumArtist: "Dé", Genre: "Pop", Track: 5, Year: 2018, MediaType: "audio/ogg"},
			art:  "", format: "VORBIS",
		},
		{
			name: "tagged.opus",
			make: func(out string) {
				tool(t, "ffmpeg", append(append([]string{"-v", "error", "-y", "-i", f.wav, "-c:a", "libopus"},
					meta("title", "Opale", "artist", "Eve", "album", "Pierres", "track", "1")...,
				), out)...)
			},
			want:   Info{Title: "Opale", Artist: "Eve", Album: "Pierres", Track: 1, MediaType: "audio/ogg"},
			format: "VORBIS",
		},
		{
			name: "tagged.m4a",
			make: func(out string) {
				args := append([]string{"-v", "error", "-y", "-i", f.wav, "-i", f.cover, "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "copy",
					"-disposition:v", "attached_pic"},
					meta("title", "Mécanique", "artist", "Fa", "album", "Rouages", "album_artist", "Fa", "track", "6/8", "disc", "1/1",
						"date", "2017", "genre", "Electronic")...)
				tool(t, "ffmpeg", append(args, out)...)
			},
			want: Info{Title: "Mécanique", Artist: "Fa", Album: "Rouages", AlbumArtist: "Fa", Genre: "Electronic",
				Track: 6, TrackTotal: 8, Disc: 1, DiscTotal: 1, Year: 2017, MediaType: "audio/mp4"},
			art: "embedded", format: "MP4",
		},
		{
			// ffmpeg writes RIFF LIST/INFO.
			name: "info.wav",
			make: func(out string) {
				tool(t, "ffmpeg", append(append([]string{"-v", "error", "-y", "-i", f.wav},
					meta("title", "Onde", "artist", "Gi", "album", "Signaux", "genre", "Ambient", "date", "2016", "track", "11")...), out)...)
			},
			want:   Info{Title: "Onde", Artist: "Gi", Album: "Signaux", Genre: "Ambient", Year: 2016, Track: 11, MediaType: "audio/wav"},
			format: "RIFF INFO",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := f.path(c.name)
			c.make(out)
			in := read(t, out)
			got := *in
			got.Duration, got.Artwork, got.ArtworkSource, got.TagFormat, got.Problems = 0, nil, "", "", nil
			if got.Title != c.want.Title || got.Artist != c.want.Artist || got.Album != c.want.Album || got.AlbumArtist != c.want.AlbumArtist ||
				got.Genre != c.want.Genre || got.Track != c.want.Track || got.TrackTotal != c.want.TrackTotal || got.Disc != c.want.Disc ||
				got.DiscTotal != c.want.DiscTotal || got.Year != c.want.Year || got.MediaType != c.want.MediaType {
				t.Errorf("got  %+v\nwant %+v\nproblems %q", got, c.want, in.Problems)
			}
			if in.TagFormat != c.format {
				t.Errorf("tag format %q, want %q", in.TagFormat, c.format)
			}
			checkDuration(t, in, 3*time.Second)
			if c.art != "" {
				checkArt(t, in, c.art, 256, 170)
			} else if in.Artwork != nil {
				t.Errorf("artwork from %q, want none", in.ArtworkSource)
			}
		})
	}
}

// An untagged WAV is named from its file name and takes the cover beside it.
func TestUntaggedFromFileName(t *testing.T) {
	f := newFixtures(t)
	album := f.path("Some Album")
	if err := os.Mkdir(album, 0o755); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(album, "07 - Hal Smith - Long_Walk.wav")
	tool(t, "sox", "-q", "-n", "-r", "22050", "-c", "1", wav, "synth", "2.5", "sine", "300")
	writeCover(t, filepath.Join(album, "Folder.JPG"), 100, 300, color.RGBA{220, 10, 10, 255})
	in := read(t, wav)
	if in.Title != "Long Walk" || in.Artist != "Hal Smith" || in.Track != 7 || in.TagFormat != "" || in.MediaType != "audio/wav" {
		t.Errorf("got %+v", in)
	}
	checkDuration(t, in, 2500*time.Millisecond)
	checkArt(t, in, "Folder.JPG", 85, 256)

	// An MP3 without any tag: the frame scan gives its length.
	mp3 := f.path("Just a title.mp3")
	tool(t, "lame", "--quiet", "-t", "--cbr", "-b", "128", f.wav, mp3)
	in = read(t, mp3)
	if in.Title != "Just a title" || in.Artist != "" || in.MediaType != "audio/mpeg" {
		t.Errorf("got %+v", in)
	}
	checkDuration(t, in, 3*time.Second)
}

func TestNotMedia(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(p, []byte("hello, this is not audio at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), "not a media file") {
		t.Errorf("Read(text) = %v, want ErrNotMedia", err)
	}
}
