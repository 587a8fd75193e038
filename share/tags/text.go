package tags

import (
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxText is the most runes kept of any text field (the directory accepts
// titles and artists of at most 200 characters).
const MaxText = 200

// cleanText makes s valid UTF-8 without control characters, collapses
// runs of white space and cuts it to MaxText runes.
func cleanText(s string) string {
	if len(s) > 4*MaxText*4 {
		s = s[:4*MaxText*4] // no need to look further than this
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	n, space := 0, false
	for _, r := range s {
		if r == 0 {
			break // ID3v1 and some v2 writers pad with NUL
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\uFEFF' {
			space = b.Len() > 0
			continue
		}
		if !unicode.IsPrint(r) && !unicode.IsMark(r) && r != '\uFFFD' {
			continue
		}
		if space {
			if n+1 >= MaxText {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= MaxText {
			break
		}
		b.WriteRune(r)
		n++
	}
	out := b.String()
	if !utf8.ValidString(out) { // cannot happen; fail closed anyway
		return ""
	}
	return out
}

// clampNum keeps n in 0..max (0 = unknown).
func clampNum(n, max int) int {
	if n < 0 || n > max {
		return 0
	}
	return n
}

// nameFromFile fills title (and artist, track when empty) from a file name
// such as "03 - Artist - Title.mp3", "03. Title.flac" or "Title.wav".
func nameFromFile(path string, in *Info) {
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	base = strings.ReplaceAll(base, "_", " ")
	s := strings.TrimSpace(base)
	// A leading track number: digits followed by " - ", ". ", "-", " ".
	i := 0
	for i < len(s) && i < 4 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) {
		rest := s[i:]
		sep := strings.TrimLeft(rest, " .-)")
		if len(sep) < len(rest) && sep != "" {
			if n, err := strconv.Atoi(s[:i]); err == nil && in.Track == 0 {
				in.Track = clampNum(n, 9999)
			}
			s = sep
		}
	}
	if a, t, ok := strings.Cut(s, " - "); ok && in.Artist == "" && strings.TrimSpace(a) != "" && strings.TrimSpace(t) != "" {
		in.Artist = cleanText(a)
		s = t
	}
	in.Title = cleanText(s)
	if in.Title == "" {
		in.Title = cleanText(base)
	}
	if in.Title == "" {
		in.Title = "Untitled"
	}
}
