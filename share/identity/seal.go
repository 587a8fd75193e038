package identity

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrOpen is wrapped by every failure to open a sealed box: wrong recipient,
// modified box or different associated data (deliberately indistinguishable).
var ErrOpen = errors.New("cannot open sealed box")

const (
	sealVersion = 1
	sealInfo    = "kith seal v1\x00"
	// SealOverhead is how many bytes SealTo adds to the secret.
	SealOverhead = 1 + 32 + chacha20poly1305.Overhead
	// MaxSealed is the largest secret SealTo accepts; it is meant for keys
	// and small messages, not bulk data.
	MaxSealed = 1 << 20
)

// SealTo encrypts secret so that only the holder of the X25519 private key
// for recipientBox can read it, binding ad (which is not encrypted, and must
// be given again to open). The format is in the package documentation.
func SealTo(recipientBox []byte, secret, ad []byte) ([]byte, error) {
	if len(secret) > MaxSealed {
		return nil, fmt.Errorf("sealing: secret of %d bytes exceeds %d", len(secret), MaxSealed)
	}
	// an ephemeral key whose public half is derived on the Edwards form
	// (x25519.go): the same bytes as crypto/ecdh's, a third of the cost
	eph, epub, err := newEphemeral()
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	shared, err := x25519(eph, recipientBox) // fails on low-order points (all-zero secret)
	clear(eph[:])
	if err != nil {
		return nil, fmt.Errorf("sealing: recipient key: %w", err)
	}
	aead, err := boxAEAD(shared, epub, recipientBox)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	out := make([]byte, 0, SealOverhead+len(secret))
	out = append(out, sealVersion)
	out = append(out, epub...)
	var nonce [chacha20poly1305.NonceSize]byte
	return aead.Seal(out, nonce[:], secret, ad), nil
}

// OpenSealed decrypts a box made by SealTo for this identity's box key with
// the same associated data. Failures wrap ErrOpen.
func (i *Identity) OpenSealed(box, ad []byte) ([]byte, error) {
	if len(box) < SealOverhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than %d", ErrOpen, len(box), SealOverhead)
	}
	if box[0] != sealVersion {
		return nil, fmt.Errorf("%w: version %d", ErrOpen, box[0])
	}
	epub, err := ecdh.X25519().NewPublicKey(box[1:33])
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", ErrOpen, err)
	}
	aead, err := sealAEAD(i.box, epub, box[1:33], i.box.PublicKey().Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOpen, err)
	}
	var nonce [chacha20poly1305.NonceSize]byte
	secret, err := aead.Open(nil, nonce[:], box[33:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return secret, nil
}

// sealAEAD derives the box cipher from our private key and the peer's public
// key; epub and rpub are the ephemeral and recipient public keys in that order.
func sealAEAD(priv *ecdh.PrivateKey, peer *ecdh.PublicKey, epub, rpub []byte) (cipher.AEAD, error) {
	shared, err := priv.ECDH(peer) // fails on low-order points (all-zero secret)
	if err != nil {
		return nil, err
	}
	return boxAEAD(shared, epub, rpub)
}

// boxAEAD derives the box cipher from the shared secret and the ephemeral
// and recipient public keys.
func boxAEAD(shared, epub, rpub []byte) (cipher.AEAD, error) {
	defer clear(shared)
	info := make([]byte, 0, len(sealInfo)+64)
	info = append(info, sealInfo...)
	info = append(info, epub...)
	info = append(info, rpub...)
	key, err := hkdf.Key(sha256.New, shared, nil, string(info), chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(key)
}
