package tags

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/color"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"
)

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// id3Frame is one ID3v2.3 frame (plain 32-bit size).
func id3Frame(id string, size uint32, body []byte) []byte {
	b := make([]byte, 10, 10+len(body))
	copy(b, id)
	binary.BigEndian.PutUint32(b[4:8], size)
	return append(b, body...)
}

// id3Tag wraps frames in an ID3v2.3 header whose synchsafe size is size.
func id3Tag(size int, frames ...[]byte) []byte {
	h := []byte{'I', 'D', '3', 3, 0, 0, byte(size >> 21 & 0x7f), byte(size >> 14 & 0x7f), byte(size >> 7 & 0x7f), byte(size & 0x7f)}
	for _, f := range frames {
		h = append(h, f...)
	}
	return h
}

func TestSecurityHostileTags(t *testing.T) {
	f := newFixtures(t)
	plain := f.path("plain.mp3")
	tool(t, "lame", "--quiet", "-t", "--cbr", "-b", "128", f.wav, plain)
	audio, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	flacPath := f.path("pic.flac")
	tool(t, "flac", "-s", "-f", "-T", "TITLE=ok", "-o", flacPath, f.wav)
	tool(t, "metaflac", "--import-picture-from="+f.cover, flacPath)
	flacBytes, _ := os.ReadFile(flacPath)

	badUTF8 := append([]byte{3}, bytes.Repeat([]byte{0xff, 0xfe, 'a', 0xc3}, 5000)...) // "UTF-8" that is not
	longTitle := append([]byte{0}, bytes.Repeat([]byte("x"), 100_000)...)

	cases := []struct {
		name  string
		file  string
		data  []byte
		check func(t *testing.T, in *Info)
	}{
		{
			// The tag claims 256 MiB in a small file.
			name: "id3 size lies",
			file: "03 - Lying Size.mp3",
			data: append(id3Tag(0x0fffffff, id3Frame("TIT2", 5, []byte{0, 'a', 'b', 'c', 'd'})), audio...),
			check: func(t *testing.T, in *Info) {
				if in.Title == "" || in.MediaType != "audio/mpeg" {
					t.Errorf("no fallback: %+v", in)
				}
			},
		},
		{
			// One frame claims 2 GiB inside a tag that says it is small.
			name: "frame size lies",
			file: "Frame Lies.mp3",
			data: append(id3Tag(100, id3Frame("TIT2", 0x7fffffff, []byte{0, 'a'})), audio...),
			check: func(t *testing.T, in *Info) {
				if in.Title != "Frame Lies" {
					t.Errorf("title %q, want the file name", in.Title)
				}
			},
		},
		{
			name: "bad utf-8",
			file: "x.mp3",
			data: func() []byte {
				fr := id3Frame("TIT2", uint32(len(badUTF8)), badUTF8)
				return append(id3Tag(len(fr), fr), audio...)
			}(),
			check: func(t *testing.T, in *Info) {
				if !utf8.ValidString(in.Title) || utf8.RuneCountInString(in.Title) > MaxText || in.Title == "" {
					t.Errorf("title not bounded valid UTF-8: %d runes, valid=%v", utf8.RuneCountInString(in.Title), utf8.ValidString(in.Title))
				}
			},
		},
		{
			name: "100k title",
			file: "y.mp3",
			data: func() []byte {
				fr := id3Frame("TIT2", uint32(len(longTitle)), longTitle)
				return append(id3Tag(len(fr), fr), audio...)
			}(),
			check: func(t *testing.T, in *Info) {
				if n := utf8.RuneCountInString(in.Title); n != MaxText {
					t.Errorf("title of %d runes, want %d", n, MaxText)
				}
			},
		},
		{
			// An APIC of 30 MiB: over the read budget, so no tags and no
			// picture, but the file is still added under its name.
			name: "huge picture",
			file: "Huge Picture.mp3",
			data: func() []byte {
				body := append([]byte{0, 'i', 'm', 'a', 'g', 'e', '/', 'j', 'p', 'e', 'g', 0, 3, 0}, make([]byte, 30<<20)...)
				fr := append(id3Frame("TIT2", 3, []byte{0, 'o', 'k'}), id3Frame("APIC", uint32(len(body)), body)...)
				return append(id3Tag(len(fr), fr), audio...)
			}(),
			check: func(t *testing.T, in *Info) {
				if in.Artwork != nil || in.Title == "" {
					t.Errorf("got artwork %d bytes, title %q", len(in.Artwork), in.Title)
				}
			},
		},
		{
			// A PICTURE block declaring 40000×40000 pixels: refused before decoding.
			name: "flac picture dimensions lie",
			file: "z.flac",
			data: func() []byte {
				b := bytes.Clone(flacBytes)
				i := bytes.Index(b, []byte{0xff, 0xd8, 0xff}) // the JPEG inside the PICTURE block
				sof := bytes.Index(b[i:], []byte{0xff, 0xc0})
				if i < 0 || sof < 0 {
					t.Fatal("no JPEG SOF0 in the FLAC picture")
				}
				binary.BigEndian.PutUint16(b[i+sof+5:], 40000)
				binary.BigEndian.PutUint16(b[i+sof+7:], 40000)
				return b
			}(),
			check: func(t *testing.T, in *Info) {
				if in.Artwork != nil || in.Title != "ok" || !strings.Contains(strings.Join(in.Problems, ";"), "refused") {
					t.Errorf("artwork %d bytes, title %q, problems %q", len(in.Artwork), in.Title, in.Problems)
				}
			},
		},
		{
			// An MP4 whose first box claims 4 GiB.
			name: "mp4 box size lies",
			file: "w.m4a",
			data: append([]byte{0xff, 0xff, 0xff, 0xf0, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ', 0, 0, 0, 0}, make([]byte, 1000)...),
			check: func(t *testing.T, in *Info) {
				if in.Title != "w" || in.MediaType != "audio/mp4" || in.Duration != 0 {
					t.Errorf("got %+v", in)
				}
			},
		},
		{
			// A WAV whose data chunk claims 4 GiB: the duration counts what is there.
			name: "wav data size lies",
			file: "v.wav",
			data: func() []byte {
				b, err := os.ReadFile(f.wav)
				if err != nil {
					t.Fatal(err)
				}
				i := bytes.Index(b, []byte("data"))
				binary.LittleEndian.PutUint32(b[i+4:], 0xffffffff)
				return b
			}(),
			check: func(t *testing.T, in *Info) {
				checkDuration(t, in, 3e9)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &countingReaderAt{r: bytes.NewReader(c.data)}
			o := Options{MaxTagBytes: 4 << 20}
			in, err := ReadAt(context.Background(), r, int64(len(c.data)), c.file, o)
			if err != nil {
				t.Fatalf("ReadAt: %v (the file must still be added)", err)
			}
			c.check(t, in)
			// Tag budget + duration budget + a sniff window.
			if n, max := r.n.Load(), 2*o.MaxTagBytes+(256<<10); n > max {
				t.Errorf("read %d bytes, more than %d", n, max)
			}
			if len(in.Problems) > MaxProblems {
				t.Errorf("%d problems", len(in.Problems))
			}
		})
	}
	_ = color.RGBA{}
}
