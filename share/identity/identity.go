package identity

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
)

// PublicKeys are the public halves of a device's keys, as published to the
// directory and to peers. JSON: {"sign":"base64","box":"base64"}.
type PublicKeys struct {
	Sign ed25519.PublicKey `json:"sign"` // ed25519 public key, 32 bytes
	Box  []byte            `json:"box"`  // X25519 public key, 32 bytes
}

// ID returns the device ID of the signing key.
func (p PublicKeys) ID() ID { return IDFromKey(p.Sign) }

// Validate checks the key lengths and that the box key is a usable X25519 key.
func (p PublicKeys) Validate() error {
	if len(p.Sign) != ed25519.PublicKeySize {
		return fmt.Errorf("signing key is %d bytes, want %d", len(p.Sign), ed25519.PublicKeySize)
	}
	if len(p.Box) != 32 {
		return fmt.Errorf("box key is %d bytes, want 32", len(p.Box))
	}
	if _, err := ecdh.X25519().NewPublicKey(p.Box); err != nil {
		return fmt.Errorf("box key: %w", err)
	}
	return nil
}

// Identity holds a device's private keys: ed25519 for signing and TLS, X25519
// for opening sealed boxes. It is safe for concurrent use.
type Identity struct {
	sign ed25519.PrivateKey
	box  *ecdh.PrivateKey
	id   ID

	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
}

// Generate creates a fresh identity from crypto/rand.
func Generate() (*Identity, error) {
	_, sign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	box, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating box key: %w", err)
	}
	return New(sign, box)
}

// New builds an identity from existing keys (for tests and for tools that
// keep keys elsewhere). The keys are used, not copied.
func New(sign ed25519.PrivateKey, box *ecdh.PrivateKey) (*Identity, error) {
	if len(sign) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key is %d bytes, want %d", len(sign), ed25519.PrivateKeySize)
	}
	if box == nil || box.Curve() != ecdh.X25519() {
		return nil, errors.New("box key is not an X25519 key")
	}
	// Reject a private key whose stored public half does not match its seed.
	if !ed25519.NewKeyFromSeed(sign.Seed()).Equal(sign) {
		return nil, errors.New("signing key: public half does not match seed")
	}
	pub := sign.Public().(ed25519.PublicKey)
	return &Identity{sign: sign, box: box, id: IDFromKey(pub)}, nil
}

// ID returns the device ID.
func (i *Identity) ID() ID { return i.id }

// Public returns the public keys (fresh copies).
func (i *Identity) Public() PublicKeys {
	pub := i.sign.Public().(ed25519.PublicKey)
	return PublicKeys{
		Sign: append(ed25519.PublicKey(nil), pub...),
		Box:  i.box.PublicKey().Bytes(),
	}
}

// Sign signs msg with the ed25519 key. Callers put a domain-separation prefix
// in msg.
func (i *Identity) Sign(msg []byte) []byte { return ed25519.Sign(i.sign, msg) }

// SigningKey returns the ed25519 private key.
func (i *Identity) SigningKey() ed25519.PrivateKey { return i.sign }

// BoxKey returns the X25519 private key.
func (i *Identity) BoxKey() *ecdh.PrivateKey { return i.box }
