package license

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/kith-media/kith/share/identity"
)

const (
	regADDomain    = "kith registration v1\x00"
	regSigDomain   = "kith registration sig v1\x00"
	relayedDomain  = "kith relayed v1\x00"
	nonceSize      = 16
	maxNonce       = 64
	maxPaymentText = 512
	// MaxRegistrationSize bounds an encoded (sealed) registration.
	MaxRegistrationSize = 32 << 10
	// DefaultMaxSkew is the clock skew OpenRegistration allows when given 0.
	DefaultMaxSkew = 10 * time.Minute
)

// Payment holds card details. It only ever travels inside a sealed
// registration; its String and LogValue redact everything but the card's
// last four digits.
type Payment struct {
	Name    string `json:"name"`
	Card    string `json:"card"`
	Expiry  string `json:"expiry"`
	CVC     string `json:"cvc"`
	Address string `json:"address"`
}

// String redacts the payment details.
func (p Payment) String() string {
	last := p.Card
	if len(last) > 4 {
		last = last[len(last)-4:]
	}
	return "card ending " + last
}

// GoString redacts the payment details under %#v too.
func (p Payment) GoString() string { return "license.Payment{" + p.String() + "}" }

// LogValue redacts the payment details in slog output.
func (p Payment) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (p *Payment) check() error {
	if p == nil {
		return nil
	}
	for _, f := range []string{p.Name, p.Card, p.Expiry, p.CVC, p.Address} {
		if len(f) > maxPaymentText {
			return fmt.Errorf("%w: payment field longer than %d", ErrMalformed, maxPaymentText)
		}
	}
	return nil
}

// Registration is a device's request for a license: a purchase (with
// payment) or a claim on something the account already owns.
type Registration struct {
	TitleID string              `json:"title"`
	Account string              `json:"account"`
	Device  identity.PublicKeys `json:"device"`
	Payment *Payment            `json:"payment,omitempty"`
	Nonce   []byte              `json:"nonce"` // also the idempotency key
	Time    time.Time           `json:"time"`
}

func (r *Registration) check() error {
	if err := checkText("title", r.TitleID, true); err != nil {
		return err
	}
	if err := checkText("account", r.Account, false); err != nil {
		return err
	}
	if err := r.Device.Validate(); err != nil {
		return fmt.Errorf("%w: registration device keys: %w", ErrMalformed, err)
	}
	if n := len(r.Nonce); n < 8 || n > maxNonce {
		return fmt.Errorf("%w: nonce is %d bytes, want 8 to %d", ErrMalformed, n, maxNonce)
	}
	if r.Time.IsZero() {
		return fmt.Errorf("%w: registration has no time", ErrMalformed)
	}
	return r.Payment.check()
}

// SealedRegistration is a registration sealed to the directory and signed by
// the requesting device; a relay can read only Device.
type SealedRegistration struct {
	Device     identity.ID `json:"device"`
	Ciphertext []byte      `json:"ct"`  // Registration sealed to the directory's box key
	Signature  []byte      `json:"sig"` // by the device over domain||Device||Ciphertext
}

func regAD(dev identity.ID) []byte { return append([]byte(regADDomain), dev...) }

func regSigBytes(dev identity.ID, ct []byte) []byte {
	b := make([]byte, 0, len(regSigDomain)+len(dev)+len(ct))
	b = append(b, regSigDomain...)
	b = append(b, dev...)
	return append(b, ct...)
}

// SealRegistration seals r to the directory's X25519 key and signs it as dev.
// It fills r.Device with dev's keys if empty (and refuses other keys), a
// random Nonce if empty and Time (now) if zero.
func SealRegistration(r Registration, dev *identity.Identity, directoryBox []byte) (*SealedRegistration, error) {
	pub := dev.Public()
	if len(r.Device.Sign) == 0 && len(r.Device.Box) == 0 {
		r.Device = pub
	} else if !bytes.Equal(r.Device.Sign, pub.Sign) || !bytes.Equal(r.Device.Box, pub.Box) {
		return nil, fmt.Errorf("sealing registration: %w: keys are not the signing device's", ErrWrongDevice)
	}
	if len(r.Nonce) == 0 {
		r.Nonce = make([]byte, nonceSize)
		if _, err := rand.Read(r.Nonce); err != nil {
			return nil, fmt.Errorf("sealing registration: %w", err)
		}
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC().Round(0)
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("sealing registration: %w", err)
	}
	pt, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("sealing registration: %w", err)
	}
	defer clear(pt)
	id := dev.ID()
	ct, err := identity.SealTo(directoryBox, pt, regAD(id))
	if err != nil {
		return nil, fmt.Errorf("sealing registration: %w", err)
	}
	return &SealedRegistration{Device: id, Ciphertext: ct, Signature: dev.Sign(regSigBytes(id, ct))}, nil
}

// check validates the outer structure a relay can see.
func (s *SealedRegistration) check() error {
	if !s.Device.Valid() {
		return fmt.Errorf("%w: device %q is not a device id", ErrMalformed, s.Device)
	}
	if n := len(s.Ciphertext); n < identity.SealOverhead || n > MaxRegistrationSize {
		return fmt.Errorf("%w: ciphertext is %d bytes", ErrMalformed, n)
	}
	if len(s.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(s.Signature), ed25519.SignatureSize)
	}
	return nil
}

// ParseSealedRegistration decodes the JSON form strictly (no unknown fields,
// no trailing data) and checks its outer structure.
func ParseSealedRegistration(b []byte) (*SealedRegistration, error) {
	if len(b) > 2*MaxRegistrationSize {
		return nil, fmt.Errorf("parsing registration: %w: %d bytes", ErrMalformed, len(b))
	}
	var s SealedRegistration
	if err := strictUnmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing registration: %w: %w", ErrMalformed, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("parsing registration: %w", err)
	}
	return &s, nil
}

// OpenRegistration is the directory's side: it decrypts s with dir's box
// key, checks that the device keys inside belong to s.Device, verifies the
// device's signature and that the registration time is within maxSkew of now
// (0 means DefaultMaxSkew). Tampering by a relay fails with ErrBadSignature.
func OpenRegistration(s *SealedRegistration, dir *identity.Identity, now time.Time, maxSkew time.Duration) (*Registration, error) {
	if s == nil {
		return nil, fmt.Errorf("opening registration: %w: nil", ErrMalformed)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("opening registration: %w", err)
	}
	pt, err := dir.OpenSealed(s.Ciphertext, regAD(s.Device))
	if err != nil {
		return nil, fmt.Errorf("opening registration from %s: %w: %w", s.Device.Short(), ErrBadSignature, err)
	}
	defer clear(pt)
	var r Registration
	if err := strictUnmarshal(pt, &r); err != nil {
		return nil, fmt.Errorf("opening registration from %s: %w: %w", s.Device.Short(), ErrMalformed, err)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("opening registration from %s: %w", s.Device.Short(), err)
	}
	if got := r.Device.ID(); got != s.Device {
		return nil, fmt.Errorf("opening registration from %s: %w: sealed keys are %s's", s.Device.Short(), ErrWrongDevice, got.Short())
	}
	if !ed25519.Verify(r.Device.Sign, regSigBytes(s.Device, s.Ciphertext), s.Signature) {
		return nil, fmt.Errorf("opening registration from %s: %w", s.Device.Short(), ErrBadSignature)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if d := now.Sub(r.Time); d > maxSkew || d < -maxSkew {
		return nil, fmt.Errorf("opening registration from %s: %w: made %s, now %s", s.Device.Short(), ErrStale,
			r.Time.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return &r, nil
}

// Relayed is a supplier's signed wrapper around a requester's sealed
// registration, telling the directory who forwarded it.
type Relayed struct {
	Registration SealedRegistration  `json:"registration"`
	Supplier     identity.PublicKeys `json:"supplier"`
	Time         time.Time           `json:"time"`
	Signature    []byte              `json:"sig"`
}

type relayedFields struct {
	Registration SealedRegistration  `json:"registration"`
	Supplier     identity.PublicKeys `json:"supplier"`
	Time         time.Time           `json:"time"`
}

func (r *Relayed) signingBytes() ([]byte, error) {
	b, err := json.Marshal(relayedFields{r.Registration, r.Supplier, r.Time.UTC().Round(0)})
	if err != nil {
		return nil, fmt.Errorf("%w: encoding relayed registration: %w", ErrMalformed, err)
	}
	return append([]byte(relayedDomain), b...), nil
}

// Relay wraps s for forwarding by supplier at time now. (A time that cannot
// be encoded leaves the signature empty, which Verify rejects.)
func Relay(s *SealedRegistration, supplier *identity.Identity, now time.Time) *Relayed {
	r := &Relayed{
		Registration: SealedRegistration{
			Device:     s.Device,
			Ciphertext: bytes.Clone(s.Ciphertext),
			Signature:  bytes.Clone(s.Signature),
		},
		Supplier: supplier.Public(),
		Time:     now.UTC().Round(0),
	}
	if msg, err := r.signingBytes(); err == nil {
		r.Signature = supplier.Sign(msg)
	}
	return r
}

// Verify checks the supplier's signature over the wrapper and the wrapped
// registration's outer structure. The caller checks that the supplier is
// enrolled and then opens the registration.
func (r *Relayed) Verify() error {
	if err := r.Supplier.Validate(); err != nil {
		return fmt.Errorf("verifying relayed registration: %w: supplier keys: %w", ErrMalformed, err)
	}
	if err := r.Registration.check(); err != nil {
		return fmt.Errorf("verifying relayed registration: %w", err)
	}
	if len(r.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("verifying relayed registration: %w: signature is %d bytes", ErrBadSignature, len(r.Signature))
	}
	msg, err := r.signingBytes()
	if err != nil {
		return fmt.Errorf("verifying relayed registration: %w", err)
	}
	if !ed25519.Verify(r.Supplier.Sign, msg, r.Signature) {
		return fmt.Errorf("verifying relayed registration by %s: %w", r.Supplier.ID().Short(), ErrBadSignature)
	}
	return nil
}

// ParseRelayed decodes the JSON form of a Relayed strictly (no unknown
// fields, no trailing data); call Verify next.
func ParseRelayed(b []byte) (*Relayed, error) {
	if len(b) > 3*MaxRegistrationSize {
		return nil, fmt.Errorf("parsing relayed registration: %w: %d bytes", ErrMalformed, len(b))
	}
	var r Relayed
	if err := strictUnmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parsing relayed registration: %w: %w", ErrMalformed, err)
	}
	return &r, nil
}
