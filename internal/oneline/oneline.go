// Package oneline makes text that came from elsewhere fit one line of a
// status bar or a terminal: a directory's refusal is kept as its message
// (up to 64 KiB of the answer's body), and what answers may not be the
// directory at all but a proxy's or a captive portal's HTML error page,
// line breaks and U+202E included. The app's status line, the directory
// client's error text and the command-line tools' last line share it, so
// a person sees the same words everywhere.
package oneline

import (
	"strings"
	"unicode"
)

// MaxMessage is the most of a message from elsewhere that is shown.
const MaxMessage = 300

// MaxLine is the most a command-line tool's error line shows: its own
// words around a message of at most MaxMessage.
const MaxLine = 1000

// Text is s as one line of at most max runes, with "…" after them when s
// is longer: control and bidi control characters (a line break, U+202E
// turning the text around) become spaces, runs of spaces one, and it
// reads no further than it shows.
func Text(s string, max int) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s { // invalid bytes are U+FFFD
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if space && n+1 < max {
			b.WriteByte(' ')
			n, space = n+1, false
		}
		if n >= max || space {
			b.WriteRune('…')
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
