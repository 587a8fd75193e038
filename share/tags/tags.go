package tags

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dhowden/tag"
)

// Defaults and hard limits.
const (
	DefaultMaxTagBytes = 24 << 20 // read by the tag parser in all
	DefaultMaxArtBytes = 16 << 20 // an embedded or beside-the-file picture
	DefaultThumbSize   = 256      // thumbnail side, pixels
	DefaultTimeout     = 5 * time.Second
	MaxArtPixels       = 16_000_000 // declared width × height of a picture before decoding
	MaxDuration        = 100 * time.Hour
	MaxProblems        = 8
)

// ErrNotMedia is returned by Read for a file that is none of the formats
// this package knows (a text file, a picture, a truncated header).
var ErrNotMedia = errors.New("not a media file")

// Options bound a Read. The zero value uses the defaults.
type Options struct {
	MaxTagBytes int64         // bytes the tag parser may read; 0 = DefaultMaxTagBytes
	MaxArtBytes int64         // picture bytes accepted; 0 = DefaultMaxArtBytes
	ThumbSize   int           // thumbnail side; 0 = DefaultThumbSize
	Timeout     time.Duration // for tags and duration each; 0 = DefaultTimeout
	NoArtwork   bool          // skip pictures (faster listings)
	// DeferScan: an MP3 whose duration needs its frames counted is not
	// read whole; Info.Scan is set instead (for a caller that reads the
	// whole file anyway, such as one sealing it).
	DeferScan bool
	Logger    *slog.Logger // nil = slog.Default()
}

func (o *Options) defaults() {
	if o.MaxTagBytes <= 0 {
		o.MaxTagBytes = DefaultMaxTagBytes
	}
	if o.MaxArtBytes <= 0 {
		o.MaxArtBytes = DefaultMaxArtBytes
	}
	if o.ThumbSize <= 0 || o.ThumbSize > 1024 {
		o.ThumbSize = DefaultThumbSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Info is what Read found. Text fields are valid UTF-8 of at most MaxText
// runes; numbers are 0 when unknown.
type Info struct {
	Title       string        `json:"title"`
	Artist      string        `json:"artist,omitempty"`
	Album       string        `json:"album,omitempty"`
	AlbumArtist string        `json:"album_artist,omitempty"`
	Genre       string        `json:"genre,omitempty"`
	Track       int           `json:"track,omitempty"`
	TrackTotal  int           `json:"track_total,omitempty"`
	Disc        int           `json:"disc,omitempty"`
	DiscTotal   int           `json:"disc_total,omitempty"`
	Year        int           `json:"year,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"`
	// Width and Height are a video's display size in pixels (the first
	// video track's; MP4 and Matroska/WebM), 1..MaxDimension; 0 when
	// unknown or audio.
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	MediaType string `json:"media_type"`       // "audio/mpeg", "audio/flac", "audio/ogg", "audio/mp4", "audio/wav"…
	TagFormat string `json:"format,omitempty"` // "ID3v2.3", "VORBIS", "MP4", "RIFF INFO"…; "" = untagged
	// Artwork is a JPEG thumbnail (at most Options.ThumbSize a side) of the
	// embedded picture or of a cover beside the file; nil when there is none.
	Artwork       []byte   `json:"-"`
	ArtworkSource string   `json:"artwork_source,omitempty"` // "embedded" or the cover file's name
	Problems      []string `json:"problems,omitempty"`       // what was ignored, for the log
	// Scan is set, with Options.DeferScan, for an MP3 whose first frame
	// carries no frame count: Duration is 0 until all of the file's bytes,
	// from the first, are written to Scan in order and FinishScan is called.
	Scan *FrameScan `json:"-"`
}

// FinishScan sets Duration from Scan (see Options.DeferScan), or notes
// why it could not, and drops Scan.
func (in *Info) FinishScan() {
	if in.Scan == nil {
		return
	}
	d, err := in.Scan.Duration()
	in.Scan = nil
	in.setDuration(d, err)
}

func (in *Info) setDuration(d time.Duration, err error) {
	switch {
	case err != nil:
		in.problem("duration: %v", err)
	case d < 0 || d > MaxDuration:
		in.problem("duration %v out of range", d)
	default:
		in.Duration = d
	}
}

func (in *Info) problem(format string, args ...any) {
	if len(in.Problems) < MaxProblems {
		in.Problems = append(in.Problems, cleanText(fmt.Sprintf(format, args...)))
	}
}

// Read describes the media file at path. It fails only when the file
// cannot be opened or read at all, or is not media (ErrNotMedia); tags that
// are missing or hostile leave fallbacks and entries in Problems.
func Read(ctx context.Context, path string, o Options) (*Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading tags: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading tags of %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("reading tags of %s: not a regular file", path)
	}
	in, err := ReadAt(ctx, f, st.Size(), path, o)
	if err != nil {
		return nil, err
	}
	if in.Artwork == nil && !o.NoArtwork {
		coverBeside(path, in, o)
	}
	return in, nil
}

// ReadAt describes media of the given size read through r; name is the
// file name used for the fallback title and the format hint. It does not
// look beside the file for a cover (Read does).
func ReadAt(ctx context.Context, r io.ReaderAt, size int64, name string, o Options) (*Info, error) {
	o.defaults()
	head := make([]byte, 64)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading tags of %s: %w", name, err)
	}
	head = head[:n]
	k := sniff(head, r, size, name)
	if k == kindUnknown {
		return nil, fmt.Errorf("reading tags of %s: %w", name, ErrNotMedia)
	}
	in := &Info{MediaType: k.mediaType(name)}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading tags of %s: %w", name, err)
	}
	if k == kindWAV {
		readRIFF(r, size, in, o)
	} else if k != kindMatroska {
		readTags(r, size, k, in, o)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading tags of %s: %w", name, err)
	}
	if k == kindMP3 && o.DeferScan {
		d, scan, err := mp3Head(newBudgetReader(r, size, o.MaxTagBytes, time.Now().Add(o.Timeout)))
		if err == nil && scan != nil {
			in.Scan = scan
		} else {
			in.setDuration(d, err)
		}
	} else if k != kindMatroska {
		in.setDuration(duration(k, newBudgetReader(r, size, o.MaxTagBytes, time.Now().Add(o.Timeout))))
	}
	if k == kindMatroska {
		d, w, h, derr, serr := mkvHeaders(newBudgetReader(r, size, o.MaxTagBytes, time.Now().Add(o.Timeout)))
		in.setDuration(d, derr)
		switch {
		case serr == nil:
			in.Width, in.Height = w, h
		case !errors.Is(serr, errNoVideo):
			in.problem("resolution: %v", serr)
		}
	}
	if k == kindMP4 {
		w, h, err := mp4Resolution(newBudgetReader(r, size, o.MaxTagBytes, time.Now().Add(o.Timeout)))
		switch {
		case err == nil:
			in.Width, in.Height = w, h
		case !errors.Is(err, errNoVideo):
			in.problem("resolution: %v", err)
		}
	}
	if in.Title == "" {
		t := in.Track
		nameFromFile(name, in)
		if in.TagFormat != "" && t != 0 {
			in.Track = t
		}
	}
	return in, nil
}

// readTags runs the tag parser over a budgeted view of the file.
func readTags(r io.ReaderAt, size int64, k kind, in *Info, o Options) {
	br := newBudgetReader(r, size, o.MaxTagBytes, time.Now().Add(o.Timeout))
	m, err := parse(br)
	if err != nil && k == kindMP3 {
		// A broken ID3v2 tag: an ID3v1 tag at the end may still be good.
		if !errors.Is(err, tag.ErrNoTagsFound) {
			in.problem("tags: %v", err)
		}
		br = newBudgetReader(r, size, 4096, time.Now().Add(o.Timeout))
		m, err = parseV1(br)
	}
	if err != nil {
		if !errors.Is(err, tag.ErrNoTagsFound) && !errors.Is(err, tag.ErrNotID3v1) {
			in.problem("tags: %v", err)
		}
		return
	}
	if err := sanitizeRaw(m); err != nil {
		in.problem("tags: %v", err)
		return
	}
	if err := extract(m, in); err != nil {
		in.problem("tags: %v", err)
		return
	}
	if p := safePicture(m); p != nil && !o.NoArtwork {
		thumb, err := thumbnail(bytes.NewReader(p.Data), int64(len(p.Data)), o)
		if err != nil {
			in.problem("embedded picture: %v", err)
		} else {
			in.Artwork, in.ArtworkSource = thumb, "embedded"
		}
	}
}

// extract copies the parser's fields into in, cleaned and clamped.
func extract(m tag.Metadata, in *Info) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed tags (parser panic: %v)", p)
		}
	}()
	in.TagFormat = string(m.Format())
	in.Title = cleanText(m.Title())
	in.Artist = cleanText(m.Artist())
	in.Album = cleanText(m.Album())
	in.AlbumArtist = cleanText(m.AlbumArtist())
	in.Genre = cleanText(m.Genre())
	if y := m.Year(); y > 0 && y <= 9999 {
		in.Year = y
	}
	t, tt := m.Track()
	in.Track, in.TrackTotal = clampNum(t, 9999), clampNum(tt, 9999)
	d, dt := m.Disc()
	in.Disc, in.DiscTotal = clampNum(d, 9999), clampNum(dt, 9999)
	if in.Year == 0 {
		in.Year = yearFromRaw(m)
	}
	return nil
}

// parse is tag.ReadFrom with a parser panic turned into an error.
func parse(r io.ReadSeeker) (m tag.Metadata, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("malformed tags (parser panic: %v)", p)
		}
	}()
	return tag.ReadFrom(r)
}

func parseV1(r io.ReadSeeker) (m tag.Metadata, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("malformed ID3v1 tag (parser panic: %v)", p)
		}
	}()
	return tag.ReadID3v1Tags(r)
}

// maxRawText is the most bytes of one raw tag value the getters see:
// enough for MaxText runes, and it keeps the parser's own post-processing
// (ID3v2 genre expansion is quadratic in the value) cheap.
const maxRawText = 4 * MaxText * 4

// sanitizeRaw cuts every text value of the parser's map (Raw returns the
// map the getters read) to maxRawText bytes.
func sanitizeRaw(m tag.Metadata) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed tags (parser panic: %v)", p)
		}
	}()
	for k, v := range m.Raw() {
		if s, ok := v.(string); ok && len(s) > maxRawText {
			m.Raw()[k] = s[:maxRawText]
		}
	}
	return nil
}

func safePicture(m tag.Metadata) (p *tag.Picture) {
	defer func() {
		if recover() != nil {
			p = nil
		}
	}()
	p = m.Picture()
	if p == nil || len(p.Data) == 0 {
		return nil
	}
	return p
}

// yearFromRaw finds a year in date fields the parser does not map
// (ID3v2.4 TDRC "2019-05-01", Vorbis DATE, MP4 ©day).
func yearFromRaw(m tag.Metadata) (year int) {
	defer func() {
		if recover() != nil {
			year = 0
		}
	}()
	raw := m.Raw()
	for _, k := range []string{"TDRC", "TYER", "TDAT", "date", "year", "DATE", "\xa9day"} {
		v, ok := raw[k].(string)
		if !ok || len(v) < 4 {
			continue
		}
		if y, err := strconv.Atoi(v[:4]); err == nil && y > 0 && y <= 9999 {
			return y
		}
	}
	return 0
}

// kind is a container format recognised from the first bytes.
type kind int

const (
	kindUnknown kind = iota
	kindMP3
	kindFLAC
	kindOgg
	kindMP4
	kindWAV
	kindMatroska
)

func (k kind) mediaType(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch k {
	case kindMP3:
		return "audio/mpeg"
	case kindFLAC:
		return "audio/flac"
	case kindOgg:
		return "audio/ogg"
	case kindMP4:
		if ext == ".mp4" || ext == ".m4v" || ext == ".mov" {
			return "video/mp4"
		}
		return "audio/mp4"
	case kindWAV:
		return "audio/wav"
	case kindMatroska:
		if ext == ".webm" {
			return "video/webm"
		}
		return "video/x-matroska"
	}
	return ""
}

// sniff recognises the container from its first bytes (and, for an MP3
// without an ID3v2 tag, a frame header followed by another).
func sniff(head []byte, r io.ReaderAt, size int64, name string) kind {
	switch {
	case len(head) >= 4 && string(head[:4]) == "fLaC":
		return kindFLAC
	case len(head) >= 4 && string(head[:4]) == "OggS":
		return kindOgg
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return kindMP4
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return kindWAV
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x1a, 0x45, 0xdf, 0xa3}):
		return kindMatroska
	case len(head) >= 10 && string(head[:3]) == "ID3":
		// An ID3v2 tag in front of FLAC happens; look behind it.
		off := int64(id3v2Size(head))
		var b [4]byte
		if n, _ := r.ReadAt(b[:], off); n == 4 && string(b[:]) == "fLaC" {
			return kindFLAC
		}
		return kindMP3
	}
	// The budget covers the 64 KiB looked through and the next header
	// read for each candidate (an untagged MP3 over 64 KiB was refused as
	// not media when it covered the 64 KiB alone).
	if _, ok := firstFrame(newBudgetReader(r, size, 192<<10, time.Time{}), 0, 64<<10); ok {
		return kindMP3
	}
	return kindUnknown
}
