package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// SniffLen is the number of leading bytes Sniff needs to decide.
const SniffLen = 64

// Format is a media format recognised by Sniff.
type Format int

// Formats.
const (
	Unknown Format = iota
	MP3
	Vorbis
	WAV
	FLAC
	PNG
	JPEG
	// MP4 (ISO BMFF: .mp4, .m4a), Matroska (.mkv, .webm) and Opus (Ogg
	// Opus) are decoded by FFmpeg (package av); their sound is played.
	MP4
	Matroska
	Opus
)

var formatNames = [...]string{"unknown", "mp3", "vorbis", "wav", "flac", "png", "jpeg", "mp4", "matroska", "opus"}

// String is the short lowercase name ("mp3", "vorbis"...).
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("format(%d)", int(f))
	}
	return formatNames[f]
}

// MediaType is the MIME type of the format ("audio/mpeg"...), "" if unknown.
func (f Format) MediaType() string {
	switch f {
	case MP3:
		return "audio/mpeg"
	case Vorbis:
		return "audio/ogg"
	case WAV:
		return "audio/wav"
	case FLAC:
		return "audio/flac"
	case PNG:
		return "image/png"
	case JPEG:
		return "image/jpeg"
	case MP4:
		return "video/mp4"
	case Matroska:
		return "video/webm"
	case Opus:
		return "audio/opus"
	}
	return ""
}

// IsImage reports whether the format is a still image (shown, not played).
func (f Format) IsImage() bool { return f == PNG || f == JPEG }

// IsAudio reports whether the format is played.
func (f Format) IsAudio() bool { return f >= MP3 && f <= FLAC || f.IsFFmpeg() }

// IsFFmpeg reports whether the format is decoded by FFmpeg (package av).
func (f Format) IsFFmpeg() bool { return f == MP4 || f == Matroska || f == Opus }

// ErrUnsupported is matched (errors.Is) by every error for media this
// package cannot play or show.
var ErrUnsupported = errors.New("unsupported media type")

// UnsupportedError says what unsupported media was seen.
type UnsupportedError struct {
	// What describes the media: a sniffed MIME type, the catalog's type, or a reason.
	What string
}

func (e *UnsupportedError) Error() string { return "unsupported media type: " + e.What }

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Sniff recognises the format from the first bytes (SniffLen are enough).
func Sniff(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte("ID3")):
		return MP3
	case bytes.HasPrefix(head, []byte("fLaC")):
		return FLAC
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return WAV
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return JPEG
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return MP4
	case bytes.HasPrefix(head, []byte("\x1a\x45\xdf\xa3")):
		return Matroska
	case bytes.HasPrefix(head, []byte("OggS")):
		// Page header is 27 bytes + segment table; the first packet follows.
		if len(head) >= 27 {
			p := 27 + int(head[26])
			if len(head) >= p+7 && string(head[p:p+7]) == "\x01vorbis" {
				return Vorbis
			}
			if len(head) >= p+8 && string(head[p:p+8]) == "OpusHead" {
				return Opus
			}
		}
		return Unknown
	}
	if _, ok := parseMPEGHeader(head); ok {
		return MP3
	}
	return Unknown
}

// describe names unknown bytes for an UnsupportedError.
func describe(head []byte, hint string) string {
	ct := http.DetectContentType(head)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if bytes.HasPrefix(head, []byte("OggS")) {
		ct = "application/ogg (not vorbis or opus)"
	}
	if ct == "application/octet-stream" && hint != "" {
		ct = hint
	}
	var b strings.Builder
	b.WriteString(ct)
	if hint != "" && hint != ct {
		fmt.Fprintf(&b, " (catalog says %s)", hint)
	}
	if len(head) == 0 {
		b.WriteString(" (empty)")
	} else {
		n := min(len(head), 8)
		fmt.Fprintf(&b, " (starts with %q)", strings.Map(func(r rune) rune {
			if r > unicode.MaxASCII || !unicode.IsPrint(r) {
				return '.'
			}
			return r
		}, string(head[:n])))
	}
	return b.String()
}

// mpegHeader is the part of an MPEG audio frame header the package uses.
type mpegHeader struct {
	bitrate    int // bits per second
	sampleRate int
}

var (
	mpeg1L3Rates  = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, -1}
	mpeg2L3Rates  = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, -1}
	mpegFreqs     = [3]int{44100, 48000, 32000}
	errNoMPEGSync = errors.New("no mpeg frame header")
)

// parseMPEGHeader reads a Layer III frame header at b[0:4].
func parseMPEGHeader(b []byte) (mpegHeader, bool) {
	if len(b) < 4 {
		return mpegHeader{}, false
	}
	h := binary.BigEndian.Uint32(b)
	if h>>21 != 0x7FF {
		return mpegHeader{}, false
	}
	version := (h >> 19) & 3 // 0: 2.5, 1: reserved, 2: 2, 3: 1
	layer := (h >> 17) & 3   // 1: layer III
	br := (h >> 12) & 15
	sr := (h >> 10) & 3
	if version == 1 || layer != 1 || br == 0 || br == 15 || sr == 3 {
		return mpegHeader{}, false
	}
	rate := mpegFreqs[sr]
	kbps := mpeg1L3Rates[br]
	switch version {
	case 2:
		rate /= 2
		kbps = mpeg2L3Rates[br]
	case 0:
		rate /= 4
		kbps = mpeg2L3Rates[br]
	}
	return mpegHeader{bitrate: kbps * 1000, sampleRate: rate}, true
}

// id3Size is the length of an ID3v2 tag at the start of b (0 if none).
func id3Size(b []byte) int {
	if len(b) < 10 || string(b[:3]) != "ID3" {
		return 0
	}
	n := int(b[6]&0x7f)<<21 | int(b[7]&0x7f)<<14 | int(b[8]&0x7f)<<7 | int(b[9]&0x7f)
	if b[5]&0x10 != 0 { // footer present
		n += 10
	}
	return 10 + n
}

// vorbisNominalBitrate reads the nominal bitrate from the identification
// header in the first Ogg page (0 if absent).
func vorbisNominalBitrate(head []byte) int {
	if len(head) < 27 {
		return 0
	}
	p := 27 + int(head[26])
	// "\x01vorbis" version(4) channels(1) rate(4) max(4) nominal(4)
	if len(head) < p+7+4+1+4+4+4 {
		return 0
	}
	v := int32(binary.LittleEndian.Uint32(head[p+7+4+1+4+4:]))
	if v <= 0 {
		return 0
	}
	return int(v)
}
