package app

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/kith-media/kith/directory"
)

// errText words err for a person: a directory's own message as it wrote
// it (on one line, at most maxMessage runes: plainLine), an error's own words for a person where it has them (UserText: the
// library's "not enough disk space …", without the wrapping of the calls
// that met it), otherwise the error text.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var de *directory.Error
	if errors.As(err, &de) && de.Message != "" {
		return plainLine(de.Message, maxMessage)
	}
	var ut interface{ UserText() string }
	if errors.As(err, &ut) {
		return ut.UserText()
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return err.Error()
}

// maxMessage is the most of a directory's message a status line shows: the
// client keeps up to 64 KiB of a refusal's body as its message, and what
// answers may not be the directory at all (a proxy's or a captive portal's
// HTML error page).
const maxMessage = 300

// plainLine is s as one line of at most max runes for a label: control and
// bidi control characters (a line break, U+202E turning the text around)
// become spaces, runs of spaces one, and it reads no further than it shows.
func plainLine(s string, max int) string {
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
