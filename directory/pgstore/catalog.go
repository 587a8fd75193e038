package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/internal/rowscan"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// PutTitle implements directory.Store.
func (s *Store) PutTitle(ctx context.Context, t *directory.TitleRecord) error {
	vis := t.Visibility
	if vis == "" {
		vis = directory.VisibilityPublic
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO titles (id, content, name, artist, media_type, price, currency,
		reshare, expires, size, manifest, sealed_key, withdrawn, published,
		album, album_artist, genre, track, disc, year, duration_ms, width, height, owner, publisher, visibility)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)`,
			t.ID, t.ContentID[:], t.Name, t.Artist, t.MediaType, t.Price, t.Currency, t.Rights.Reshare, rowscan.MS(t.Rights.Expires),
			t.Size, t.Manifest, t.SealedKey, t.Withdrawn, rowscan.MS(t.Published),
			t.Album, t.AlbumArtist, t.Genre, t.Track, t.Disc, t.Year, t.DurationMS, t.Width, t.Height, t.Owner, string(t.Publisher), vis)
		if err != nil || len(t.Artwork) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO artwork (title, jpeg) VALUES ($1, $2)`, t.ID, t.Artwork)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("title %s: %w", t.ID, directory.ErrExists)
	}
	return err
}

func (s *Store) titleWhere(ctx context.Context, where string, arg any) (*directory.TitleRecord, error) {
	var published int64
	var manifest, key []byte
	var publisher string
	row := s.pool.QueryRow(ctx, `SELECT `+rowscan.TitleCols+`, manifest, sealed_key, published, publisher FROM titles WHERE `+where, arg)
	t, err := rowscan.Title(row, &manifest, &key, &published, &publisher)
	if err != nil {
		return nil, notFound(err, "title")
	}
	t.Manifest, t.SealedKey, t.Published, t.Publisher = manifest, key, rowscan.Time(published), identity.ID(publisher)
	return t, nil
}

// Artwork implements directory.Store.
func (s *Store) Artwork(ctx context.Context, titleID string) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT jpeg FROM artwork WHERE title = $1`, titleID).Scan(&b)
	return b, notFound(err, "artwork")
}

// Title implements directory.Store.
func (s *Store) Title(ctx context.Context, id string) (*directory.TitleRecord, error) {
	return s.titleWhere(ctx, `id = $1`, id)
}

// TitleByContent implements directory.Store.
func (s *Store) TitleByContent(ctx context.Context, c sealed.ContentID) (*directory.TitleRecord, error) {
	return s.titleWhere(ctx, `content = $1`, c[:])
}

// SearchTitles implements directory.Store. The match is ILIKE: SQLite's
// LIKE folds ASCII case only, PostgreSQL's ILIKE folds all of Unicode.
func (s *Store) SearchTitles(ctx context.Context, q, viewer string, offset, limit int) ([]directory.Title, int, error) {
	where, args := `NOT withdrawn AND (visibility = 'public' OR owner = $1)`, []any{viewer}
	if viewer == "" {
		where, args = `NOT withdrawn AND visibility = 'public'`, nil
	}
	if q != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
		n := "$" + strconv.Itoa(len(args)+1)
		where += ` AND (name ILIKE ` + n + ` OR artist ILIKE ` + n + ` OR album ILIKE ` + n + `)`
		args = append(args, "%"+esc+"%")
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM titles WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	lim := fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)+1, len(args)+2)
	rows, err := s.pool.Query(ctx, `SELECT `+rowscan.TitleCols+` FROM titles WHERE `+where+` ORDER BY name, artist, id`+lim,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []directory.Title
	for rows.Next() {
		t, err := rowscan.Title(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t.Title)
	}
	return out, total, rows.Err()
}

// WithdrawTitle implements directory.Store.
func (s *Store) WithdrawTitle(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE titles SET withdrawn = true WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("title %s: %w", id, directory.ErrNotFound)
		}
		return err
	})
}

// BeginPurchase implements directory.Store: the UNIQUE nonce and the
// partial unique index on (account, title) decide which row stands (ON
// CONFLICT DO NOTHING waits for a concurrent insert of the same key; at
// SERIALIZABLE that race is a 40001 and the transaction runs again).
func (s *Store) BeginPurchase(ctx context.Context, p *directory.Purchase) (*directory.Purchase, bool, error) {
	return s.FreePurchase(ctx, p, nil, nil)
}

// FreePurchase implements directory.Store (BeginPurchase is FreePurchase
// without event and license).
func (s *Store) FreePurchase(ctx context.Context, p *directory.Purchase, ev *directory.OutboxEvent, lic *directory.LicenseRecord) (*directory.Purchase, bool, error) {
	var cur *directory.Purchase
	var created bool
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		if cur, created, err = beginPurchase(ctx, tx, p); err != nil || !created {
			return err
		}
		return recordPaid(ctx, tx, ev, lic)
	})
	if err != nil {
		return nil, false, err
	}
	return cur, created, nil
}

// beginPurchase inserts p unless a purchase stands for its nonce or its
// account and title, and returns the one that stands.
func beginPurchase(ctx context.Context, tx pgx.Tx, p *directory.Purchase) (*directory.Purchase, bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO purchases (`+rowscan.PurchaseCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
		ON CONFLICT DO NOTHING`,
		p.ID, p.Nonce, p.TitleID, p.Account, string(p.Device), p.Amount, p.Currency, p.State,
		p.CardBrand, p.CardLast4, p.Token, string(p.Supplier), p.Reason, rowscan.MS(p.Created))
	if err != nil {
		return nil, false, err
	}
	if tag.RowsAffected() == 1 {
		q := *p
		q.Created = rowscan.Time(rowscan.MS(p.Created)) // as read back
		return &q, true, nil
	}
	cur, err := rowscan.Purchase(tx.QueryRow(ctx, `SELECT `+rowscan.PurchaseCols+` FROM purchases WHERE nonce = $1`, p.Nonce))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, err = rowscan.Purchase(tx.QueryRow(ctx, `SELECT `+rowscan.PurchaseCols+` FROM purchases
			WHERE account = $1 AND title = $2 AND state IN ('pending', 'paid')`, p.Account, p.TitleID))

	}
	return cur, false, err
}

func recordPaid(ctx context.Context, tx pgx.Tx, ev *directory.OutboxEvent, lic *directory.LicenseRecord) error {
	if ev != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (kind, payload, created, next_attempt) VALUES ($1, $2, $3, $4)`,
			ev.Kind, ev.Payload, rowscan.MS(ev.Created), rowscan.MS(ev.NextAttempt)); err != nil {
			return err
		}
	}
	if lic != nil {
		return insertLicense(ctx, tx, lic)
	}
	return nil
}

// CompletePurchase implements directory.Store.
func (s *Store) CompletePurchase(ctx context.Context, p *directory.Purchase, ev *directory.OutboxEvent, lic *directory.LicenseRecord) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE purchases SET state = 'paid', card_brand = $1, card_last4 = $2, token = $3
			WHERE id = $4 AND state = 'pending'`, p.CardBrand, p.CardLast4, p.Token, p.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("purchase %s: %w", p.ID, directory.ErrNotPending)
		}
		return recordPaid(ctx, tx, ev, lic)
	})
}

func insertLicense(ctx context.Context, tx pgx.Tx, l *directory.LicenseRecord) error {
	enc := l.Encoded
	if enc == nil {
		enc = []byte{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO licenses (id, purchase, device, content, issued, license) VALUES ($1, $2, $3, $4, $5, $6)`,
		l.ID, l.Purchase, string(l.Device), l.Content[:], rowscan.MS(l.Issued), enc)
	return err
}

// IssuedLicense implements directory.Store.
func (s *Store) IssuedLicense(ctx context.Context, purchase string, device identity.ID) (*directory.LicenseRecord, error) {
	l := &directory.LicenseRecord{Purchase: purchase, Device: device}
	var content []byte
	var issued int64
	err := s.pool.QueryRow(ctx, `SELECT id, content, issued, license FROM licenses
		WHERE purchase = $1 AND device = $2 AND length(license) > 0 ORDER BY issued DESC, id LIMIT 1`, purchase, string(device)).
		Scan(&l.ID, &content, &issued, &l.Encoded)
	if err != nil {
		return nil, notFound(err, "license")
	}
	copy(l.Content[:], content)
	l.Issued = rowscan.Time(issued)
	return l, nil
}

// DeclinePurchase implements directory.Store.
func (s *Store) DeclinePurchase(ctx context.Context, id, reason string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE purchases SET state = 'declined', reason = $1 WHERE id = $2 AND state = 'pending'`, reason, id)
		return err
	})
}

// OwnedPurchase implements directory.Store.
func (s *Store) OwnedPurchase(ctx context.Context, account, titleID string) (*directory.Purchase, error) {
	p, err := rowscan.Purchase(s.pool.QueryRow(ctx, `SELECT `+rowscan.PurchaseCols+` FROM purchases
		WHERE account = $1 AND title = $2 AND state = 'paid'`, account, titleID))

	return p, notFound(err, "purchase")
}

// AddLicense implements directory.Store.
func (s *Store) AddLicense(ctx context.Context, l *directory.LicenseRecord) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return insertLicense(ctx, tx, l) })
}

// Purchases returns every purchase, oldest first (for tests and audits).
func (s *Store) Purchases(ctx context.Context) ([]directory.Purchase, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rowscan.PurchaseCols+` FROM purchases ORDER BY created, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.Purchase
	for rows.Next() {
		p, err := rowscan.Purchase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// OrphanLicenses counts licenses whose purchase is not paid (always 0 unless
// the database was tampered with).
func (s *Store) OrphanLicenses(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM licenses l LEFT JOIN purchases p ON p.id = l.purchase
		WHERE p.id IS NULL OR p.state <> 'paid'`).Scan(&n)
	return n, err
}
