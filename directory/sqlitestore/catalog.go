package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO titles (id, content, name, artist, media_type, price, currency,
		reshare, expires, size, manifest, sealed_key, withdrawn, published,
		album, album_artist, genre, track, disc, year, duration_ms, width, height, owner, publisher, visibility)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			t.ID, t.ContentID[:], t.Name, t.Artist, t.MediaType, t.Price, t.Currency, t.Rights.Reshare, rowscan.MS(t.Rights.Expires),
			t.Size, t.Manifest, t.SealedKey, t.Withdrawn, rowscan.MS(t.Published),
			t.Album, t.AlbumArtist, t.Genre, t.Track, t.Disc, t.Year, t.DurationMS, t.Width, t.Height, t.Owner, string(t.Publisher), vis)
		if err != nil || len(t.Artwork) == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO artwork (title, jpeg) VALUES (?, ?)`, t.ID, t.Artwork)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("title %s: %w", t.ID, directory.ErrExists)
	}
	return err
}

// titleSelect reads a whole title record; the condition follows.
const titleSelect = `SELECT ` + rowscan.TitleCols + `, manifest, sealed_key, published, publisher FROM titles WHERE `

func (s *Store) titleWhere(ctx context.Context, st *sql.Stmt, arg any) (*directory.TitleRecord, error) {
	var published int64
	var t *directory.TitleRecord
	row := st.QueryRowContext(ctx, arg)
	var manifest, key []byte
	var publisher string
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
	err := s.r.QueryRowContext(ctx, `SELECT jpeg FROM artwork WHERE title = ?`, titleID).Scan(&b)
	return b, notFound(err, "artwork")
}

// Title implements directory.Store.
func (s *Store) Title(ctx context.Context, id string) (*directory.TitleRecord, error) {
	return s.titleWhere(ctx, s.q.title, id)
}

// TitleByContent implements directory.Store.
func (s *Store) TitleByContent(ctx context.Context, c sealed.ContentID) (*directory.TitleRecord, error) {
	return s.titleWhere(ctx, s.q.titleByContent, c[:])
}

// SearchTitles implements directory.Store.
func (s *Store) SearchTitles(ctx context.Context, q, viewer string, offset, limit int) ([]directory.Title, int, error) {
	where, args := `withdrawn = 0 AND (visibility = 'public' OR owner = ?)`, []any{viewer}
	if viewer == "" {
		where, args = `withdrawn = 0 AND visibility = 'public'`, nil
	}
	if q != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
		where += ` AND (name LIKE ? ESCAPE '\' OR artist LIKE ? ESCAPE '\' OR album LIKE ? ESCAPE '\')`
		args = append(args, "%"+esc+"%", "%"+esc+"%", "%"+esc+"%")
	}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM titles WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowscan.TitleCols+` FROM titles WHERE `+where+` ORDER BY name, artist, id LIMIT ? OFFSET ?`,
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
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE titles SET withdrawn = 1 WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("title %s: %w", id, directory.ErrNotFound)
		}
		return nil
	})
}

// Hot write statements, prepared once on the writer connection.
const (
	purchaseInsert   = `INSERT INTO purchases (` + rowscan.PurchaseCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`
	purchaseByNonce  = `SELECT ` + rowscan.PurchaseCols + ` FROM purchases WHERE nonce = ?`
	purchaseStanding = `SELECT ` + rowscan.PurchaseCols + ` FROM purchases WHERE account = ? AND title = ? AND state IN ('pending', 'paid')`
	purchasePaid     = `UPDATE purchases SET state = 'paid', card_brand = ?, card_last4 = ?, token = ? WHERE id = ? AND state = 'pending'`
	outboxInsert     = `INSERT INTO outbox (kind, payload, created, next_attempt) VALUES (?, ?, ?, ?)`
	licenseInsert    = `INSERT INTO licenses (id, purchase, device, content, issued, license) VALUES (?, ?, ?, ?, ?, ?)`
	markDelivered    = `UPDATE outbox SET delivered = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`
	deviceSeq        = `SELECT seq FROM devices WHERE id = ?`
	chargeInsert     = `INSERT INTO test_charges (idem_key, token, brand, last4, amount, created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`
)

var hotWrites = []string{purchaseInsert, purchaseByNonce, purchaseStanding, purchasePaid, outboxInsert, licenseInsert, markDelivered,
	deviceSeq, annUpsert, annDigest, holdDelete, holdInsert, chargeInsert}

// BeginPurchase implements directory.Store: the UNIQUE nonce and the
// partial unique index on (account, title) decide, inside one IMMEDIATE
// transaction, which row stands.
func (s *Store) BeginPurchase(ctx context.Context, p *directory.Purchase) (*directory.Purchase, bool, error) {
	var cur *directory.Purchase
	var created bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		cur, created, err = s.beginPurchase(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return cur, created, nil
}

func (s *Store) beginPurchase(ctx context.Context, tx *sql.Tx, p *directory.Purchase) (*directory.Purchase, bool, error) {
	res, err := s.exec(ctx, tx, purchaseInsert,
		p.ID, p.Nonce, p.TitleID, p.Account, string(p.Device), p.Amount, p.Currency, p.State,
		p.CardBrand, p.CardLast4, p.Token, string(p.Supplier), p.Reason, rowscan.MS(p.Created))
	if err != nil {
		return nil, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		q := *p
		q.Created = rowscan.Time(rowscan.MS(p.Created)) // as read back
		return &q, true, nil
	}
	cur, err := rowscan.Purchase(s.queryRow(ctx, tx, purchaseByNonce, p.Nonce))
	if errors.Is(err, sql.ErrNoRows) {
		cur, err = rowscan.Purchase(s.queryRow(ctx, tx, purchaseStanding, p.Account, p.TitleID))
	}
	return cur, false, err
}

// FreePurchase implements directory.Store: BeginPurchase with p already
// paid, its event and license recorded in the same transaction.
func (s *Store) FreePurchase(ctx context.Context, p *directory.Purchase, ev *directory.OutboxEvent, lic *directory.LicenseRecord) (*directory.Purchase, bool, error) {
	var cur *directory.Purchase
	var created bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		if cur, created, err = s.beginPurchase(ctx, tx, p); err != nil || !created {
			return err
		}
		return s.recordPaid(ctx, tx, ev, lic)
	})
	if err != nil {
		return nil, false, err
	}
	return cur, created, nil
}

func (s *Store) recordPaid(ctx context.Context, tx *sql.Tx, ev *directory.OutboxEvent, lic *directory.LicenseRecord) error {
	if ev != nil {
		if _, err := s.exec(ctx, tx, outboxInsert, ev.Kind, ev.Payload, rowscan.MS(ev.Created), rowscan.MS(ev.NextAttempt)); err != nil {
			return err
		}
	}
	if lic != nil {
		return s.insertLicense(ctx, tx, lic)
	}
	return nil
}

// CompletePurchase implements directory.Store.
func (s *Store) CompletePurchase(ctx context.Context, p *directory.Purchase, ev *directory.OutboxEvent, lic *directory.LicenseRecord) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, purchasePaid, p.CardBrand, p.CardLast4, p.Token, p.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("purchase %s: %w", p.ID, directory.ErrNotPending)
		}
		return s.recordPaid(ctx, tx, ev, lic)
	})
}

func (s *Store) insertLicense(ctx context.Context, tx *sql.Tx, l *directory.LicenseRecord) error {
	_, err := s.exec(ctx, tx, licenseInsert, l.ID, l.Purchase, string(l.Device), l.Content[:], rowscan.MS(l.Issued), nonNil(l.Encoded))
	return err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// IssuedLicense implements directory.Store.
func (s *Store) IssuedLicense(ctx context.Context, purchase string, device identity.ID) (*directory.LicenseRecord, error) {
	l := &directory.LicenseRecord{Purchase: purchase, Device: device}
	var content []byte
	var issued int64
	err := s.r.QueryRowContext(ctx, `SELECT id, content, issued, license FROM licenses
		WHERE purchase = ? AND device = ? AND length(license) > 0 ORDER BY issued DESC, id LIMIT 1`, purchase, string(device)).
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
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE purchases SET state = 'declined', reason = ? WHERE id = ? AND state = 'pending'`, reason, id)
		return err
	})
}

// OwnedPurchase implements directory.Store.
func (s *Store) OwnedPurchase(ctx context.Context, account, titleID string) (*directory.Purchase, error) {
	p, err := rowscan.Purchase(s.r.QueryRowContext(ctx, `SELECT `+rowscan.PurchaseCols+` FROM purchases
		WHERE account = ? AND title = ? AND state = 'paid'`, account, titleID))

	return p, notFound(err, "purchase")
}

// AddLicense implements directory.Store.
func (s *Store) AddLicense(ctx context.Context, l *directory.LicenseRecord) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.insertLicense(ctx, tx, l) })
}

// Purchases returns every purchase, oldest first (for tests and audits).
func (s *Store) Purchases(ctx context.Context) ([]directory.Purchase, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+rowscan.PurchaseCols+` FROM purchases ORDER BY created, id`)
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
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM licenses l LEFT JOIN purchases p ON p.id = l.purchase
		WHERE p.id IS NULL OR p.state <> 'paid'`).Scan(&n)
	return n, err
}
