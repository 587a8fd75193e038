package license

import (
	"crypto/ed25519"
	"fmt"

	"github.com/kith-media/kith/share/identity"
)

const (
	replyADDomain  = "kith reply v1\x00"
	replySigDomain = "kith reply sig v1\x00"
	// MaxReplySize bounds the sealed payload of a SealedReply.
	MaxReplySize = 64 << 10
)

// SealedReply is a directory's answer to one device that travels through
// somebody else (a relaying neighbour): sealed to the device's box key, so
// the carrier cannot read it, and signed by the directory, so the carrier
// cannot replace it with one it sealed itself.
type SealedReply struct {
	Device     identity.ID `json:"device"`
	Ciphertext []byte      `json:"ct"`  // payload sealed to Device's box key, AD domain||Device
	Signature  []byte      `json:"sig"` // by the directory over domain||Device||Ciphertext
}

func replyAD(dev identity.ID) []byte { return append([]byte(replyADDomain), dev...) }

func replySigBytes(dev identity.ID, ct []byte) []byte {
	b := make([]byte, 0, len(replySigDomain)+len(dev)+len(ct))
	b = append(b, replySigDomain...)
	b = append(b, dev...)
	return append(b, ct...)
}

// SealReply seals payload (at most MaxReplySize bytes) to device to and
// signs it as the directory dir.
func SealReply(payload []byte, dir *identity.Identity, to identity.PublicKeys) (*SealedReply, error) {
	if err := to.Validate(); err != nil {
		return nil, fmt.Errorf("sealing reply: %w", err)
	}
	if len(payload) > MaxReplySize {
		return nil, fmt.Errorf("sealing reply: %w: payload of %d bytes", ErrMalformed, len(payload))
	}
	id := to.ID()
	ct, err := identity.SealTo(to.Box, payload, replyAD(id))
	if err != nil {
		return nil, fmt.Errorf("sealing reply: %w", err)
	}
	return &SealedReply{Device: id, Ciphertext: ct, Signature: dir.Sign(replySigBytes(id, ct))}, nil
}

// OpenReply checks the directory's signature (dirSign) and opens s with
// self's box key. A reply for another device fails with ErrWrongDevice, an
// altered or substituted one with ErrBadSignature.
func OpenReply(s *SealedReply, self *identity.Identity, dirSign ed25519.PublicKey) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("opening reply: %w: nil", ErrMalformed)
	}
	if s.Device != self.ID() {
		return nil, fmt.Errorf("opening reply: %w: sealed to %s", ErrWrongDevice, s.Device.Short())
	}
	if n := len(s.Ciphertext); n < identity.SealOverhead || n > MaxReplySize+identity.SealOverhead {
		return nil, fmt.Errorf("opening reply: %w: ciphertext is %d bytes", ErrMalformed, n)
	}
	if len(dirSign) != ed25519.PublicKeySize || len(s.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(dirSign, replySigBytes(s.Device, s.Ciphertext), s.Signature) {
		return nil, fmt.Errorf("opening reply: %w", ErrBadSignature)
	}
	pt, err := self.OpenSealed(s.Ciphertext, replyAD(s.Device))
	if err != nil {
		return nil, fmt.Errorf("opening reply: %w: %w", ErrBadSignature, err)
	}
	return pt, nil
}
