package relay

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/kith-media/kith/share/identity"
)

// ticketDomain separates ticket signatures from every other signature
// made with the directory's key.
const ticketDomain = "kith relay ticket v1\x00"

const (
	ticketVersion = 1
	// MaxTicketTTL bounds how far in the future a ticket may expire: the
	// relay refuses a longer-lived one even with a good signature.
	MaxTicketTTL = 10 * time.Minute
	// DefaultTicketTTL is the lifetime the directory gives a ticket.
	DefaultTicketTTL = 2 * time.Minute
	// maxTicketBytes bounds an encoded ticket.
	maxTicketBytes = 1 + 1 + identity.IDLen + 1 + identity.IDLen + 8 + ed25519.PublicKeySize + ed25519.SignatureSize
)

// Ticket lets Asker reach Supplier through a relay until Expires. The
// directory signs it; the relay checks the signature against the
// directory's key and needs no database.
type Ticket struct {
	Asker    identity.ID
	Supplier identity.ID
	Expires  time.Time
}

// Errors of ticket verification (wrapped).
var (
	ErrBadTicket     = errors.New("bad relay ticket")
	ErrExpiredTicket = errors.New("relay ticket expired")
)

// body encodes the signed part of a ticket (see doc.go).
func (t *Ticket) body(dirKey ed25519.PublicKey) []byte {
	b := make([]byte, 0, maxTicketBytes)
	b = append(b, ticketVersion)
	b = append(b, byte(len(t.Asker)))
	b = append(b, t.Asker...)
	b = append(b, byte(len(t.Supplier)))
	b = append(b, t.Supplier...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Expires.UnixMilli()))
	return append(b, dirKey...)
}

// SignTicket returns the encoded ticket signed by the directory's identity.
func SignTicket(dir *identity.Identity, t Ticket) ([]byte, error) {
	if !t.Asker.Valid() || !t.Supplier.Valid() {
		return nil, fmt.Errorf("signing relay ticket: %w: invalid device id", ErrBadTicket)
	}
	pub := dir.SigningKey().Public().(ed25519.PublicKey)
	b := t.body(pub)
	sig := dir.Sign(append([]byte(ticketDomain), b...))
	return append(b, sig...), nil
}

// VerifyTicket decodes b and checks it was signed by the directory whose
// fingerprint is dir and has not expired at now (nor expires more than
// MaxTicketTTL after it).
func VerifyTicket(b []byte, dir identity.ID, now time.Time) (*Ticket, error) {
	t, pub, signed, sig, err := parseTicket(b)
	if err != nil {
		return nil, err
	}
	if identity.IDFromKey(pub) != dir {
		return nil, fmt.Errorf("%w: signed by another directory", ErrBadTicket)
	}
	if !ed25519.Verify(pub, append([]byte(ticketDomain), signed...), sig) {
		return nil, fmt.Errorf("%w: signature does not verify", ErrBadTicket)
	}
	if !now.Before(t.Expires) {
		return nil, fmt.Errorf("%w at %s", ErrExpiredTicket, t.Expires.UTC().Format(time.RFC3339))
	}
	if t.Expires.Sub(now) > MaxTicketTTL {
		return nil, fmt.Errorf("%w: expires too far ahead", ErrBadTicket)
	}
	return t, nil
}

// parseTicket splits an encoded ticket without checking its signature.
func parseTicket(b []byte) (t *Ticket, pub ed25519.PublicKey, signed, sig []byte, err error) {
	bad := func(why string) (*Ticket, ed25519.PublicKey, []byte, []byte, error) {
		return nil, nil, nil, nil, fmt.Errorf("%w: %s", ErrBadTicket, why)
	}
	if len(b) > maxTicketBytes {
		return bad("too long")
	}
	if len(b) < 2 || b[0] != ticketVersion {
		return bad("unknown version")
	}
	rest := b[1:]
	id := func() (identity.ID, bool) {
		if len(rest) < 1 || int(rest[0]) > len(rest)-1 {
			return "", false
		}
		n := int(rest[0])
		s := string(rest[1 : 1+n])
		rest = rest[1+n:]
		parsed, err := identity.ParseID(s)
		if err != nil || string(parsed) != s {
			return "", false
		}
		return parsed, true
	}
	asker, ok := id()
	if !ok {
		return bad("asker is not a device id")
	}
	supplier, ok := id()
	if !ok {
		return bad("supplier is not a device id")
	}
	if len(rest) != 8+ed25519.PublicKeySize+ed25519.SignatureSize {
		return bad("wrong length")
	}
	ms := binary.BigEndian.Uint64(rest)
	if ms > 1<<53 {
		return bad("expiry out of range")
	}
	pub = ed25519.PublicKey(rest[8 : 8+ed25519.PublicKeySize])
	signed = b[:len(b)-ed25519.SignatureSize]
	sig = b[len(b)-ed25519.SignatureSize:]
	return &Ticket{Asker: asker, Supplier: supplier, Expires: time.UnixMilli(int64(ms))}, pub, signed, sig, nil
}
