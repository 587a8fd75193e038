package directory

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDeviceName is the most characters (runes) a device's name may have.
const MaxDeviceName = 64

// CheckDeviceName returns name without its surrounding spaces when a
// directory takes it as a device's name, else the 400 the directory
// answers for it, in the same words, so a client can refuse it before
// sending (Client.EnrollDevice does). A name is shown to the account's
// people (Settings → Devices, a device's whois) and to an operator's
// logs, so it holds no character that hides or disguises what it says:
// no control characters (a newline drawing a second row, NUL, C1), no
// bidi controls (U+202E turning "Kitchen\u202Etxt.exe" into
// "Kitchenexe.txt", U+200E/F, U+2066–2069), no line or paragraph
// separators and no invisible format characters (zero-width space, word
// joiner, byte-order mark, soft hyphen). Names in any script are
// accepted: accents, CJK, emoji, and the two joiners writing needs —
// U+200D and U+200C between two visible characters (emoji sequences,
// Persian and Indic words) — and the tag characters of a subdivision
// flag (U+1F3F4 followed by tags up to U+E007F).
func CheckDeviceName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fieldErrorf("name", "device name is not valid UTF-8 text")
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxDeviceName {
		return "", fieldErrorf("name", "device name must be 1 to %d characters", MaxDeviceName)
	}
	prev, i := rune(-1), 0
	for pos, r := range name {
		i++
		next := rune(-1)
		if rest := name[pos+utf8.RuneLen(r):]; rest != "" {
			next, _ = utf8.DecodeRuneInString(rest)
		}
		if hiddenInName(prev, r, next) {
			return "", fieldErrorf("name", "device name must not hold control, invisible or text-direction characters "+
				"(it holds %U at character %d): type the name again without it", r, i)
		}
		prev = r
	}
	return name, nil
}

// Tag characters (U+E0020–E007E, ended by U+E007F) follow U+1F3F4 in a
// subdivision flag's emoji sequence.
const (
	blackFlag = 0x1F3F4
	tagFirst  = 0xE0020
	tagLast   = 0xE007E
	tagEnd    = 0xE007F
)

// hiddenInName reports whether r, between prev and next (-1 at either
// end of the name), is a character a device's name must not hold.
func hiddenInName(prev, r, next rune) bool {
	switch {
	case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), unicode.In(r, unicode.Zl, unicode.Zp):
		return true
	case r == '\u200C' || r == '\u200D': // ZWNJ, ZWJ: only joining two visible characters
		return !visibleInName(prev) || !visibleInName(next)
	case r >= tagFirst && r <= tagLast: // within a flag's tag run, which must be ended
		return (prev != blackFlag && (prev < tagFirst || prev > tagLast)) || next == -1 ||
			(next != tagEnd && (next < tagFirst || next > tagLast))
	case r == tagEnd:
		return prev < tagFirst || prev > tagLast
	}
	return unicode.Is(unicode.Cf, r)
}

// visibleInName reports whether r may stand beside a joiner: a character
// that shows (a letter, a mark, a symbol, a digit), not a space, a format
// character or a name's end.
func visibleInName(r rune) bool {
	return r >= 0 && !unicode.IsSpace(r) && !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) &&
		!unicode.In(r, unicode.Zl, unicode.Zp)
}
