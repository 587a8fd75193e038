package oneline

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzText: whatever s holds, Text is one line of at most max runes and
// "…", with no control or bidi character and no run of spaces; text that
// is already one short plain line is shown as it is.
func FuzzText(f *testing.F) {
	f.Add("this account already has 2 devices; remove one in Settings", 300)
	f.Add("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\u202e<p>gone\r\n</p>", 20)
	f.Add("  \t\x00\u2066", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 4096 {
			return
		}
		got := Text(s, max)
		if n := utf8.RuneCountInString(got); n > max+1 || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("Text(%q, %d) = %q (%d runes)", s, max, got, n)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.IsSpace(r) && r != ' ' {
				t.Fatalf("Text(%q, %d) = %q holds %U", s, max, got, r)
			}
		}
		plain := utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && strings.Join(strings.Fields(s), " ") == s &&
			strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) < 0
		if plain && got != s {
			t.Fatalf("Text(%q, %d) = %q; want it as it is", s, max, got)
		}
	})
}
