package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-media/kith/directory/license"
)

// PaymentProcessor charges a card. Implementations must honour the
// idempotency key: a second Charge with the same key returns the first
// result without charging again (real processors do; the directory relies
// on it after a crash between charging and recording).
type PaymentProcessor interface {
	Charge(ctx context.Context, c Charge) (*ChargeResult, error)
}

// Charge is one payment request.
type Charge struct {
	IdempotencyKey string
	Amount         int64 // cents
	Currency       string
	Card           license.Payment
	Description    string
}

// ChargeResult is what the directory keeps of a payment: never the card number.
type ChargeResult struct {
	Token string // the processor's reference
	Brand string
	Last4 string
}

// Payment errors; Server answers 402 for both.
var (
	ErrCardInvalid  = errors.New("card invalid")
	ErrCardDeclined = errors.New("card declined")
)

// DeclineCard is the test processor's documented always-declined number.
const DeclineCard = "4000000000000002"

// ChargeLedger keeps the test processor's charges where every directory
// instance sharing a database sees them and a crash does not lose them
// (both stores implement it): one charge per idempotency key, as a real
// processor keeps on its side.
type ChargeLedger interface {
	// RecordTestCharge records r (amount in cents) under key unless a
	// charge is recorded under key already, and returns the charge that
	// stands (r or the earlier one) and whether it is r.
	RecordTestCharge(ctx context.Context, key string, amount int64, r *ChargeResult) (standing *ChargeResult, recorded bool, err error)
	// TestCharges returns every recorded charge by key (audits, tests).
	TestCharges(ctx context.Context) (map[string]ChargeResult, error)
	// ChargedPurchase is Store.FreePurchase for a priced purchase p the
	// test processor charged: p (paid), its charge c (amount p.Amount,
	// under key), ev and lic are recorded in one transaction, all or
	// nothing. When a purchase stands already (p's nonce, or a pending or
	// paid one of its account and title) it is returned, created false,
	// and nothing is written; when a charge stands under key already,
	// nothing is written and the error is ErrChargeStands.
	ChargedPurchase(ctx context.Context, p *Purchase, key string, c *ChargeResult, ev *OutboxEvent, lic *LicenseRecord) (cur *Purchase, created bool, err error)
}

// ErrChargeStands is ChargeLedger.ChargedPurchase's refusal when a charge
// is recorded under the key already (it must be answered, not made again).
var ErrChargeStands = errors.New("a test charge stands under this idempotency key")

// TestProcessor is the built-in test payment processor. It charges nothing
// real: a card number passing the Luhn check, with an unexpired MM/YY expiry
// and a 3–4 digit CVC, succeeds, except DeclineCard, which is declined.
// Results are kept per idempotency key: in a ChargeLedger when it has one
// (NewServer gives it the store), so that a key is charged once across
// instances and restarts; else in memory for the life of the process.
type TestProcessor struct {
	ledger  ChargeLedger
	mu      sync.Mutex
	results map[string]*ChargeResult
	charges atomic.Int64
	now     func() time.Time
}

// NewTestProcessor returns a TestProcessor keeping its charges in memory.
func NewTestProcessor() *TestProcessor {
	return &TestProcessor{results: make(map[string]*ChargeResult), now: time.Now}
}

// NewLedgerTestProcessor returns a TestProcessor keeping its charges in l.
func NewLedgerTestProcessor(l ChargeLedger) *TestProcessor {
	p := NewTestProcessor()
	p.ledger = l
	return p
}

// Charges is how many distinct charges this processor made (with a ledger,
// those whose record stood).
func (p *TestProcessor) Charges() int64 { return p.charges.Load() }

// Charge implements PaymentProcessor.
func (p *TestProcessor) Charge(ctx context.Context, c Charge) (*ChargeResult, error) {
	if c.Amount <= 0 {
		return nil, fmt.Errorf("charging %d: amount must be positive", c.Amount)
	}
	if p.ledger != nil && c.IdempotencyKey != "" {
		r, err := p.newCharge(c)
		if err != nil {
			return nil, err
		}
		standing, recorded, err := p.ledger.RecordTestCharge(ctx, c.IdempotencyKey, c.Amount, r)
		if err != nil {
			return nil, fmt.Errorf("recording test charge: %w", err)
		}
		if recorded {
			p.charges.Add(1)
		}
		out := *standing
		return &out, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.results[c.IdempotencyKey]; ok && c.IdempotencyKey != "" {
		out := *r
		return &out, nil
	}
	r, err := p.newCharge(c)
	if err != nil {
		return nil, err
	}
	p.results[c.IdempotencyKey] = r
	p.charges.Add(1)
	out := *r
	return &out, nil
}

// newCharge checks the card and makes the charge's result (a fresh token).
// A charge already standing under the key is answered instead by the
// caller; checking the same card again gives the same answer.
func (p *TestProcessor) newCharge(c Charge) (*ChargeResult, error) {
	num, err := CheckCard(c.Card, p.now())
	if err != nil {
		return nil, err
	}
	if num == DeclineCard {
		return nil, fmt.Errorf("%w: the issuer declined the charge (test decline number)", ErrCardDeclined)
	}
	var tok [12]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("making payment token: %w", err)
	}
	return &ChargeResult{Token: "tok_test_" + hex.EncodeToString(tok[:]), Brand: CardBrand(num), Last4: num[len(num)-4:]}, nil
}

// CheckCard validates a card's number (Luhn), expiry (MM/YY or MM/YYYY, not
// past at now) and CVC, returning the number without spaces or dashes.
func CheckCard(p license.Payment, now time.Time) (string, error) {
	num := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, p.Card)
	if len(num) < 12 || len(num) > 19 || strings.Trim(num, "0123456789") != "" {
		return "", fmt.Errorf("%w: card number must be 12 to 19 digits", ErrCardInvalid)
	}
	if !luhn(num) {
		return "", fmt.Errorf("%w: card number fails its check digit", ErrCardInvalid)
	}
	mm, yy, ok := strings.Cut(strings.TrimSpace(p.Expiry), "/")
	m, err1 := strconv.Atoi(mm)
	y, err2 := strconv.Atoi(yy)
	if !ok || err1 != nil || err2 != nil || m < 1 || m > 12 {
		return "", fmt.Errorf("%w: expiry must be MM/YY", ErrCardInvalid)
	}
	if y < 100 {
		y += 2000
	}
	if !time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC).After(now) {
		return "", fmt.Errorf("%w: card expired %02d/%d", ErrCardInvalid, m, y)
	}
	if l := len(p.CVC); l < 3 || l > 4 || strings.Trim(p.CVC, "0123456789") != "" {
		return "", fmt.Errorf("%w: CVC must be 3 or 4 digits", ErrCardInvalid)
	}
	return num, nil
}

func luhn(num string) bool {
	sum := 0
	for i := 0; i < len(num); i++ {
		d := int(num[len(num)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// CardBrand guesses the brand from the number's prefix.
func CardBrand(num string) string {
	switch {
	case strings.HasPrefix(num, "4"):
		return "visa"
	case len(num) >= 2 && num[:2] >= "51" && num[:2] <= "55", len(num) >= 4 && num[:4] >= "2221" && num[:4] <= "2720":
		return "mastercard"
	case strings.HasPrefix(num, "34"), strings.HasPrefix(num, "37"):
		return "amex"
	case strings.HasPrefix(num, "6011"), strings.HasPrefix(num, "65"):
		return "discover"
	default:
		return "card"
	}
}
