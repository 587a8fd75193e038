package directory

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
)

// RegistrationSkew is how far a registration's (and a relay wrapper's) time
// may be from the directory clock. Registrations are idempotent by nonce,
// so this window only bounds how long a captured one stays usable.
const RegistrationSkew = 10 * time.Minute

// Nonce length limits of a registration (the idempotency key).
const (
	minNonce = 8
	maxNonce = 64
)

// newID returns prefix_ then the time in milliseconds (6 bytes) and 12
// random bytes, in hex: time-ordered, so the store's index of purchase IDs
// (and of licenses by purchase) grows at its end instead of each purchase
// dirtying a random page of it in its commit.
func newID(prefix string) string {
	var b [18]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request, rq *request) error {
	var sr license.SealedRegistration
	if err := decodeStrict(rq.body, &sr); err != nil {
		return err
	}
	res, _, err := s.register(r.Context(), &sr, nil)
	if err != nil {
		return err
	}
	writeRegistered(w, res)
	return nil
}

// writeRegistered answers res; the license's encoding is reused when
// makeLicense made it for the store (the same bytes json.Marshal makes:
// TestRegisteredEncoding), not made a second time.
func writeRegistered(w http.ResponseWriter, res *Registered) {
	if res.encLicense == nil {
		writeJSON(w, http.StatusOK, res)
		return
	}
	rc, err := json.Marshal(&res.Receipt)
	if err != nil {
		writeJSON(w, http.StatusOK, res)
		return
	}
	b := make([]byte, 0, len(`{"license":,"receipt":}`)+len(res.encLicense)+len(rc)+1)
	b = append(append(append(append(append(b, `{"license":`...), res.encLicense...), `,"receipt":`...), rc...), "}\n"...)
	w.Header()["Content-Type"] = jsonContentType
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// handleRelay accepts a requester's registration forwarded by a supplier:
// the supplier must be enrolled and have signed the wrapper, hold the title
// and allow the requester; it is credited on the purchase. The answer goes
// back through the supplier, so it is sealed to the requester and signed
// (license.SealedReply holding a RelayAnswer): the supplier can neither
// read the receipt (account, amount, card) nor alter it.
func (s *Server) handleRelay(w http.ResponseWriter, r *http.Request, rq *request) error {
	var rl license.Relayed
	if err := decodeStrict(rq.body, &rl); err != nil {
		return err
	}
	if err := rl.Supplier.Validate(); err != nil {
		return fieldErrorf("supplier", "%v", err)
	}
	if err := rl.Verify(); err != nil {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "relay wrapper: %v", err)
	}
	if d := s.now().Sub(rl.Time); d > RegistrationSkew || d < -RegistrationSkew {
		return newError(http.StatusUnauthorized, CodeReplay, "relay wrapper time is %s off the directory clock", d.Round(time.Second))
	}
	sup, err := s.device(r.Context(), rl.Supplier.ID())
	if err != nil {
		return err
	}
	if sup.Revoked {
		return newError(http.StatusForbidden, CodeForbidden, "supplier %s is revoked", sup.ID.Short())
	}
	if !bytes.Equal(sup.Keys.Sign, rl.Supplier.Sign) {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "supplier keys differ from the enrolled ones")
	}
	res, reg, err := s.register(r.Context(), &rl.Registration, sup)
	a := RelayAnswer{}
	var de *Error
	switch {
	case err == nil:
		a = RelayAnswer{Nonce: reg.Nonce, License: res.License, Receipt: res.Receipt}
	case reg != nil && errors.As(err, &de) && de.Status >= 400 && de.Status < 500:
		// The requester's refusal (a declined card, an account it is not
		// enrolled under) is its business: sealed like a receipt.
		a = RelayAnswer{Nonce: reg.Nonce, Status: de.Status, Error: de}
	default:
		return err
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encoding relay answer: %w", err)
	}
	sealed, err := license.SealReply(payload, s.id, reg.Device)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sealed)
	return nil
}

// RelayAnswer is what the directory seals to a requester whose
// registration a supplier relayed: the registration's nonce (so an old
// answer cannot be passed off as this one), the license and the receipt,
// or the refusal (a 4xx Status and Error) of a registration it could open.
type RelayAnswer struct {
	Nonce   []byte           `json:"nonce"`
	License *license.License `json:"license,omitempty"`
	Receipt Receipt          `json:"receipt"`
	Status  int              `json:"status,omitempty"`
	Error   *Error           `json:"error,omitempty"`
}

// OpenRelayAnswer is the requester's side of a relayed registration: it
// checks the directory's signature (dirSign), opens the reply with self's
// key and checks it answers the registration with this nonce.
func OpenRelayAnswer(s *license.SealedReply, self *identity.Identity, dirSign ed25519.PublicKey, nonce []byte) (*Registered, error) {
	pt, err := license.OpenReply(s, self, dirSign)
	if err != nil {
		return nil, fmt.Errorf("relay answer: %w", err)
	}
	defer clear(pt)
	var a RelayAnswer
	dec := json.NewDecoder(bytes.NewReader(pt))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("relay answer: %w: %w", license.ErrMalformed, err)
	}
	if !bytes.Equal(a.Nonce, nonce) {
		return nil, fmt.Errorf("relay answer: %w: it answers another registration", license.ErrBadSignature)
	}
	if a.Error != nil {
		e := *a.Error
		if e.Status = a.Status; e.Status < 400 || e.Status >= 500 {
			e.Status = http.StatusBadRequest
		}
		return nil, &e
	}
	if a.License == nil || a.License.Device != self.ID() {
		return nil, fmt.Errorf("relay answer: %w: no license for this device", license.ErrWrongDevice)
	}
	return &Registered{License: a.License, Receipt: a.Receipt}, nil
}

// register runs a registration to its end: check, purchase (charging at
// most once per nonce, and at most once per account and title), license.
// It also returns the opened registration (with an error too, once opened).
func (s *Server) register(ctx context.Context, sr *license.SealedRegistration, supplier *Device) (*Registered, *license.Registration, error) {
	reg, err := license.OpenRegistration(sr, s.id, s.now(), RegistrationSkew)
	if err != nil {
		return nil, nil, newError(http.StatusBadRequest, CodeBadRequest, "registration: %v", err)
	}
	res, err := s.registerOpened(ctx, sr, reg, supplier)
	if err != nil {
		return nil, reg, err // reg too: a relayed refusal is sealed to its requester
	}
	return res, reg, nil
}

// registerOpened is register after the registration was opened.
func (s *Server) registerOpened(ctx context.Context, sr *license.SealedRegistration, reg *license.Registration, supplier *Device) (*Registered, error) {
	if reg.Device.ID() != sr.Device {
		return nil, newError(http.StatusBadRequest, CodeBadRequest, "registration: device keys do not match device %s", sr.Device.Short())
	}
	if len(reg.Nonce) < minNonce || len(reg.Nonce) > maxNonce {
		return nil, fieldErrorf("registration nonce", "must be %d to %d bytes", minNonce, maxNonce)
	}
	account, err := NormalizeAccount(reg.Account)
	if err != nil {
		return nil, err
	}
	// the device and the title through their caches: a revoke or leave
	// through this server reaches the device's next registration at once,
	// one through another instance within deviceCacheTTL, like every
	// other request the device makes; titles change only by withdrawal
	// (titleCacheTTL)
	dev, err := s.deviceRecord(ctx, sr.Device)
	if errors.Is(err, ErrNotFound) {
		return nil, newError(http.StatusForbidden, CodeForbidden, "device %s is not enrolled; enroll it under account %q first", sr.Device.Short(), account)
	}
	if err != nil {
		return nil, fmt.Errorf("reading device: %w", err)
	}
	switch {
	case dev.Revoked:
		return nil, newError(http.StatusForbidden, CodeForbidden, "device %s is revoked", dev.ID.Short())
	case dev.Account != account:
		return nil, newError(http.StatusForbidden, CodeForbidden, "device %s is not enrolled under account %q", dev.ID.Short(), account)
	case !bytes.Equal(dev.Keys.Box, reg.Device.Box) || !bytes.Equal(dev.Keys.Sign, reg.Device.Sign):
		return nil, newError(http.StatusForbidden, CodeForbidden, "registration keys differ from the enrolled device keys")
	}
	t, err := s.titleRecord(ctx, reg.TitleID)
	if errors.Is(err, ErrNotFound) {
		return nil, newError(http.StatusNotFound, CodeNotFound, "no title %q", reg.TitleID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading title: %w", err)
	}
	if !t.visibleTo(account) {
		return nil, newError(http.StatusNotFound, CodeNotFound, "no title %q", reg.TitleID)
	}
	var supID identity.ID
	if supplier != nil {
		if supplier.ID == dev.ID {
			return nil, newError(http.StatusBadRequest, CodeBadRequest, "a device cannot relay its own registration")
		}
		h, err := s.st.Holding(ctx, supplier.ID, t.ContentID)
		if errors.Is(err, ErrNotFound) {
			return nil, newError(http.StatusForbidden, CodeForbidden, "supplier %s does not hold title %q", supplier.ID.Short(), t.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("reading holding: %w", err)
		}
		if !h.Policy.Allows(supplier.Account, dev.ID, dev.Account) {
			return nil, newError(http.StatusForbidden, CodeForbidden, "the supplier's copy restriction excludes device %s", dev.ID.Short())
		}
		supID = supplier.ID
	}
	price := t.Price
	if t.Owner != "" && t.Owner == account {
		price = 0 // a household does not pay for what it published itself
	}
	p := &Purchase{ID: newID("p"), Nonce: reg.Nonce, TitleID: t.ID, Account: account, Device: dev.ID,
		Amount: price, Currency: t.Currency, State: PurchasePending, Supplier: supID, Created: s.now().UTC()}
	if t.Withdrawn {
		if _, err := s.st.OwnedPurchase(ctx, account, t.ID); err != nil {
			return nil, newError(http.StatusGone, CodeWithdrawn, "title %q is withdrawn", t.ID)
		}
	}
	var cur *Purchase
	if p.Amount == 0 {
		// free: the purchase is recorded paid with its event and license
		// in one transaction (one commit), unless one already stands
		p.State = PurchasePaid
		lic, rec, err := s.makeLicense(t, p, dev)
		if err != nil {
			return nil, err
		}
		oe, err := s.billingEvent(p, t)
		if err != nil {
			return nil, err
		}
		var created bool
		if cur, created, err = s.st.FreePurchase(ctx, p, oe, rec); err != nil {
			return nil, fmt.Errorf("recording purchase: %w", err)
		}
		if created {
			s.recorded(cur, "free")
			return &Registered{License: lic, Receipt: cur.Receipt(), encLicense: rec.Encoded}, nil
		}
	} else {
		var res *Registered
		if res, cur, err = s.chargeInOne(ctx, p, reg.Payment, t, dev); err != nil || res != nil {
			return res, err
		}
		if cur == nil {
			if cur, _, err = s.st.BeginPurchase(ctx, p); err != nil {
				return nil, fmt.Errorf("recording purchase: %w", err)
			}
		}
	}
	sameNonce := bytes.Equal(cur.Nonce, reg.Nonce)
	if sameNonce && (cur.TitleID != t.ID || cur.Account != account) {
		return nil, newError(http.StatusConflict, CodeConflict, "registration nonce already used for another registration")
	}
	switch cur.State {
	case PurchaseDeclined:
		return nil, newError(http.StatusPaymentRequired, CodeCardDeclined, "payment declined: %s", cur.Reason)
	case PurchasePending:
		v, err, _ := s.flight.Do(cur.ID, func() (any, error) {
			return s.complete(context.WithoutCancel(ctx), cur, reg.Payment, t, dev)
		})
		if err != nil {
			return nil, err
		}
		res := v.(*Registered)
		if res.License.Device == dev.ID {
			return res, nil
		}
		cur = &Purchase{}
		*cur = *res.purchase()
	default:
		if sameNonce {
			s.metrics.purchases.add("repeat", 1)
			// the same registration again (to this instance or another):
			// the same license
			if lic := s.issuedLicense(ctx, cur.ID, dev.ID); lic != nil {
				return &Registered{License: lic, Receipt: cur.Receipt()}, nil
			}
		} else {
			s.metrics.purchases.add("owned", 1)
		}
	}
	lic, rec, err := s.makeLicense(t, cur, dev)
	if err != nil {
		return nil, err
	}
	if err := s.st.AddLicense(ctx, rec); err != nil {
		return nil, fmt.Errorf("recording license: %w", err)
	}
	return &Registered{License: lic, Receipt: cur.Receipt(), encLicense: rec.Encoded}, nil
}

// chargeInOne records new priced purchase p paid in one transaction
// (one commit) when the payment processor is the built-in test processor
// keeping its charges in this server's store: the card is checked, and the
// charge, the paid purchase, its billing event and the license are
// committed together, where the general path takes three commits (the
// pending purchase, the charge, the completion). A processor outside the
// database cannot: its charge comes between a durable pending purchase
// and the completion. It returns the answer when p was recorded; else cur,
// the purchase that stood already (nothing written), or neither when the
// general path must run (another processor, no payment, a refused card,
// whose refusal that path records, or a charge standing under the nonce).
func (s *Server) chargeInOne(ctx context.Context, p *Purchase, pay *license.Payment, t *TitleRecord, dev *Device) (res *Registered, cur *Purchase, err error) {
	tp, ok := s.pay.(*TestProcessor)
	if !ok || pay == nil || tp.ledger == nil || any(tp.ledger) != any(s.st) {
		return nil, nil, nil
	}
	key := hex.EncodeToString(p.Nonce)
	c, err := tp.newCharge(Charge{IdempotencyKey: key, Amount: p.Amount, Currency: p.Currency, Card: *pay, Description: t.Name})
	if err != nil {
		return nil, nil, nil // a refused card: the general path records the refusal
	}
	q := *p
	q.State, q.CardBrand, q.CardLast4, q.Token = PurchasePaid, c.Brand, c.Last4, c.Token
	lic, rec, err := s.makeLicense(t, &q, dev)
	if err != nil {
		return nil, nil, err
	}
	oe, err := s.billingEvent(&q, t)
	if err != nil {
		return nil, nil, err
	}
	cur, created, err := tp.ledger.ChargedPurchase(ctx, &q, key, c, oe, rec)
	switch {
	case errors.Is(err, ErrChargeStands):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("recording purchase: %w", err)
	case !created:
		return nil, cur, nil
	}
	tp.charges.Add(1)
	s.metrics.charges.add("", 1)
	s.recorded(cur, "paid")
	return &Registered{License: lic, Receipt: cur.Receipt(), encLicense: rec.Encoded}, cur, nil
}

// purchase rebuilds the paid purchase a Registered answer stands for.
func (r *Registered) purchase() *Purchase {
	rc := r.Receipt
	return &Purchase{ID: rc.PurchaseID, TitleID: rc.TitleID, Account: rc.Account, Amount: rc.Amount, Currency: rc.Currency,
		CardBrand: rc.CardBrand, CardLast4: rc.CardLast4, Supplier: rc.Supplier, Created: rc.Time, State: PurchasePaid}
}

// complete charges a pending purchase (idempotency key = its nonce) and
// records it paid, with its billing event and dev's license, in one
// transaction. Only one complete runs per purchase at a time.
func (s *Server) complete(ctx context.Context, p *Purchase, pay *license.Payment, t *TitleRecord, dev *Device) (*Registered, error) {
	q := *p
	outcome := "free"
	if q.Amount > 0 {
		if pay == nil {
			reason := fmt.Sprintf("title %q costs %d %s and the registration carries no payment", t.ID, q.Amount, q.Currency)
			if err := s.st.DeclinePurchase(ctx, q.ID, reason); err != nil {
				return nil, fmt.Errorf("recording decline: %w", err)
			}
			s.metrics.purchases.add("declined", 1)
			return nil, newError(http.StatusPaymentRequired, CodeCardDeclined, "payment required: %s", reason)
		}
		res, err := s.pay.Charge(ctx, Charge{IdempotencyKey: hex.EncodeToString(q.Nonce), Amount: q.Amount,
			Currency: q.Currency, Card: *pay, Description: t.Name})
		if errors.Is(err, ErrCardInvalid) || errors.Is(err, ErrCardDeclined) {
			if derr := s.st.DeclinePurchase(ctx, q.ID, err.Error()); derr != nil {
				return nil, fmt.Errorf("recording decline: %w", derr)
			}
			s.metrics.purchases.add("declined", 1)
			code := CodeCardDeclined
			if errors.Is(err, ErrCardInvalid) {
				code = CodeCardInvalid
			}
			return nil, newError(http.StatusPaymentRequired, code, "payment refused: %v", err)
		}
		if err != nil {
			s.log.Error("payment processor failed", "purchase", q.ID, "err", err)
			return nil, newError(http.StatusBadGateway, CodeInternal, "payment processor unavailable; retry the same registration")
		}
		q.CardBrand, q.CardLast4, q.Token = res.Brand, res.Last4, res.Token
		outcome = "paid"
	}
	q.State = PurchasePaid
	lic, rec, err := s.makeLicense(t, &q, dev)
	if err != nil {
		return nil, err
	}
	oe, err := s.billingEvent(&q, t)
	if err != nil {
		return nil, err
	}
	if err := s.st.CompletePurchase(ctx, &q, oe, rec); errors.Is(err, ErrNotPending) {
		// another instance sharing the database finished it first (the
		// processor charged once: the nonce is its idempotency key)
		o, err := s.st.OwnedPurchase(ctx, q.Account, q.TitleID)
		if err != nil || o.ID != q.ID {
			return nil, newError(http.StatusConflict, CodeConflict, "the purchase was settled elsewhere meanwhile; send the same registration again")
		}
		if lic := s.issuedLicense(ctx, o.ID, dev.ID); lic != nil {
			return &Registered{License: lic, Receipt: o.Receipt()}, nil
		}
		if lic, rec, err = s.makeLicense(t, o, dev); err != nil {
			return nil, err
		}
		if err := s.st.AddLicense(ctx, rec); err != nil {
			return nil, fmt.Errorf("recording license: %w", err)
		}
		return &Registered{License: lic, Receipt: o.Receipt()}, nil
	} else if err != nil {
		return nil, fmt.Errorf("recording purchase: %w", err)
	}
	if outcome == "paid" {
		// counted here, once the purchase it pays for is recorded: a
		// registration sent again after a failure is charged again under
		// the same idempotency key, and the processor answers the charge
		// that stands (counted when that call's purchase was recorded)
		s.metrics.charges.add("", 1)
	}
	s.recorded(&q, outcome)
	return &Registered{License: lic, Receipt: q.Receipt(), encLicense: rec.Encoded}, nil
}

// billingEvent is the outbox event of paid purchase q of t.
func (s *Server) billingEvent(q *Purchase, t *TitleRecord) (*OutboxEvent, error) {
	ev := BillingEvent{EventID: "ev_" + q.ID, Kind: "registration", PurchaseID: q.ID, TitleID: t.ID, TitleName: t.Name,
		Account: q.Account, Device: q.Device, Amount: q.Amount, Currency: q.Currency, CardBrand: q.CardBrand,
		CardLast4: q.CardLast4, Token: q.Token, Supplier: q.Supplier, Time: q.Created}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding billing event: %w", err)
	}
	now := s.now().UTC()
	return &OutboxEvent{Kind: ev.Kind, Payload: payload, Created: now, NextAttempt: now}, nil
}

// recorded counts and logs a purchase just recorded paid, and wakes the
// outbox for its event.
func (s *Server) recorded(q *Purchase, outcome string) {
	s.metrics.purchases.add(outcome, 1)
	s.wakeOutbox()
	s.log.Info("purchase", "purchase", q.ID, "title", q.TitleID, "account", q.Account, "amount", q.Amount,
		"currency", q.Currency, "supplier", q.Supplier, "outcome", outcome)
}

// makeLicense issues dev's license for t under purchase p.
func (s *Server) makeLicense(t *TitleRecord, p *Purchase, dev *Device) (*license.License, *LicenseRecord, error) {
	key, err := s.keys.open(s.id, t.SealedKey, t.ContentID[:])
	if err != nil {
		return nil, nil, fmt.Errorf("opening content key of %s: %w", t.ID, err)
	}
	now := s.now().UTC()
	l := license.License{ContentID: t.ContentID, TitleID: t.ID, Device: dev.ID, Account: dev.Account,
		Rights: t.Rights, IssuedAt: now, Issuer: s.id.ID()}
	out, err := license.Issue(s.id, l, dev.Keys, key)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing license: %w", err)
	}
	s.metrics.licenses.add("", 1)
	enc, err := json.Marshal(out)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding license: %w", err)
	}
	return out, &LicenseRecord{ID: out.ID, Purchase: p.ID, Device: dev.ID, Content: t.ContentID, Issued: now, Encoded: enc}, nil
}

// issuedLicense returns the license recorded for dev under purchase, if
// one was and it still decodes as dev's license (nil otherwise: a new one
// is issued).
func (s *Server) issuedLicense(ctx context.Context, purchase string, dev identity.ID) *license.License {
	rec, err := s.st.IssuedLicense(ctx, purchase, dev)
	if err != nil {
		return nil
	}
	var l license.License
	if json.Unmarshal(rec.Encoded, &l) != nil || l.Device != dev || l.ID != rec.ID || l.ContentID != rec.Content {
		s.log.Warn("recorded license does not decode; issuing a new one", "purchase", purchase, "device", dev)
		return nil
	}
	return &l
}

// handleLicense re-issues a license for the signing device when its
// account owns the title.
func (s *Server) handleLicense(w http.ResponseWriter, r *http.Request, rq *request) error {
	c, err := pathContent(r)
	if err != nil {
		return err
	}
	t, err := s.titleByContent(r.Context(), c)
	if err != nil {
		return err
	}
	p, err := s.st.OwnedPurchase(r.Context(), rq.device.Account, t.ID)
	if errors.Is(err, ErrNotFound) {
		return newError(http.StatusPaymentRequired, CodeForbidden, "account %q has not registered title %q; register first", rq.device.Account, t.ID)
	}
	if err != nil {
		return fmt.Errorf("reading purchase: %w", err)
	}
	lic, rec, err := s.makeLicense(t, p, rq.device)
	if err != nil {
		return err
	}
	if err := s.st.AddLicense(r.Context(), rec); err != nil {
		return fmt.Errorf("recording license: %w", err)
	}
	writeJSON(w, http.StatusOK, lic)
	return nil
}
