package relay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/kith-media/kith/share/identity"
)

// Message types (doc.go).
const (
	msgConnect = 1 // asker → relay: a ticket
	msgJoin    = 2 // supplier's data connection → relay: a session key
	msgResult  = 3 // relay → asker or supplier: a Code and a reason
	msgInvite  = 4 // relay → supplier (control): session key, asker, asker's address
	msgPing    = 5
	msgPong    = 6
	// Hole punching (punch.go).
	msgConnectPunch = 7 // asker → relay: a ticket; coordinate a direct connection instead of splicing
	msgInvitePunch  = 8 // relay → supplier (control): as Invite, for a punch
	msgPunch        = 9 // relay → both data connections: delay (2 bytes, ms) | len | the other side's address
)

// magic starts every plain (data) connection to a relay; a control
// connection starts with a TLS handshake (0x16) instead.
const magic = "KRL1"

// maxBody bounds a message body; anything longer is refused before it is read.
const maxBody = 1024

// keySize is the length of a session key.
const keySize = 32

// Code is the relay's answer to a Connect or Join, or to a control
// connection's registration.
type Code byte

// Result codes.
const (
	CodeOK          Code = 0
	CodeBadTicket   Code = 1 // signature, format, or another directory's ticket
	CodeExpired     Code = 2 // the ticket expired
	CodeNoSupplier  Code = 3 // the supplier keeps no control connection here
	CodeBusy        Code = 4 // a cap (sessions, bytes) is reached
	CodeTimeout     Code = 5 // the supplier did not join in time
	CodeBadRequest  Code = 6 // malformed message
	CodeUnknownJoin Code = 7 // no session waits for this key
)

func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeBadTicket:
		return "bad ticket"
	case CodeExpired:
		return "ticket expired"
	case CodeNoSupplier:
		return "supplier not connected to this relay"
	case CodeBusy:
		return "relay busy"
	case CodeTimeout:
		return "supplier did not answer"
	case CodeBadRequest:
		return "bad request"
	case CodeUnknownJoin:
		return "unknown session"
	}
	return fmt.Sprintf("code %d", byte(c))
}

// RefusedError is a relay's refusal.
type RefusedError struct {
	Code   Code
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return "relay refused: " + e.Code.String()
	}
	return "relay refused: " + e.Code.String() + ": " + e.Reason
}

var errFrame = errors.New("malformed relay message")

// writeFrame writes one message: type, 2-byte big-endian length, body.
func writeFrame(w io.Writer, typ byte, body []byte) error {
	if len(body) > maxBody {
		return fmt.Errorf("%w: body of %d bytes", errFrame, len(body))
	}
	b := make([]byte, 3, 3+len(body))
	b[0] = typ
	binary.BigEndian.PutUint16(b[1:], uint16(len(body)))
	_, err := w.Write(append(b, body...))
	return err
}

// readFrame reads one message, refusing unknown types and bodies over maxBody
// before reading them.
func readFrame(r io.Reader) (typ byte, body []byte, err error) {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	typ = h[0]
	if typ < msgConnect || typ > msgPunch {
		return 0, nil, fmt.Errorf("%w: type %d", errFrame, typ)
	}
	n := int(binary.BigEndian.Uint16(h[1:]))
	if n > maxBody {
		return 0, nil, fmt.Errorf("%w: body of %d bytes", errFrame, n)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errFrame, io.ErrUnexpectedEOF)
	}
	return typ, body, nil
}

// invite is a relay's call to a supplier to join a session.
type invite struct {
	key   [keySize]byte
	asker identity.ID
	addr  string // the asker's address as the relay sees it
	punch bool   // sent as InvitePunch: join for a punch, not a splice
}

func (v *invite) marshal() []byte {
	b := append([]byte(nil), v.key[:]...)
	b = append(b, byte(len(v.asker)))
	b = append(b, v.asker...)
	b = append(b, byte(len(v.addr)))
	return append(b, v.addr...)
}

func parseInvite(b []byte) (*invite, error) {
	if len(b) < keySize+2 {
		return nil, fmt.Errorf("%w: short invite", errFrame)
	}
	var v invite
	copy(v.key[:], b)
	rest := b[keySize:]
	field := func() (string, bool) {
		if len(rest) < 1 || int(rest[0]) > len(rest)-1 {
			return "", false
		}
		s := string(rest[1 : 1+rest[0]])
		rest = rest[1+rest[0]:]
		return s, true
	}
	a, ok := field()
	if !ok {
		return nil, fmt.Errorf("%w: invite asker", errFrame)
	}
	id, err := identity.ParseID(a)
	if err != nil || string(id) != a {
		return nil, fmt.Errorf("%w: invite asker is not a device id", errFrame)
	}
	addr, ok := field()
	if !ok || len(rest) != 0 || !printable(addr) {
		return nil, fmt.Errorf("%w: invite address", errFrame)
	}
	v.asker, v.addr = id, addr
	return &v, nil
}

// punchBody tells one side where the other is and when to dial.
func punchBody(delay time.Duration, addr string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(min(delay.Milliseconds(), 10_000)))
	b = append(b, byte(len(addr)))
	return append(b, addr...)
}

// parsePunch reads a Punch body: the address must be an IP and port.
func parsePunch(b []byte) (time.Duration, netip.AddrPort, error) {
	if len(b) < 3 || int(b[2]) != len(b)-3 {
		return 0, netip.AddrPort{}, fmt.Errorf("%w: punch", errFrame)
	}
	d := time.Duration(binary.BigEndian.Uint16(b)) * time.Millisecond
	ap, err := netip.ParseAddrPort(string(b[3:]))
	if err != nil || d > 10*time.Second || ap.Port() == 0 || !ap.Addr().IsValid() || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() {
		return 0, netip.AddrPort{}, fmt.Errorf("%w: punch address", errFrame)
	}
	return d, ap, nil
}

func resultBody(c Code, reason string) []byte {
	if len(reason) > 200 {
		reason = reason[:200]
	}
	return append([]byte{byte(c)}, reason...)
}

// parseResult turns a result body into nil (CodeOK) or a *RefusedError.
func parseResult(b []byte) error {
	if len(b) < 1 || len(b) > 201 {
		return fmt.Errorf("%w: result of %d bytes", errFrame, len(b))
	}
	reason := b[1:]
	if !printable(string(reason)) {
		return fmt.Errorf("%w: result reason", errFrame)
	}
	if Code(b[0]) == CodeOK {
		return nil
	}
	return &RefusedError{Code: Code(b[0]), Reason: string(reason)}
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !bytes.ContainsFunc([]byte(s), func(r rune) bool { return r < 0x20 || r == 0x7f })
}
