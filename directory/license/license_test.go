package license

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

var t0 = time.Date(2026, 11, 24, 5, 0, 0, 123456789, time.UTC)

// fixed returns a deterministic identity (seeds and test vectors).
func fixed(tb testing.TB, b byte) *identity.Identity {
	tb.Helper()
	box, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{b ^ 0x5a}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := identity.New(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)), box)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func contentID(b byte) sealed.ContentID {
	var c sealed.ContentID
	for i := range c {
		c[i] = b + byte(i)
	}
	return c
}

var testKey = bytes.Repeat([]byte{0xc7}, sealed.KeySize)

// testLicense issues a license for dev by dir over contentID(1).
func testLicense(tb testing.TB, dir, dev *identity.Identity, expires time.Time) *License {
	tb.Helper()
	l, err := Issue(dir, License{
		ID:        "lic-1",
		ContentID: contentID(1),
		TitleID:   "title-1",
		Account:   "alice@example.com",
		Rights:    Rights{Reshare: true, Expires: expires},
		IssuedAt:  t0,
	}, dev.Public(), testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func mustMarshal(tb testing.TB, l *License) []byte {
	tb.Helper()
	b, err := l.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// edit parses b, applies f and re-encodes canonically (keeping the old signature).
func edit(tb testing.TB, b []byte, f func(*License)) []byte {
	tb.Helper()
	l, err := Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	f(l)
	return mustMarshal(tb, l)
}

func TestLicenseRoundTrip(t *testing.T) {
	dir, dev := fixed(t, 1), fixed(t, 2)
	l := testLicense(t, dir, dev, t0.Add(24*time.Hour))
	b := mustMarshal(t, l)
	p, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s): %v", b, err)
	}
	if !bytes.Equal(mustMarshal(t, p), b) {
		t.Fatal("re-encoding differs")
	}
	key, err := Open(p, dev, dir.Public().Sign, contentID(1), t0.Add(time.Hour))
	if err != nil || !bytes.Equal(key, testKey) {
		t.Fatalf("Open = %x, %v", key, err)
	}
	if p.Issuer != dir.ID() || p.Device != dev.ID() || !p.Rights.Reshare {
		t.Fatalf("fields: %+v", p)
	}
	// No expiry: "expires" is omitted and the license never expires.
	nb := mustMarshal(t, testLicense(t, dir, dev, time.Time{}))
	if bytes.Contains(nb, []byte("expires")) {
		t.Fatalf("zero expiry encoded: %s", nb)
	}
	np, err := Parse(nb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(np, dev, dir.Public().Sign, contentID(1), t0.AddDate(100, 0, 0)); err != nil {
		t.Fatalf("Open without expiry: %v", err)
	}
}

func TestLicenseMatrix(t *testing.T) {
	dir, dev, other := fixed(t, 1), fixed(t, 2), fixed(t, 3)
	dirPub := dir.Public().Sign
	now := t0.Add(time.Hour)
	good := mustMarshal(t, testLicense(t, dir, dev, t0.Add(24*time.Hour)))
	s := string(good)

	// A license the device signed for itself, naming itself as issuer.
	selfSigned := mustMarshal(t, testLicense(t, dev, dev, time.Time{}))
	// A license signed by the device but claiming the directory as issuer.
	forged := edit(t, selfSigned, func(l *License) {
		l.Issuer = dir.ID()
		msg, _ := l.signingBytes()
		l.Signature = dev.Sign(msg)
	})
	// Correctly signed by the directory, but the key is wrapped under other
	// associated data (a directory bug): signature fine, unwrap fails.
	badWrap := edit(t, good, func(l *License) {
		l.WrappedKey, _ = identity.SealTo(dev.Public().Box, testKey, []byte("other ad"))
		msg, _ := l.signingBytes()
		l.Signature = dir.Sign(msg)
	})
	// Correctly signed, key wrapped to another device's box key.
	otherBox := edit(t, good, func(l *License) {
		ad, _ := l.keyAD()
		l.WrappedKey, _ = identity.SealTo(other.Public().Box, testKey, ad)
		msg, _ := l.signingBytes()
		l.Signature = dir.Sign(msg)
	})

	for _, tc := range []struct {
		name    string
		b       []byte
		dev     *identity.Identity
		dirPub  ed25519.PublicKey
		content sealed.ContentID
		now     time.Time
		want    error // nil = success
	}{
		// The control: everything right.
		{"valid", good, dev, dirPub, contentID(1), now, nil},
		// Another device presents the license.
		{"wrong device", good, other, dirPub, contentID(1), now, ErrWrongDevice},
		// The license is for other content than the file being played.
		{"wrong content", good, dev, dirPub, contentID(9), now, ErrWrongContent},
		// After the expiry.
		{"expired", good, dev, dirPub, contentID(1), t0.Add(25 * time.Hour), ErrExpired},
		// At the exact expiry instant.
		{"expired at instant", good, dev, dirPub, contentID(1), t0.Add(24 * time.Hour), ErrExpired},
		// One signature byte flipped.
		{"bad signature", edit(t, good, func(l *License) { l.Signature[5] ^= 1 }), dev, dirPub, contentID(1), now, ErrBadSignature},
		// A signed field changed after signing.
		{"account changed", edit(t, good, func(l *License) { l.Account = "mallory" }), dev, dirPub, contentID(1), now, ErrBadSignature},
		// Reshare right granted after signing.
		{"rights changed", edit(t, good, func(l *License) { l.Rights.Reshare = false }), dev, dirPub, contentID(1), now, ErrBadSignature},
		// Expiry pushed back after signing.
		{"expiry extended", edit(t, good, func(l *License) { l.Rights.Expires = l.Rights.Expires.AddDate(1, 0, 0) }), dev, dirPub, contentID(1), t0.Add(25 * time.Hour), ErrBadSignature},
		// Signed by the device itself, issuer = device.
		{"signed by device", selfSigned, dev, dirPub, contentID(1), now, ErrBadSignature},
		// Signed by the device, claiming to be from the directory.
		{"forged issuer", forged, dev, dirPub, contentID(1), now, ErrBadSignature},
		// Checked against another directory's pinned key.
		{"other directory", good, dev, other.Public().Sign, contentID(1), now, ErrBadSignature},
		// A pinned key of the wrong length.
		{"short directory key", good, dev, dirPub[:31], contentID(1), now, ErrBadSignature},
		// A flipped byte in the wrapped key (covered by the signature).
		{"flipped wrapped key", edit(t, good, func(l *License) { l.WrappedKey[40] ^= 0x80 }), dev, dirPub, contentID(1), now, ErrBadSignature},
		// Signed, but the wrapped key is bound to other data.
		{"key bound elsewhere", badWrap, dev, dirPub, contentID(1), now, ErrUnwrap},
		// Signed, but wrapped to another device's key.
		{"key for other box", otherBox, dev, dirPub, contentID(1), now, ErrUnwrap},
		// Non-canonical: white space after a colon.
		{"non-canonical space", []byte(strings.Replace(s, `"id":`, `"id": `, 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: trailing newline.
		{"non-canonical newline", []byte(s + "\n"), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: keys reordered.
		{"non-canonical order", []byte(reorder(s)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: key in other case (Go would match it case-insensitively).
		{"non-canonical key case", []byte(strings.Replace(s, `"account":`, `"Account":`, 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: upper-case content hex.
		{"non-canonical hex", []byte(strings.Replace(s, contentID(1).String(), strings.ToUpper(contentID(1).String()), 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: same instant written with a +00:00 offset.
		{"non-canonical zone", []byte(strings.Replace(s, `.123456789Z"`, `.123456789+00:00"`, 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: a character spelled as a \u escape.
		{"non-canonical escape", []byte(strings.Replace(s, `"alice@`, `"\u0061lice@`, 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Non-canonical: duplicate key (last one would win).
		{"duplicate key", []byte(strings.Replace(s, `"account":`, `"account":"mallory","account":`, 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Unknown field.
		{"unknown field", []byte(strings.Replace(s, `{"id":`, `{"x":1,"id":`, 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Device ID in lower case.
		{"lower-case device", []byte(strings.Replace(s, string(dev.ID()), strings.ToLower(string(dev.ID())), 1)), dev, dirPub, contentID(1), now, ErrMalformed},
		// Truncated in the middle.
		{"truncated half", good[:len(good)/2], dev, dirPub, contentID(1), now, ErrMalformed},
		// Last byte missing.
		{"truncated by one", good[:len(good)-1], dev, dirPub, contentID(1), now, ErrMalformed},
		// Nothing.
		{"empty", nil, dev, dirPub, contentID(1), now, ErrMalformed},
		// JSON null.
		{"null", []byte("null"), dev, dirPub, contentID(1), now, ErrMalformed},
		// Wrapped key cut short (structure check before signature).
		{"short wrapped key", edit(t, good, func(l *License) { l.WrappedKey = l.WrappedKey[:20] }), dev, dirPub, contentID(1), now, ErrMalformed},
		// Signature missing.
		{"no signature", edit(t, good, func(l *License) { l.Signature = nil }), dev, dirPub, contentID(1), now, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var key []byte
			l, err := Parse(tc.b)
			if err == nil {
				// Verify (checked on arrival) agrees with Open on every
				// case but the unwrap, which it leaves to play time.
				verr := Verify(l, tc.dev.ID(), tc.dirPub, tc.content, tc.now)
				switch {
				case tc.want == nil || errors.Is(tc.want, ErrUnwrap):
					if verr != nil {
						t.Errorf("Verify: %v, want nil", verr)
					}
				case !errors.Is(verr, tc.want):
					t.Errorf("Verify: %v, want %v", verr, tc.want)
				}
				key, err = Open(l, tc.dev, tc.dirPub, tc.content, tc.now)
			}
			if tc.want == nil {
				if err != nil || !bytes.Equal(key, testKey) {
					t.Fatalf("got %x, %v; want the key", key, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if key != nil {
				t.Fatalf("key %x returned with error", key)
			}
		})
	}
}

// reorder swaps the "id" and "content" members of an encoded license.
func reorder(s string) string {
	// s = {"id":X,"content":Y,rest
	rest := strings.TrimPrefix(s, `{"id":`)
	id, after, _ := strings.Cut(rest, `,"content":`)
	content, tail, _ := strings.Cut(after, `,`)
	return `{"content":` + content + `,"id":` + id + `,` + tail
}

func TestIssueRejects(t *testing.T) {
	dir, dev, other := fixed(t, 1), fixed(t, 2), fixed(t, 3)
	base := License{ContentID: contentID(1), TitleID: "t", Account: "a", IssuedAt: t0}
	for _, tc := range []struct {
		name string
		l    License
		keys identity.PublicKeys
		key  []byte
	}{
		// Content key of the wrong size.
		{"short key", base, dev.Public(), testKey[:16]},
		// Device keys missing.
		{"no device keys", base, identity.PublicKeys{}, testKey},
		// License already names another device.
		{"device mismatch", func() License { l := base; l.Device = other.ID(); return l }(), dev.Public(), testKey},
		// No content ID.
		{"no content", func() License { l := base; l.ContentID = sealed.ContentID{}; return l }(), dev.Public(), testKey},
		// No title.
		{"no title", func() License { l := base; l.TitleID = ""; return l }(), dev.Public(), testKey},
		// Expires before it is issued.
		{"expiry before issue", func() License { l := base; l.Rights.Expires = t0.Add(-time.Hour); return l }(), dev.Public(), testKey},
		// A year JSON cannot encode.
		{"year 10000", func() License { l := base; l.IssuedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC); return l }(), dev.Public(), testKey},
	} {
		if l, err := Issue(dir, tc.l, tc.keys, tc.key); err == nil {
			t.Errorf("%s: Issue succeeded: %+v", tc.name, l)
		}
	}
}

func TestIssueFillsDefaults(t *testing.T) {
	dir, dev := fixed(t, 1), fixed(t, 2)
	local := time.FixedZone("X", 3600)
	l, err := Issue(dir, License{ContentID: contentID(1), TitleID: "t", Account: "a", IssuedAt: t0.In(local)}, dev.Public(), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.ID) != 32 || l.IssuedAt.Location() != time.UTC || !l.IssuedAt.Equal(t0) {
		t.Fatalf("defaults: id %q issued %v", l.ID, l.IssuedAt)
	}
	if _, err := Parse(mustMarshal(t, l)); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseLicense(f *testing.F) {
	dir, dev := fixed(f, 1), fixed(f, 2)
	f.Add(mustMarshal(f, testLicense(f, dir, dev, t0.Add(time.Hour))))
	f.Add(mustMarshal(f, testLicense(f, dir, dev, time.Time{})))
	f.Add([]byte(`{}`))
	dirPub := dir.Public().Sign
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := l.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted non-canonical input: %q vs %q (%v)", b, again, err)
		}
		key, err := Open(l, dev, dirPub, l.ContentID, t0)
		if err != nil && key != nil {
			t.Fatal("key returned with an error")
		}
		if err == nil && len(key) != sealed.KeySize {
			t.Fatalf("key of %d bytes", len(key))
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	dir, dev := fixed(b, 1), fixed(b, 2)
	pub := dev.Public()
	l := License{ID: "x", ContentID: contentID(1), TitleID: "t", Account: "a", IssuedAt: t0}
	for b.Loop() {
		if _, err := Issue(dir, l, pub, testKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	dir, dev := fixed(b, 1), fixed(b, 2)
	l := testLicense(b, dir, dev, time.Time{})
	dirPub := dir.Public().Sign
	for b.Loop() {
		if _, err := Open(l, dev, dirPub, contentID(1), t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOpen(b *testing.B) {
	dir, dev := fixed(b, 1), fixed(b, 2)
	enc := mustMarshal(b, testLicense(b, dir, dev, time.Time{}))
	dirPub := dir.Public().Sign
	for b.Loop() {
		l, err := Parse(enc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Open(l, dev, dirPub, contentID(1), t0); err != nil {
			b.Fatal(err)
		}
	}
}
