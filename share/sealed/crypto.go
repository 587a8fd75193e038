package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

const (
	payloadInfo  = "kith sealed payload v1"
	keyCheckInfo = "kith sealed key check v1"
	adPrefix     = "kith sealed chunk ad v1\x00"
	nonceSize    = 12
)

// NewContentKey returns a fresh random content key of KeySize bytes.
func NewContentKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generating content key: %w", err)
	}
	return k, nil
}

// keys derives the payload key and the key check from a content key and salt.
func deriveKeys(contentKey []byte, salt *[32]byte) (payload []byte, check [32]byte, err error) {
	if len(contentKey) != KeySize {
		return nil, check, fmt.Errorf("%w: key of %d bytes, want %d", ErrWrongKey, len(contentKey), KeySize)
	}
	payload, err = hkdf.Key(sha256.New, contentKey, salt[:], payloadInfo, 32)
	if err != nil {
		return nil, check, fmt.Errorf("deriving payload key: %w", err)
	}
	c, err := hkdf.Key(sha256.New, contentKey, salt[:], keyCheckInfo, 32)
	if err != nil {
		return nil, check, fmt.Errorf("deriving key check: %w", err)
	}
	copy(check[:], c)
	clear(c)
	return payload, check, nil
}

// checkKey reports ErrWrongKey unless contentKey matches h.KeyCheck.
func checkKey(h *Header, contentKey []byte) ([]byte, error) {
	payload, check, err := deriveKeys(contentKey, &h.Salt)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check[:], h.KeyCheck[:]) != 1 {
		clear(payload)
		return nil, ErrWrongKey
	}
	return payload, nil
}

// newAEAD is the chunk cipher: AES-256-GCM (chosen by BenchmarkCipher, see doc.go).
func newAEAD(payloadKey []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(payloadKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// chunkAD is the associated data of every chunk: SHA-256 of a domain prefix
// and the encoded header with its Length field zeroed (see doc.go for why).
func chunkAD(headerBytes []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(adPrefix))
	h.Write(headerBytes[:lengthOffset])
	var zero [8]byte
	h.Write(zero[:])
	h.Write(headerBytes[lengthOffset+8:])
	var ad [32]byte
	h.Sum(ad[:0])
	return ad
}

// setNonce writes the STREAM nonce of chunk i: 3 zero bytes, the 64-bit
// big-endian counter, then 1 for the last chunk or 0 otherwise.
func setNonce(n *[nonceSize]byte, i int, last bool) {
	n[0], n[1], n[2] = 0, 0, 0
	binary.BigEndian.PutUint64(n[3:11], uint64(i))
	n[11] = 0
	if last {
		n[11] = 1
	}
}
