package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// ErrBadID is wrapped by every error about a malformed or mistyped device ID.
var ErrBadID = errors.New("bad device id")

const (
	luhnAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b32Len       = 52 // base32 characters of a SHA-256 sum, unpadded
	groupData    = 13 // data characters per check character
	groups       = b32Len / groupData
	rawLen       = b32Len + groups // 56
	displayGroup = 7
	// IDLen is the length of an ID in canonical form.
	IDLen = rawLen + rawLen/displayGroup - 1 // 63
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ID identifies a device (or a directory) by the hash of its ed25519 public
// key, in the canonical form described in the package documentation. The zero
// value "" means no device.
type ID string

// IDFromKey returns the ID of the device whose ed25519 public key is pub.
func IDFromKey(pub ed25519.PublicKey) ID {
	sum := sha256.Sum256(pub)
	return idFromSum(sum)
}

func idFromSum(sum [32]byte) ID {
	enc := b32.EncodeToString(sum[:])
	var raw strings.Builder
	raw.Grow(rawLen)
	for g := 0; g < groups; g++ {
		part := enc[g*groupData : (g+1)*groupData]
		raw.WriteString(part)
		raw.WriteByte(luhnAlphabet[luhn32(part)])
	}
	r := raw.String()
	var out strings.Builder
	out.Grow(IDLen)
	for i := 0; i < rawLen; i += displayGroup {
		if i > 0 {
			out.WriteByte('-')
		}
		out.WriteString(r[i : i+displayGroup])
	}
	return ID(out.String())
}

// codepoint returns the value of c in luhnAlphabet, or -1.
func codepoint(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case '2' <= c && c <= '7':
		return int(c-'2') + 26
	}
	return -1
}

// luhn32 returns the Luhn mod 32 check value of s, which must consist of
// luhnAlphabet characters only.
func luhn32(s string) int {
	const n = 32
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		a := factor * codepoint(s[i])
		sum += a/n + a%n
		factor = 3 - factor
	}
	return (n - sum%n) % n
}

// ParseID parses a device ID, ignoring case, dashes and spaces, and returns
// it in canonical form. An ID with a wrong length, a character outside the
// base32 alphabet or a failing check character is rejected with an error
// wrapping ErrBadID.
func ParseID(s string) (ID, error) {
	if len(s) > 2*IDLen {
		return "", fmt.Errorf("%w: %d characters, want %d", ErrBadID, len(s), IDLen)
	}
	raw := make([]byte, 0, rawLen)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if codepoint(c) < 0 {
			return "", fmt.Errorf("%w: character %q at offset %d is not in A-Z2-7", ErrBadID, s[i], i)
		}
		raw = append(raw, c)
	}
	if len(raw) != rawLen {
		return "", fmt.Errorf("%w: %d id characters, want %d", ErrBadID, len(raw), rawLen)
	}
	data := make([]byte, 0, b32Len)
	for g := 0; g < groups; g++ {
		grp := raw[g*(groupData+1) : (g+1)*(groupData+1)]
		part := string(grp[:groupData])
		if want := luhnAlphabet[luhn32(part)]; grp[groupData] != want {
			return "", fmt.Errorf("%w: check character of group %d does not match (mistyped?)", ErrBadID, g+1)
		}
		data = append(data, part...)
	}
	sum, err := b32.DecodeString(string(data))
	if err != nil || len(sum) != sha256.Size {
		return "", fmt.Errorf("%w: not a SHA-256 sum", ErrBadID)
	}
	id := idFromSum([32]byte(sum))
	if strings.ReplaceAll(string(id), "-", "") != string(raw) {
		// 52 base32 characters carry 260 bits; the last 4 must be zero.
		return "", fmt.Errorf("%w: non-canonical trailing bits", ErrBadID)
	}
	return id, nil
}

// String returns the ID in canonical form.
func (id ID) String() string { return string(id) }

// Short returns the first group of the ID, for display where space is short.
func (id ID) Short() string {
	if len(id) < displayGroup {
		return string(id)
	}
	return string(id[:displayGroup])
}

// Valid reports whether id is a well-formed ID in canonical form.
func (id ID) Valid() bool {
	p, err := ParseID(string(id))
	return err == nil && p == id
}
