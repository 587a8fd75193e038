package identity

import (
	"crypto/rand"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// An ephemeral X25519 key costs crypto/ecdh one Montgomery ladder to
// derive its public key (ecdh.NewPrivateKey always does), and then another
// for the shared secret. SealTo (one per license, receipt and relay answer
// the directory issues) instead derives the public key on the Edwards form
// of the curve with the fixed-base table, about three times faster, and
// runs the ladder once, for the secret. Same keys, same bytes: the X25519
// public key of a scalar is the Montgomery u = (1+y)/(1−y) of scalar·B on
// the birationally equivalent Edwards curve (RFC 7748 §4.1), and
// TestX25519MatchesECDH checks both functions against crypto/ecdh.

// newEphemeral returns a fresh X25519 private scalar and its public key.
func newEphemeral() (*[32]byte, []byte, error) {
	var sk [32]byte
	if _, err := rand.Read(sk[:]); err != nil {
		return nil, nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return &sk, x25519Base(&sk), nil
}

// x25519Base is X25519(scalar, 9): scalar (clamped as X25519 clamps it)
// times the base point, computed as an Edwards point and mapped to u.
func x25519Base(scalar *[32]byte) []byte {
	s, err := edwards25519.NewScalar().SetBytesWithClamping(scalar[:])
	if err != nil {
		panic("identity: clamping a 32-byte scalar: " + err.Error()) // only fails on a length other than 32
	}
	return new(edwards25519.Point).ScalarBaseMult(s).BytesMontgomery()
}

// errLowOrder is x25519's refusal of a low-order peer point.
var errLowOrder = errors.New("bad X25519 peer key: low order point")

// x25519 is X25519(scalar, point) of RFC 7748: the constant-time
// Montgomery ladder of Go's crypto/ecdh (x25519ScalarMult, BSD licence),
// over the same field arithmetic, without deriving scalar's public key
// first. Like crypto/ecdh it refuses a low-order point (all-zero secret).
func x25519(scalar *[32]byte, point []byte) ([]byte, error) {
	if len(point) != 32 {
		return nil, fmt.Errorf("bad X25519 peer key: %d bytes", len(point))
	}
	e := *scalar
	e[0] &= 248
	e[31] &= 127
	e[31] |= 64

	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	if _, err := x1.SetBytes(point); err != nil {
		return nil, err
	}
	x2.One()
	x3.Set(&x1)
	z3.One()

	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := e[pos/8] >> uint(pos&7)
		b &= 1
		swap ^= int(b)
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = int(b)

		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)

		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}

	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)

	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	out := x2.Bytes()
	clear(e[:])
	var acc byte
	for _, b := range out {
		acc |= b
	}
	if acc == 0 {
		return nil, errLowOrder
	}
	return out, nil
}
