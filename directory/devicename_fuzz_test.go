package directory

import (
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCheckDeviceName: any string is either refused with a 400 on the
// name, or accepted as a trimmed name of 1 to MaxDeviceName runes of valid
// UTF-8 that holds no control, bidi, separator or format character but a
// joiner between two visible characters or a flag's ended tag run — and
// checking what was accepted accepts it unchanged.
func FuzzCheckDeviceName(f *testing.F) {
	for _, s := range []string{"Küche", "Kitchen\u202Etxt.exe", "a\u200Db", "\u200D", "x\u200C", "👨‍👩‍👧",
		"\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "\U0001F3F4\U000E0067",
		"\U000E007F", "x\x00y", "\xff", " padded ", strings.Repeat("é", 65), "one\u2028two", "\uFEFF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := CheckDeviceName(s)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Status != http.StatusBadRequest || !strings.HasPrefix(e.Message, "name: ") {
				t.Fatalf("%q refused with %v; want a 400 on the name", s, err)
			}
			return
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > MaxDeviceName || !utf8.ValidString(name) || name != strings.TrimSpace(name) {
			t.Fatalf("%q accepted as %q (%d runes)", s, name, n)
		}
		rs := []rune(name)
		for i, r := range rs {
			bad := unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp)
			if unicode.Is(unicode.Cf, r) {
				switch {
				case r == '\u200C' || r == '\u200D':
					bad = i == 0 || i == len(rs)-1 || !visibleInName(rs[i-1]) || !visibleInName(rs[i+1])
				case r >= tagFirst && r <= tagEnd:
					j := i
					for j > 0 && rs[j-1] >= tagFirst && rs[j-1] <= tagLast {
						j--
					}
					k := i
					for k < len(rs)-1 && rs[k] != tagEnd && rs[k+1] >= tagFirst && rs[k+1] <= tagEnd {
						k++
					}
					bad = j == 0 || rs[j-1] != blackFlag || rs[k] != tagEnd || j == i && r == tagEnd
				default:
					bad = true
				}
			}
			if bad {
				t.Fatalf("%q accepted as %q, which holds %U at %d", s, name, r, i)
			}
		}
		if again, err := CheckDeviceName(name); err != nil || again != name {
			t.Fatalf("%q accepted as %q, then %q, %v", s, name, again, err)
		}
	})
}
