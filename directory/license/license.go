package license

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Errors returned (wrapped) by this package; test with errors.Is.
var (
	ErrWrongDevice  = errors.New("license is for another device")
	ErrWrongContent = errors.New("license is for other content")
	ErrExpired      = errors.New("license expired")
	ErrBadSignature = errors.New("bad signature")
	ErrMalformed    = errors.New("malformed")
	// ErrUnwrap means a correctly signed license whose key does not open
	// for this device (a directory bug or a device that lost its keys).
	ErrUnwrap = errors.New("cannot unwrap content key")
	// ErrStale means a registration's time is outside the allowed skew.
	ErrStale = errors.New("registration time outside allowed skew")
)

const (
	licenseDomain = "kith license v1\x00"
	keyADDomain   = "kith license key v1\x00"
	// MaxLicenseSize bounds an encoded license.
	MaxLicenseSize = 16 << 10
	// MaxFieldLen bounds the license ID, title ID and account.
	MaxFieldLen = 256
)

// Rights are what the holder of a license may do beyond playing.
type Rights struct {
	Reshare bool      `json:"reshare"`          // may supply the title to other devices
	Expires time.Time `json:"expires,omitzero"` // zero = never
}

// License grants one device the content key of one title. See the package
// documentation for the signed and encoded forms.
type License struct {
	ID         string           `json:"id"`
	ContentID  sealed.ContentID `json:"content"`
	TitleID    string           `json:"title"`
	Device     identity.ID      `json:"device"`
	Account    string           `json:"account"`
	Rights     Rights           `json:"rights"`
	IssuedAt   time.Time        `json:"issued"`
	WrappedKey []byte           `json:"key"`    // identity.SealTo(device box key, content key, key AD)
	Issuer     identity.ID      `json:"issuer"` // the directory's ID
	Signature  []byte           `json:"sig"`
}

// signedFields is License without the signature, in the same order.
type signedFields struct {
	ID         string           `json:"id"`
	ContentID  sealed.ContentID `json:"content"`
	TitleID    string           `json:"title"`
	Device     identity.ID      `json:"device"`
	Account    string           `json:"account"`
	Rights     Rights           `json:"rights"`
	IssuedAt   time.Time        `json:"issued"`
	WrappedKey []byte           `json:"key"`
	Issuer     identity.ID      `json:"issuer"`
}

// keyADFields is what the wrapped key is bound to.
type keyADFields struct {
	ID        string           `json:"id"`
	ContentID sealed.ContentID `json:"content"`
	TitleID   string           `json:"title"`
	Device    identity.ID      `json:"device"`
	Account   string           `json:"account"`
	Rights    Rights           `json:"rights"`
	IssuedAt  time.Time        `json:"issued"`
	Issuer    identity.ID      `json:"issuer"`
}

// canonical returns a copy with times in UTC without monotonic readings.
func (l *License) canonical() License {
	c := *l
	c.IssuedAt = l.IssuedAt.UTC().Round(0)
	if !l.Rights.Expires.IsZero() {
		c.Rights.Expires = l.Rights.Expires.UTC().Round(0)
	}
	return c
}

func (l *License) signingBytes() ([]byte, error) {
	c := l.canonical()
	b, err := json.Marshal(signedFields{c.ID, c.ContentID, c.TitleID, c.Device, c.Account, c.Rights, c.IssuedAt, c.WrappedKey, c.Issuer})
	if err != nil {
		return nil, fmt.Errorf("%w: encoding license: %w", ErrMalformed, err)
	}
	return append([]byte(licenseDomain), b...), nil
}

func (l *License) keyAD() ([]byte, error) {
	c := l.canonical()
	b, err := json.Marshal(keyADFields{c.ID, c.ContentID, c.TitleID, c.Device, c.Account, c.Rights, c.IssuedAt, c.Issuer})
	if err != nil {
		return nil, fmt.Errorf("%w: encoding license: %w", ErrMalformed, err)
	}
	return append([]byte(keyADDomain), b...), nil
}

// checkFields validates everything but the signature and wrapped key.
func (l *License) checkFields() error {
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"id", l.ID, true}, {"title", l.TitleID, true}, {"account", l.Account, false}} {
		if err := checkText(f.name, f.v, f.required); err != nil {
			return err
		}
	}
	if l.ContentID == (sealed.ContentID{}) {
		return fmt.Errorf("%w: license has no content id", ErrMalformed)
	}
	if !l.Device.Valid() {
		return fmt.Errorf("%w: license device %q is not a device id", ErrMalformed, l.Device)
	}
	if !l.Issuer.Valid() {
		return fmt.Errorf("%w: license issuer %q is not a device id", ErrMalformed, l.Issuer)
	}
	if l.IssuedAt.IsZero() {
		return fmt.Errorf("%w: license has no issue time", ErrMalformed)
	}
	if !l.Rights.Expires.IsZero() && !l.Rights.Expires.After(l.IssuedAt) {
		return fmt.Errorf("%w: license expires before it is issued", ErrMalformed)
	}
	return nil
}

// validate checks the structure of a complete (signed) license.
func (l *License) validate() error {
	if err := l.checkFields(); err != nil {
		return err
	}
	if n := len(l.WrappedKey); n != sealed.KeySize+identity.SealOverhead {
		return fmt.Errorf("%w: wrapped key is %d bytes, want %d", ErrMalformed, n, sealed.KeySize+identity.SealOverhead)
	}
	if len(l.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(l.Signature), ed25519.SignatureSize)
	}
	return nil
}

func checkText(name, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("%w: empty %s", ErrMalformed, name)
	case len(v) > MaxFieldLen:
		return fmt.Errorf("%w: %s is %d bytes, longer than %d", ErrMalformed, name, len(v), MaxFieldLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not UTF-8", ErrMalformed, name)
	}
	return nil
}

// NewLicenseID returns a new license ID (32 hex characters): the time in
// milliseconds (6 bytes, big-endian) then 10 random bytes. Time-ordered so
// that the directory's index of license IDs grows at its end (a random ID
// cost each license's commit one more page of that index).
func NewLicenseID() (string, error) {
	var b [16]byte
	putMillis(b[:6], time.Now())
	if _, err := rand.Read(b[6:]); err != nil {
		return "", fmt.Errorf("making license id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// putMillis writes t's unix milliseconds into b (6 bytes, big-endian).
func putMillis(b []byte, t time.Time) {
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
}

// Issue completes l for device and signs it as the directory dir: it sets
// Device, Issuer, the ID (if empty) and IssuedAt (if zero, to now), wraps
// contentKey to the device's box key and signs. The caller fills ContentID,
// TitleID, Account and Rights.
func Issue(dir *identity.Identity, l License, device identity.PublicKeys, contentKey []byte) (*License, error) {
	if err := device.Validate(); err != nil {
		return nil, fmt.Errorf("issuing license: device keys: %w", err)
	}
	if len(contentKey) != sealed.KeySize {
		return nil, fmt.Errorf("issuing license: content key is %d bytes, want %d", len(contentKey), sealed.KeySize)
	}
	if l.Device != "" && l.Device != device.ID() {
		return nil, fmt.Errorf("issuing license: %w: license names %s, keys are %s", ErrWrongDevice, l.Device, device.ID())
	}
	l.Device = device.ID()
	l.Issuer = dir.ID()
	if l.ID == "" {
		id, err := NewLicenseID()
		if err != nil {
			return nil, fmt.Errorf("issuing license: %w", err)
		}
		l.ID = id
	}
	if l.IssuedAt.IsZero() {
		l.IssuedAt = time.Now()
	}
	l = l.canonical()
	l.WrappedKey, l.Signature = nil, nil
	if err := l.checkFields(); err != nil {
		return nil, fmt.Errorf("issuing license: %w", err)
	}
	ad, err := l.keyAD()
	if err != nil {
		return nil, fmt.Errorf("issuing license: %w", err)
	}
	if l.WrappedKey, err = identity.SealTo(device.Box, contentKey, ad); err != nil {
		return nil, fmt.Errorf("issuing license: wrapping key: %w", err)
	}
	msg, err := l.signingBytes()
	if err != nil {
		return nil, fmt.Errorf("issuing license: %w", err)
	}
	l.Signature = dir.Sign(msg)
	return &l, nil
}

// Marshal returns the canonical encoding of the license (the signed fields
// plus the signature).
func (l *License) Marshal() ([]byte, error) {
	c := l.canonical()
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding license: %w", ErrMalformed, err)
	}
	return b, nil
}

// Parse decodes a license strictly: only the canonical encoding of a
// structurally valid license is accepted. It does not check the signature;
// Open does.
func Parse(b []byte) (*License, error) {
	if len(b) > MaxLicenseSize {
		return nil, fmt.Errorf("parsing license: %w: %d bytes, more than %d", ErrMalformed, len(b), MaxLicenseSize)
	}
	var l License
	if err := strictUnmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("parsing license: %w: %w", ErrMalformed, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("parsing license: %w", err)
	}
	again, err := l.Marshal()
	if err != nil {
		return nil, fmt.Errorf("parsing license: %w", err)
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("parsing license: %w: not in canonical encoding", ErrMalformed)
	}
	return &l, nil
}

// strictUnmarshal decodes one JSON value, refusing unknown fields and
// trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// Verify checks l as Open does — well formed, signed by the pinned
// directory key, issued to device for content, not expired at now — but
// does not unwrap the content key: for checking a license when it
// arrives, so the key is unwrapped only when a title is played.
func Verify(l *License, device identity.ID, directory ed25519.PublicKey, content sealed.ContentID, now time.Time) error {
	if l == nil {
		return fmt.Errorf("verifying license: %w: nil license", ErrMalformed)
	}
	if err := l.validate(); err != nil {
		return fmt.Errorf("verifying license %s: %w", l.ID, err)
	}
	if len(directory) != ed25519.PublicKeySize {
		return fmt.Errorf("verifying license %s: %w: directory key is %d bytes", l.ID, ErrBadSignature, len(directory))
	}
	if want := identity.IDFromKey(directory); l.Issuer != want {
		return fmt.Errorf("verifying license %s: %w: issued by %s, not the directory %s", l.ID, ErrBadSignature, l.Issuer.Short(), want.Short())
	}
	msg, err := l.signingBytes()
	if err != nil {
		return fmt.Errorf("verifying license %s: %w", l.ID, err)
	}
	if !ed25519.Verify(directory, msg, l.Signature) {
		return fmt.Errorf("verifying license %s: %w", l.ID, ErrBadSignature)
	}
	if l.Device != device {
		return fmt.Errorf("verifying license %s: %w: issued to %s, this is %s", l.ID, ErrWrongDevice, l.Device.Short(), device.Short())
	}
	if l.ContentID != content {
		return fmt.Errorf("verifying license %s: %w: license covers %s, want %s", l.ID, ErrWrongContent, l.ContentID, content)
	}
	if !l.Rights.Expires.IsZero() && !now.Before(l.Rights.Expires) {
		return fmt.Errorf("verifying license %s: %w at %s", l.ID, ErrExpired, l.Rights.Expires.Format(time.RFC3339))
	}
	return nil
}

// Open verifies l for device dev against the pinned directory key and the
// content the caller is about to play (Verify), and returns the content
// key. The key lives in memory only; callers should zero it when done. On
// any failure no key is returned.
func Open(l *License, dev *identity.Identity, directory ed25519.PublicKey, content sealed.ContentID, now time.Time) ([]byte, error) {
	if err := Verify(l, dev.ID(), directory, content, now); err != nil {
		return nil, err
	}
	ad, err := l.keyAD()
	if err != nil {
		return nil, fmt.Errorf("opening license %s: %w", l.ID, err)
	}
	key, err := dev.OpenSealed(l.WrappedKey, ad)
	if err != nil {
		return nil, fmt.Errorf("opening license %s: %w: %w", l.ID, ErrUnwrap, err)
	}
	if len(key) != sealed.KeySize {
		clear(key)
		return nil, fmt.Errorf("opening license %s: %w: content key is %d bytes", l.ID, ErrMalformed, len(key))
	}
	return key, nil
}
