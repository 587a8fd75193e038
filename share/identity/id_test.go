package identity

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) ed25519.PublicKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func TestIDRoundTrip(t *testing.T) {
	for b := range 50 {
		id := IDFromKey(testKey(byte(b)))
		if len(id) != IDLen {
			t.Fatalf("len(%s) = %d, want %d", id, len(id), IDLen)
		}
		got, err := ParseID(id.String())
		if err != nil {
			t.Fatalf("ParseID(%s): %v", id, err)
		}
		if got != id {
			t.Fatalf("ParseID(%s) = %s", id, got)
		}
		if !id.Valid() {
			t.Fatalf("%s not Valid", id)
		}
		if id.Short() != string(id[:7]) {
			t.Fatalf("Short = %s", id.Short())
		}
	}
}

func TestParseIDTolerant(t *testing.T) {
	id := IDFromKey(testKey(1))
	plain := strings.ReplaceAll(string(id), "-", "")
	for _, tc := range []struct {
		name, in string
	}{
		{"canonical", string(id)},
		{"lower case", strings.ToLower(string(id))},
		{"no dashes", plain},
		{"no dashes lower", strings.ToLower(plain)},
		{"spaces instead of dashes", strings.ReplaceAll(string(id), "-", " ")},
		{"odd grouping", plain[:3] + "-" + plain[3:30] + "--" + plain[30:]},
		{"mixed case", strings.ToLower(string(id[:20])) + string(id[20:])},
	} {
		got, err := ParseID(tc.in)
		if err != nil || got != id {
			t.Errorf("%s: ParseID(%q) = %q, %v; want %q", tc.name, tc.in, got, err, id)
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	id := string(IDFromKey(testKey(2)))
	plain := strings.ReplaceAll(id, "-", "")
	for _, tc := range []struct {
		name, in string
	}{
		{"empty", ""},
		{"only dashes", "-------"},
		{"one short", plain[:len(plain)-1]},
		{"one long", plain + "A"},
		{"digit 0 not in alphabet", "0" + plain[1:]},
		{"digit 1 not in alphabet", plain[:10] + "1" + plain[11:]},
		{"digit 8 not in alphabet", plain[:10] + "8" + plain[11:]},
		{"non-ascii", plain[:10] + "é" + plain[12:]},
		{"unicode dash", strings.ReplaceAll(id, "-", "‐")},
		{"very long", strings.Repeat("A", 1000)},
		{"groups swapped", plain[14:28] + plain[:14] + plain[28:]},
		{"adjacent transposition", plain[:1] + plain[2:3] + plain[1:2] + plain[3:]},
	} {
		if tc.name == "adjacent transposition" && plain[1] == plain[2] {
			continue
		}
		got, err := ParseID(tc.in)
		if tc.name == "groups swapped" || tc.name == "adjacent transposition" {
			// Both may slip past per-group checks, but must never yield a different valid ID silently
			// without the caller seeing a different value.
			if err == nil && got == ID(id) {
				t.Errorf("%s: ParseID(%q) resolved to the original id", tc.name, tc.in)
			}
			continue
		}
		if !errors.Is(err, ErrBadID) {
			t.Errorf("%s: ParseID(%q) = %q, %v; want ErrBadID", tc.name, tc.in, got, err)
		}
	}
}

// TestParseIDEveryTypo substitutes every position of several IDs with every
// other alphabet character: every one must be rejected, never resolved to a
// different device.
func TestParseIDEveryTypo(t *testing.T) {
	n := 0
	for b := range 8 {
		id := string(IDFromKey(testKey(byte(40 + b))))
		for pos := 0; pos < len(id); pos++ {
			if id[pos] == '-' {
				continue
			}
			for _, c := range []byte(luhnAlphabet) {
				if c == id[pos] {
					continue
				}
				typo := id[:pos] + string(c) + id[pos+1:]
				if got, err := ParseID(typo); !errors.Is(err, ErrBadID) {
					t.Fatalf("typo %q at %d in %s: ParseID = %q, %v; want ErrBadID", c, pos, id, got, err)
				}
				n++
			}
		}
	}
	t.Logf("%d single-character typos rejected", n)
}

func TestTrailingBitsRejected(t *testing.T) {
	// The last base32 character of the 52 carries 4 padding bits that must be
	// zero; a variant with them set and a correct check character is rejected.
	id := string(IDFromKey(testKey(3)))
	plain := []byte(strings.ReplaceAll(id, "-", ""))
	last := 4*14 - 2 // last data character of group 4
	v := codepoint(plain[last])
	plain[last] = luhnAlphabet[v|1]
	if v&1 == 1 {
		plain[last] = luhnAlphabet[v&^1]
	}
	plain[last+1] = luhnAlphabet[luhn32(string(plain[last+1-13:last+1]))]
	if _, err := ParseID(string(plain)); !errors.Is(err, ErrBadID) {
		t.Fatalf("ParseID with trailing bits = %v, want ErrBadID", err)
	}
}

func TestLuhnKnown(t *testing.T) {
	// Hand-computed: "AB" → B(1)*2=2, A(0)*1=0 → sum 2 → check 30 = '6'.
	if got := luhnAlphabet[luhn32("AB")]; got != '6' {
		t.Fatalf("luhn32(AB) = %c, want 6", got)
	}
}

func FuzzParseID(f *testing.F) {
	f.Add(string(IDFromKey(testKey(1))))
	f.Add(strings.ToLower(string(IDFromKey(testKey(2)))))
	f.Add("")
	f.Add("AAAAAAA-AAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if !errors.Is(err, ErrBadID) {
				t.Fatalf("error %v does not wrap ErrBadID", err)
			}
			return
		}
		if !id.Valid() || len(id) != IDLen {
			t.Fatalf("ParseID(%q) = %q, not canonical", s, id)
		}
		again, err := ParseID(string(id))
		if err != nil || again != id {
			t.Fatalf("reparse %q = %q, %v", id, again, err)
		}
	})
}
