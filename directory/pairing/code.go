package pairing

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/kith-media/kith/share/identity"
)

// Limits and lifetimes (see the package documentation).
const (
	CodeLen     = 10               // symbols in a join code
	CodeTTL     = 10 * time.Minute // a code's life once shown
	MaxTries    = 5                // pairing attempts per code
	SessionTTL  = 2 * time.Minute  // from start to finish
	MaxSessions = 16               // open sessions at once
	NonceSize   = 32
	SessionSize = 16
	KeySize     = 32
	MaxBody     = 1024 // every pairing body and the code file
	maxCodeText = 64   // what ParseCode reads
)

// Alphabet is Crockford's base32 alphabet.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// argon2id parameters for K.
const (
	argonTime    = 2
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 1
)

// ErrBadCode is wrapped by every error about a mistyped join code.
var ErrBadCode = errors.New("not a join code")

// Code is a join code in canonical form, "7KQ2M-XD4HP".
type Code string

// NewCode returns a fresh random join code.
func NewCode() (Code, error) {
	var b [CodeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a join code: %w", err)
	}
	var s strings.Builder
	for i, v := range b {
		if i == CodeLen/2 {
			s.WriteByte('-')
		}
		s.WriteByte(Alphabet[v&31]) // 256 is a multiple of 32: uniform
	}
	return Code(s.String()), nil
}

// ParseCode reads a code as typed: case, spaces and '-' are ignored, I and
// L read as 1, O as 0. Every failure wraps ErrBadCode.
func ParseCode(s string) (Code, error) {
	if len(s) > maxCodeText {
		return "", fmt.Errorf("%w: too long (a join code is %d letters and digits)", ErrBadCode, CodeLen)
	}
	var raw []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		if strings.IndexByte(Alphabet, c) < 0 {
			if c >= 0x20 && c < 0x7f {
				return "", fmt.Errorf("%w: %q is not used in join codes", ErrBadCode, c)
			}
			return "", fmt.Errorf("%w: byte 0x%02x is not used in join codes", ErrBadCode, c)
		}
		raw = append(raw, c)
	}
	if len(raw) != CodeLen {
		return "", fmt.Errorf("%w: it has %d letters and digits, want %d", ErrBadCode, len(raw), CodeLen)
	}
	return Code(string(raw[:CodeLen/2]) + "-" + string(raw[CodeLen/2:])), nil
}

// String is the canonical form.
func (c Code) String() string { return string(c) }

// Key stretches code into K, bound to the directory's public key.
func Key(code Code, dirPub ed25519.PublicKey) []byte {
	h := sha256.New()
	h.Write([]byte("kith pair v1 salt\x00"))
	h.Write(dirPub)
	pw := strings.ReplaceAll(string(code), "-", "")
	return argon2.IDKey([]byte(pw), h.Sum(nil), argonTime, argonMemory, argonThreads, KeySize)
}

// Transcript is T of the package documentation.
func Transcript(dirPub ed25519.PublicKey, joinerNonce, dirNonce []byte, joiner identity.ID) []byte {
	t := make([]byte, 0, 13+32+2*NonceSize+1+len(joiner))
	t = append(t, "kith pair v1\x00"...)
	t = append(t, dirPub...)
	t = append(t, joinerNonce...)
	t = append(t, dirNonce...)
	t = append(t, byte(len(joiner)))
	return append(t, joiner...)
}

// JoinerProof is Pj.
func JoinerProof(key, transcript []byte) []byte { return mac(key, "joiner\x00", transcript) }

// DirectoryProof is Pd.
func DirectoryProof(key, transcript []byte) []byte { return mac(key, "directory\x00", transcript) }

func mac(key []byte, label string, t []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write(t)
	return m.Sum(nil)
}
