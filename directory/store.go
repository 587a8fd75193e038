package directory

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Store errors. Implementations wrap them so errors.Is works.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrDeviceLimit: the account has as many devices as it may
	// (EnrollDevice; a DeviceLimitError says how many).
	ErrDeviceLimit = errors.New("the account has as many devices as it may")
	// ErrNotPending: CompletePurchase found the purchase paid or declined
	// already (by another instance sharing the database).
	ErrNotPending = errors.New("purchase no longer pending")
)

// Purchase states.
const (
	PurchasePending  = "pending"  // recorded, payment not finished
	PurchasePaid     = "paid"     // paid (or free): the account owns the title
	PurchaseDeclined = "declined" // payment refused; the nonce keeps answering the refusal
)

// Store is the persistence the Server needs. sqlitestore (embedded, the
// default) and pgstore (PostgreSQL) implement it, and both pass the one
// suite in storetest: a method added here is added to both and to the suite.
type Store interface {
	CreateAccount(ctx context.Context, name, passwordHash string, now time.Time) error // ErrExists
	PasswordHash(ctx context.Context, account string) (string, error)                  // ErrNotFound
	Accounts(ctx context.Context) ([]AccountSummary, error)

	// EnrollDevice adds d; enrolling the same key again under the same
	// account renames it; ErrExists if the key belongs to another account or is revoked.
	// max > 0 caps the account's unrevoked devices: a new one beyond is
	// ErrDeviceLimit, decided in the enrolment's transaction (concurrent
	// enrolments of one account never pass it together); a rename never is.
	EnrollDevice(ctx context.Context, d Device, max int) error
	Device(ctx context.Context, id identity.ID) (*Device, error)
	// Devices lists the account's unrevoked devices. A revoked one keeps
	// its row (its key may never enrol again) but is no longer the
	// account's: listing it made the answer grow by one device per
	// enrol-and-remove, without end.
	Devices(ctx context.Context, account string) ([]Device, error)
	RevokeDevice(ctx context.Context, account string, id identity.ID) error
	// LeaveAccount removes the unrevoked device id from account: its
	// enrollment, announcement and holdings go, so the key can be enrolled
	// again (under any account); purchases and licenses keep naming it.
	// ErrNotFound if id is not an unrevoked device of account.
	LeaveAccount(ctx context.Context, account string, id identity.ID) error

	PutTitle(ctx context.Context, t *TitleRecord) error
	Title(ctx context.Context, id string) (*TitleRecord, error)
	TitleByContent(ctx context.Context, c sealed.ContentID) (*TitleRecord, error)
	// SearchTitles matches q (case-insensitive substring of name, artist or
	// album; "" = all, withdrawn titles excluded) among the titles viewer (an
	// account, "" = anonymous) may see, and returns one page and the total.
	SearchTitles(ctx context.Context, q, viewer string, offset, limit int) ([]Title, int, error)
	// Artwork returns the JPEG thumbnail of a title (ErrNotFound if none).
	Artwork(ctx context.Context, titleID string) ([]byte, error)
	WithdrawTitle(ctx context.Context, id string) error

	// BeginPurchase inserts p as pending unless a purchase with the same
	// nonce, or a pending or paid one of the same account and title, exists;
	// it returns the row now standing and whether it is p.
	BeginPurchase(ctx context.Context, p *Purchase) (*Purchase, bool, error)
	// CompletePurchase marks a pending purchase paid with its card details,
	// queues ev in the billing outbox and records lic (optional), atomically.
	CompletePurchase(ctx context.Context, p *Purchase, ev *OutboxEvent, lic *LicenseRecord) error
	// FreePurchase is BeginPurchase for a purchase that needs no payment
	// (p.State paid): when p is inserted, ev is queued and lic recorded in
	// the same transaction, so a free registration costs one commit.
	FreePurchase(ctx context.Context, p *Purchase, ev *OutboxEvent, lic *LicenseRecord) (*Purchase, bool, error)
	DeclinePurchase(ctx context.Context, id, reason string) error
	// OwnedPurchase returns the paid purchase of title by account.
	OwnedPurchase(ctx context.Context, account, titleID string) (*Purchase, error)
	AddLicense(ctx context.Context, l *LicenseRecord) error
	// IssuedLicense returns the latest license recorded with its encoding
	// for device under purchase (ErrNotFound if none).
	IssuedLicense(ctx context.Context, purchase string, device identity.ID) (*LicenseRecord, error)

	Announce(ctx context.Context, a *AnnounceRecord) error
	Withdraw(ctx context.Context, device identity.ID) error
	Announcement(ctx context.Context, device identity.ID) (*AnnounceRecord, error)
	Holding(ctx context.Context, device identity.ID, c sealed.ContentID) (*Holding, error)
	// OnlineHoldings calls fn, in any order, for every holding whose
	// announcement is unexpired at now and whose device is neither revoked
	// nor withdrawn (Candidate.Expires set). The server builds its in-memory
	// supplier index from it once, then keeps the index current itself.
	OnlineHoldings(ctx context.Context, now time.Time, fn func(c sealed.ContentID, h *Candidate) error) error

	// ClaimEvents leases up to limit undelivered events due at now whose
	// lease ran out, until now+lease, and returns them oldest due first:
	// instances sharing the database never hold the same event at once.
	ClaimEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*OutboxEvent, error)
	// MarkDelivered marks events delivered (one transaction for all).
	MarkDelivered(ctx context.Context, ids []int64, at time.Time) error
	// MarkRetry sets an event's next attempt and ends its lease.
	MarkRetry(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	// Events calls fn for every outbox event in order.
	Events(ctx context.Context, fn func(*OutboxEvent) error) error
}

// SharedStore is a Store several instances share (pgstore): what one
// instance changes in memory-held state reaches the others through it.
// The server uses it when its Store has it.
type SharedStore interface {
	// DeviceChanges returns the devices whose announcement changed (announce,
	// withdraw, revoke, leave) after cursor, each with its current state,
	// and the cursor for the next call. Cursor 0 starts the feed now.
	DeviceChanges(ctx context.Context, cursor int64, now time.Time) ([]DeviceChange, int64, error)
	// SeenRequest records a signed request's signature until expires and
	// reports whether it was new (false: a replay, to any instance).
	SeenRequest(ctx context.Context, sig []byte, expires time.Time) (bool, error)
	// PruneShared deletes what DeviceChanges and SeenRequest no longer need.
	PruneShared(ctx context.Context, now time.Time) error
}

// DeviceChange is one device's current online state.
type DeviceChange struct {
	Device  identity.ID
	Account string
	Online  *AnnounceRecord // with its holdings; nil when offline (withdrawn, revoked, left, expired)
}

// AccountSummary is one line of the accounts listing.
type AccountSummary struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Devices int       `json:"devices"`
	// Removed counts the devices removed (revoked) from the account: their
	// rows stay, so their keys can never enrol again, but the listings
	// and the device cap leave them out; an operator sees them here.
	Removed   int `json:"removed"`
	Purchases int `json:"purchases"`
}

// TitleRecord is a catalog entry with what only the directory keeps.
type TitleRecord struct {
	Title
	Manifest  []byte // signed manifest, sealed.Manifest.MarshalBinary
	SealedKey []byte // content key sealed to the directory's own box key, ad = content ID
	Published time.Time
	Publisher identity.ID // the device that published it; "" = the operator
	Artwork   []byte      // JPEG thumbnail kept with the title (PutTitle only)
}

// Purchase is one account's purchase (or free registration) of a title.
type Purchase struct {
	ID        string
	Nonce     []byte // the registration nonce: the idempotency key
	TitleID   string
	Account   string
	Device    identity.ID // the device that registered
	Amount    int64
	Currency  string
	State     string
	CardBrand string
	CardLast4 string
	Token     string      // the payment processor's token
	Supplier  identity.ID // credited relay, if any
	Reason    string      // decline reason
	Created   time.Time
}

// Receipt returns the client-facing receipt.
func (p *Purchase) Receipt() Receipt {
	return Receipt{PurchaseID: p.ID, TitleID: p.TitleID, Account: p.Account, Amount: p.Amount,
		Currency: p.Currency, CardBrand: p.CardBrand, CardLast4: p.CardLast4, Supplier: p.Supplier, Time: p.Created}
}

// LicenseRecord notes one license issued (always under a paid purchase).
type LicenseRecord struct {
	ID       string
	Purchase string
	Device   identity.ID
	Content  sealed.ContentID
	Issued   time.Time
	Encoded  []byte // the license as issued (JSON): a repeat of its registration gets it again
}

// AnnounceRecord is a device's latest heartbeat.
type AnnounceRecord struct {
	Device   identity.ID
	PublicIP string // the address the directory saw it from
	Announcement
	Expires time.Time
}

// Candidate is a holder of some content, before policy filtering and ranking.
type Candidate struct {
	Device       identity.ID
	Account      string
	Addrs        []string
	PrivateAddrs []string
	PublicIP     string
	Load         int
	Complete     bool
	Policy       Policy
	Expires      time.Time // the announcement's expiry
}

// OutboxEvent is one billing event waiting for (or past) delivery.
type OutboxEvent struct {
	ID          int64
	Kind        string // "registration"
	Payload     []byte // JSON BillingEvent
	Created     time.Time
	Attempts    int
	NextAttempt time.Time
	Delivered   time.Time // zero until delivered
	LastError   string
}

// BillingEvent is the JSON body posted to the media source's webhook.
type BillingEvent struct {
	EventID    string      `json:"event_id"` // stable across redeliveries: dedupe on it
	Kind       string      `json:"kind"`
	PurchaseID string      `json:"purchase"`
	TitleID    string      `json:"title"`
	TitleName  string      `json:"title_name"`
	Account    string      `json:"account"`
	Device     identity.ID `json:"device"`
	Amount     int64       `json:"amount"`
	Currency   string      `json:"currency"`
	CardBrand  string      `json:"card_brand,omitempty"`
	CardLast4  string      `json:"card_last4,omitempty"`
	Token      string      `json:"payment_token,omitempty"`
	Supplier   identity.ID `json:"supplier,omitempty"`
	Time       time.Time   `json:"time"`
}

// ErrOtherIdentity means a database belongs to another directory key.
var ErrOtherIdentity = errors.New("the database belongs to another directory key")

// HoldingsDigest is the SHA-256 of a holdings set as announced (in order):
// stores keep it with the announcement and rewrite the holdings only when
// a heartbeat's digest differs.
func HoldingsDigest(hs []Holding) []byte {
	h := sha256.New()
	var n [4]byte
	str := func(s string) {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	list := func(l []string) {
		binary.BigEndian.PutUint32(n[:], uint32(len(l)))
		h.Write(n[:])
		for _, s := range l {
			str(s)
		}
	}
	binary.BigEndian.PutUint32(n[:], uint32(len(hs)))
	h.Write(n[:])
	for _, x := range hs {
		h.Write(x.Content[:])
		if x.Complete {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
		str(x.Policy.Mode)
		list(x.Policy.Allow)
		list(x.Policy.Deny)
	}
	return h.Sum(nil)
}

// DeviceLimitError is EnrollDevice's ErrDeviceLimit: the account's
// unrevoked devices when it refused.
type DeviceLimitError struct {
	Account string
	Devices int
}

func (e *DeviceLimitError) Error() string {
	return fmt.Sprintf("account %s: %d devices: %v", e.Account, e.Devices, ErrDeviceLimit)
}

// Unwrap makes errors.Is(err, ErrDeviceLimit) hold.
func (e *DeviceLimitError) Unwrap() error { return ErrDeviceLimit }
