// Package rowscan reads the directory's stored rows into its types, for
// both of its stores: sqlitestore (database/sql over SQLite) and pgstore
// (pgx over PostgreSQL) each run their own SQL (placeholders, casts,
// upserts) over the same columns, and read those columns here, alike.
//
// Times are stored as Unix milliseconds, 0 for none (MS, Time); lists of
// strings as JSON text, "[]" for none (JSONList, List). A Row is a
// *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
package rowscan

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Row is one row of a query, as both drivers give it.
type Row interface{ Scan(dest ...any) error }

// The columns each reader below scans, in its order; a query selects
// them (a store may qualify or cast them: the order is what counts).
const (
	DeviceCols = `id, account, name, sign_key, box_key, revoked, created`
	// TitleCols ends with whether the title has artwork, from the artwork table.
	TitleCols = `id, content, name, artist, media_type, price, currency, reshare, expires, size, withdrawn,
	album, album_artist, genre, track, disc, year, duration_ms, width, height, owner, visibility,
	EXISTS (SELECT 1 FROM artwork a WHERE a.title = titles.id)`
	PurchaseCols = `id, nonce, title, account, device, amount, currency, state, card_brand, card_last4, token, supplier, reason, created`
	EventCols    = `id, kind, payload, created, attempts, next_attempt, delivered, last_error`
)

// MS is t as stored: Unix milliseconds, 0 for the zero time.
func MS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time reads a time stored by MS (in UTC).
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// JSONList is v as stored: a JSON array, "[]" for none.
func JSONList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// List reads a list stored by JSONList ("" too reads as none).
func List(s string) ([]string, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decoding list column: %w", err)
	}
	return v, nil
}

// Device reads DeviceCols.
func Device(r Row) (*directory.Device, error) {
	var d directory.Device
	var id string
	var sign, box []byte
	var created int64
	if err := r.Scan(&id, &d.Account, &d.Name, &sign, &box, &d.Revoked, &created); err != nil {
		return nil, err
	}
	d.ID, d.Keys.Sign, d.Keys.Box, d.Created = identity.ID(id), sign, box, Time(created)
	return &d, nil
}

// Title reads TitleCols, and into extra the columns the query selects
// after them.
func Title(r Row, extra ...any) (*directory.TitleRecord, error) {
	var t directory.TitleRecord
	var content []byte
	var expires int64
	dst := append([]any{&t.ID, &content, &t.Name, &t.Artist, &t.MediaType, &t.Price, &t.Currency,
		&t.Rights.Reshare, &expires, &t.Size, &t.Withdrawn,
		&t.Album, &t.AlbumArtist, &t.Genre, &t.Track, &t.Disc, &t.Year, &t.DurationMS, &t.Width, &t.Height, &t.Owner, &t.Visibility, &t.Title.Artwork}, extra...)
	if err := r.Scan(dst...); err != nil {
		return nil, err
	}
	if len(content) != len(t.ContentID) {
		return nil, fmt.Errorf("title %s: stored content id has %d bytes", t.ID, len(content))
	}
	copy(t.ContentID[:], content)
	t.Rights.Expires = Time(expires)
	if t.Visibility == directory.VisibilityPublic {
		t.Visibility = "" // the JSON answer leaves it out, as before
	}
	return &t, nil
}

// Purchase reads PurchaseCols.
func Purchase(r Row) (*directory.Purchase, error) {
	var p directory.Purchase
	var dev, sup string
	var created int64
	if err := r.Scan(&p.ID, &p.Nonce, &p.TitleID, &p.Account, &dev, &p.Amount, &p.Currency, &p.State,
		&p.CardBrand, &p.CardLast4, &p.Token, &sup, &p.Reason, &created); err != nil {
		return nil, err
	}
	p.Device, p.Supplier, p.Created = identity.ID(dev), identity.ID(sup), Time(created)
	return &p, nil
}

// Event reads EventCols.
func Event(r Row) (*directory.OutboxEvent, error) {
	var e directory.OutboxEvent
	var created, next, delivered int64
	if err := r.Scan(&e.ID, &e.Kind, &e.Payload, &created, &e.Attempts, &next, &delivered, &e.LastError); err != nil {
		return nil, err
	}
	e.Created, e.NextAttempt, e.Delivered = Time(created), Time(next), Time(delivered)
	return &e, nil
}

// Announcement reads an announcement's public_ip, addrs, private_addrs,
// rtts, load and expires (its holdings are not read), for device.
func Announcement(r Row, device identity.ID) (*directory.AnnounceRecord, error) {
	a := &directory.AnnounceRecord{Device: device}
	var addrs, priv, rtts string
	var exp int64
	if err := r.Scan(&a.PublicIP, &addrs, &priv, &rtts, &a.Load, &exp); err != nil {
		return nil, err
	}
	a.Expires = Time(exp)
	var err error
	if a.Addrs, err = List(addrs); err != nil {
		return nil, err
	}
	if a.PrivateAddrs, err = List(priv); err != nil {
		return nil, err
	}
	if rtts != "" && rtts != "null" {
		if err := json.Unmarshal([]byte(rtts), &a.RTTs); err != nil {
			return nil, fmt.Errorf("decoding rtts: %w", err)
		}
	}
	return a, nil
}

// Holding reads a holding's complete, mode, allow and deny, of content c.
func Holding(r Row, c sealed.ContentID) (*directory.Holding, error) {
	var allow, deny string
	h := &directory.Holding{Content: c}
	if err := r.Scan(&h.Complete, &h.Policy.Mode, &allow, &deny); err != nil {
		return nil, err
	}
	var err error
	if h.Policy.Allow, err = List(allow); err != nil {
		return nil, err
	}
	if h.Policy.Deny, err = List(deny); err != nil {
		return nil, err
	}
	return h, nil
}
