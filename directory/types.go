package directory

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/oneline"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Info describes a directory: GET /v1/info.
type Info struct {
	Name    string              `json:"name"`
	Version string              `json:"version"`
	ID      identity.ID         `json:"id"`   // the fingerprint clients pin
	Keys    identity.PublicKeys `json:"keys"` // sign: verifies manifests and licenses; box: seals registrations
}

// Device is an enrolled device as the directory knows it.
type Device struct {
	ID      identity.ID         `json:"id"`
	Name    string              `json:"name"`
	Account string              `json:"account"`
	Keys    identity.PublicKeys `json:"keys"`
	Revoked bool                `json:"revoked"`
	Created time.Time           `json:"created"`
}

// Title is one catalog entry.
type Title struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Artist    string           `json:"artist"`
	MediaType string           `json:"media_type"`
	Price     int64            `json:"price"` // in cents of Currency; 0 = free (registration only)
	Currency  string           `json:"currency"`
	Rights    license.Rights   `json:"rights"`
	ContentID sealed.ContentID `json:"content"`
	Size      int64            `json:"size"` // sealed file size in bytes
	Withdrawn bool             `json:"withdrawn"`
	TitleTags
	// Owner is the account that published the title from one of its
	// devices ("" = published by the directory's operator); Visibility is
	// VisibilityHousehold (listed to Owner's devices only) or "" / VisibilityPublic.
	Owner      string `json:"owner,omitempty"`
	Visibility string `json:"visibility,omitempty"`
	Artwork    bool   `json:"artwork,omitempty"` // GET /v1/titles/{id}/artwork answers a JPEG thumbnail
}

// maxTitleText is the most runes of a title's text a directory accepts
// (a name, an artist, an album: checkTags, share/tags.MaxText).
const maxTitleText = 200

// plain makes the text of a title a directory answered one plain line of
// at most maxTitleText runes each (oneline): the client shows it in lists
// and keeps it in the library, and a directory that is not honest could
// put line breaks, a terminal's escape sequences or a U+202E in it. An
// honest directory's titles are unchanged but for runs of spaces (publish
// refuses all three).
func (t *Title) plain() {
	for _, s := range []*string{&t.Name, &t.Artist, &t.Album, &t.AlbumArtist, &t.Genre, &t.Currency, &t.Owner} {
		*s = oneline.Text(*s, maxTitleText)
	}
}

// TitleTags are what a media file's tags say about a title beyond its name
// and artist (see share/tags); zero when unknown.
type TitleTags struct {
	Album       string `json:"album,omitempty"`
	AlbumArtist string `json:"album_artist,omitempty"`
	Genre       string `json:"genre,omitempty"`
	Track       int    `json:"track,omitempty"`
	Disc        int    `json:"disc,omitempty"`
	Year        int    `json:"year,omitempty"`
	DurationMS  int64  `json:"duration_ms,omitempty"`
	// Width and Height are a video's size in pixels, 1..MaxVideoDimension
	// (0 = unknown, or not video).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// MaxVideoDimension is the largest video width or height a title may carry.
const MaxVideoDimension = 16384

// Title visibilities.
const (
	VisibilityPublic    = "public"    // listed to everyone (also "")
	VisibilityHousehold = "household" // listed to, and registrable by, the owner's account only
)

// Receipt records one purchase (or free registration) of a title by an account.
type Receipt struct {
	PurchaseID string      `json:"purchase"`
	TitleID    string      `json:"title"`
	Account    string      `json:"account"`
	Amount     int64       `json:"amount"`
	Currency   string      `json:"currency"`
	CardBrand  string      `json:"card_brand,omitempty"`
	CardLast4  string      `json:"card_last4,omitempty"`
	Supplier   identity.ID `json:"supplier,omitempty"` // the device credited for relaying, if any
	Time       time.Time   `json:"time"`
}

// Registered answers a registration: the license for the registering device
// and the receipt of the account's purchase (an earlier one when the account
// already owned the title).
type Registered struct {
	License *license.License `json:"license"`
	Receipt Receipt          `json:"receipt"`

	encLicense []byte // License's JSON encoding when already made (the stored record's), or nil
}

// Holding is one title a device holds, with its owner's copy restriction.
type Holding struct {
	Content  sealed.ContentID `json:"content"`
	Complete bool             `json:"complete"`
	Policy   Policy           `json:"policy"`
}

// Announcement is a device's heartbeat: where its peer server listens, what
// it holds (the full set, replacing the previous one) and how busy it is.
type Announcement struct {
	Addrs        []string         `json:"addrs"`                   // host:port of its peer server
	Holdings     []Holding        `json:"holdings"`                // replaces the previous set
	Load         int              `json:"load"`                    // active uploads
	PrivateAddrs []string         `json:"private_addrs,omitempty"` // its LAN addresses (IPs or CIDRs)
	RTTs         map[string]int64 `json:"rtts,omitempty"`          // measured round trip in ms to other devices, by device ID
	Relay        string           `json:"relay,omitempty"`         // the directory's relay (host:port), when it keeps a connection to it
	// HoldingsSame, instead of Holdings, says the holdings are those of
	// the device's last announcement, by their HoldingsDigest: a
	// heartbeat in a few bytes whatever the library's size. A directory
	// that no longer has them answers 409 CodeHoldingsUnknown (the client
	// sends them in full); an older one refuses the field (400).
	HoldingsSame []byte `json:"holdings_same,omitempty"`
}

// Supplier is a device (or the origin) from which content can be fetched.
type Supplier struct {
	Device   identity.ID `json:"device"`
	Account  string      `json:"account"` // only for the asker's own devices: "" for another account's
	Addrs    []string    `json:"addrs"`
	Origin   bool        `json:"origin"`   // the directory's origin store: fetch with Client.Origin
	Complete bool        `json:"complete"` // holds every chunk
	SameLAN  bool        `json:"same_lan"` // same public address and a private subnet in common
	RTT      int64       `json:"rtt_ms,omitempty"`
	Load     int         `json:"load"`
	Score    float64     `json:"score"` // in (0,1], higher is better; decreasing down the list
	// Reach is how the asker can connect (ReachDirect, ReachRelayed,
	// ReachUnreachable; "" when the directory did not check), and Relay
	// the relay to ask through (with a ticket, Client.RelayTicket) when relayed.
	Reach string `json:"reach,omitempty"`
	Relay string `json:"relay,omitempty"`
	// Arrival is this download's place in the order in which the listed
	// downloads and the asker's own were first announced: its rank from
	// 1, negative when it came before the asker's; 0 when not known (a
	// complete holder, the origin, a sample of a big crowd, a v1 or JSON
	// answer). Only SuppliersMediaTypeV2 carries it: a forming crowd's
	// devices use it to agree on their pairs at once (share.arrivalPairs).
	Arrival int `json:"-"`
}

// Limits on announcements.
const (
	MaxAddrs    = 16
	MaxHoldings = 20000
	MaxRTTs     = 1024
)

// Error is an error answered by the directory: the HTTP status and the
// server's code and wording.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfter is the server's suggested wait (Retry-After, or
	// Kith-Retry-After-Ms when given), read by the client.
	RetryAfter time.Duration `json:"-"`
}

// Error is the refusal on one line, its message cut at
// oneline.MaxMessage runes: Message and Code are what answered, which may
// be a proxy's HTML page, and this text is what a command-line tool and a
// log print.
func (e *Error) Error() string {
	return fmt.Sprintf("directory: %s (%d %s)", oneline.Text(e.Message, oneline.MaxMessage), e.Status, oneline.Text(e.Code, 64))
}

// Is makes errors.Is(err, &Error{Code: c}) match on the code (and the
// status when set).
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.Status == 0 || t.Status == e.Status)
}

// Error codes the server answers.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeRateLimited  = "rate_limited"
	CodeBusy         = "busy"     // 503: a global cap on in-flight work; retry shortly
	CodeCapacity     = "capacity" // 503: the directory holds as many holdings as it may
	CodeReplay       = "replay"
	CodeCardInvalid  = "card_invalid"
	CodeCardDeclined = "card_declined"
	CodeWithdrawn    = "withdrawn"
	CodeInternal     = "internal"
	// CodeHoldingsUnknown (409): an announcement's holdings_same is not
	// the digest of the device's last announcement here; send the
	// holdings in full.
	CodeHoldingsUnknown = "holdings_unknown"
	// CodeOriginBusy (503): the origin handed this part to the crowd
	// already; ask peers, or the origin again after Retry-After.
	CodeOriginBusy = "origin_busy"
	// CodeDeviceLimit (403): the account has as many enrolled devices as
	// the directory allows (Options.MaxDevices); revoke one to enrol another.
	CodeDeviceLimit = "device_limit"
)

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func fieldErrorf(field, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, CodeBadRequest, field+": "+format, args...)
}

// wire bodies

type createAccountRequest struct {
	Account  string `json:"account"`
	Password string `json:"password"`
}

type enrollRequest struct {
	Account  string              `json:"account"`
	Password string              `json:"password"`
	Name     string              `json:"name"`
	Keys     identity.PublicKeys `json:"keys"`
}

type titlesResponse struct {
	Titles  []Title `json:"titles"`
	Total   int     `json:"total"`
	Page    int     `json:"page"`
	PerPage int     `json:"per_page"`
}

type suppliersResponse struct {
	Suppliers []Supplier `json:"suppliers"`
}

// leaveRequest names the account the signing device leaves: a leave meant
// for one account cannot take the device out of another it joined since.
type leaveRequest struct {
	Account string `json:"account"`
}

type devicesResponse struct {
	Devices []Device `json:"devices"`
}
