package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Who may publish from a device (PublishPolicy.Mode).
const (
	PublishOff      = "off"      // only the operator (`kith-directory publish`); the default
	PublishOwner    = "owner"    // devices of PublishPolicy.Owner's account
	PublishAccounts = "accounts" // devices of every account of this directory
)

// Bounds on what a device publishes.
const (
	MaxArtworkBytes = 256 << 10 // JPEG thumbnail
	MaxArtworkSide  = 1024      // pixels
	MaxPublishBody  = 8 << 20   // request body (the manifest grows 32 bytes per chunk)
)

// PublishPolicy is the directory owner's choice of who may publish titles
// from their own devices.
type PublishPolicy struct {
	Mode  string `json:"mode"`            // PublishOff, PublishOwner or PublishAccounts; "" = off
	Owner string `json:"owner,omitempty"` // the owner's account (PublishOwner)
}

// Validate normalises the owner and rejects unknown modes.
func (p *PublishPolicy) Validate() error {
	switch p.Mode {
	case "", PublishOff:
		p.Mode = PublishOff
	case PublishAccounts:
	case PublishOwner:
		a, err := NormalizeAccount(p.Owner)
		if err != nil {
			return fmt.Errorf("publish policy: owner: %w", err)
		}
		p.Owner = a
	default:
		return fmt.Errorf("publish policy: unknown mode %q (want off, owner or accounts)", p.Mode)
	}
	return nil
}

// allows reports whether a device of account may publish.
func (p *PublishPolicy) allows(account string) bool {
	switch p.Mode {
	case PublishAccounts:
		return account != ""
	case PublishOwner:
		return account != "" && account == p.Owner
	}
	return false
}

// publishPolicy holds the current policy; the zero value means off.
type publishPolicy struct{ p atomic.Pointer[PublishPolicy] }

func (pp *publishPolicy) get() PublishPolicy {
	if p := pp.p.Load(); p != nil {
		return *p
	}
	return PublishPolicy{Mode: PublishOff}
}

// SetPublishPolicy changes who may publish from a device, at once.
func (s *Server) SetPublishPolicy(p PublishPolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.publish.p.Store(&p)
	return nil
}

// PublishPolicy is who may publish from a device now.
func (s *Server) PublishPolicy() PublishPolicy { return s.publish.get() }

// PublishRequest is POST /v1/publish: a device that sealed a file itself
// (and holds the only copy) asks the directory to list it. The content key
// travels sealed to the directory's box key; the directory checks it
// against the header, signs the manifest and answers Published.
type PublishRequest struct {
	Manifest  []byte `json:"manifest"`   // sealed.Manifest.MarshalBinary, signature empty
	SealedKey []byte `json:"sealed_key"` // identity.SealTo(directory box key, content key, ad = content ID)
	Name      string `json:"name"`
	Artist    string `json:"artist,omitempty"`
	TitleTags
	Artwork  []byte         `json:"artwork,omitempty"` // JPEG, at most MaxArtworkBytes and MaxArtworkSide
	Price    int64          `json:"price,omitempty"`   // cents; 0 = free (the default)
	Currency string         `json:"currency,omitempty"`
	Rights   license.Rights `json:"rights"`
	Public   bool           `json:"public,omitempty"` // listed to everyone; default: the publishing account only
}

// Published answers a PublishRequest: the title as listed and its manifest
// signed by the directory (the publishing device serves it to its peers).
type Published struct {
	Title    Title  `json:"title"`
	Manifest []byte `json:"manifest"`
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request, rq *request) error {
	pol := s.publish.get()
	if !pol.allows(rq.device.Account) {
		if pol.Mode == PublishOff {
			return newError(http.StatusForbidden, CodeForbidden, "publishing from devices is off on this directory (its operator can turn it on)")
		}
		return newError(http.StatusForbidden, CodeForbidden, "account %q may not publish on this directory (only %q may)", rq.device.Account, pol.Owner)
	}
	var req PublishRequest
	if err := decodeStrict(rq.body, &req); err != nil {
		return err
	}
	t, err := s.checkPublish(&req, rq.device)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.st.PutTitle(ctx, t); errors.Is(err, ErrExists) {
		// The same device publishing the same sealed file again (a retry):
		// answer the title it already has.
		old, gerr := s.st.TitleByContent(ctx, t.ContentID)
		if gerr != nil || old.Publisher != rq.device.ID {
			return newError(http.StatusConflict, CodeConflict, "content %s is already listed", t.ContentID)
		}
		t = old
	} else if err != nil {
		return fmt.Errorf("publishing: recording title: %w", err)
	} else {
		s.log.Info("published from a device", "title", t.ID, "name", t.Name, "account", t.Owner,
			"device", rq.device.ID.Short(), "visibility", t.Visibility)
	}
	writeJSON(w, http.StatusCreated, Published{Title: t.Title, Manifest: t.Manifest})
	return nil
}

// checkPublish validates everything a device sent and builds the record.
func (s *Server) checkPublish(req *PublishRequest, dev *Device) (*TitleRecord, error) {
	m, err := sealed.ParseManifest(req.Manifest)
	if err != nil {
		return nil, fieldErrorf("manifest", "%v", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fieldErrorf("manifest", "%v", err)
	}
	cid := m.ContentID()
	key, err := s.id.OpenSealed(req.SealedKey, cid[:])
	if err != nil {
		return nil, fieldErrorf("sealed_key", "does not open with this directory's key for content %s: %v", cid.String()[:16], err)
	}
	err = m.Header.CheckKey(key)
	clear(key)
	if err != nil {
		return nil, fieldErrorf("sealed_key", "is not the key the file was sealed with")
	}
	o := PublishOptions{Name: req.Name, Artist: req.Artist, MediaType: m.Header.MediaType, Price: req.Price,
		Currency: req.Currency, Rights: req.Rights}
	if err := o.validate(); err != nil {
		return nil, newError(http.StatusBadRequest, CodeBadRequest, "%v", err)
	}
	tags, err := checkTags(req.TitleTags)
	if err != nil {
		return nil, err
	}
	if !printable(o.Name) || !printable(o.Artist) {
		return nil, fieldErrorf("name", "title and artist must be printable text")
	}
	if len(req.Artwork) > 0 {
		if err := checkArtwork(req.Artwork); err != nil {
			return nil, err
		}
	}
	m.Sign(s.id.SigningKey())
	mb, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("publishing: encoding manifest: %w", err)
	}
	vis := VisibilityHousehold
	if req.Public {
		vis = VisibilityPublic
	}
	t := &TitleRecord{
		Title: Title{ID: cid.String()[:16], Name: o.Name, Artist: o.Artist, MediaType: o.MediaType,
			Price: o.Price, Currency: o.Currency, Rights: o.Rights, ContentID: cid, Size: m.FileSize(),
			TitleTags: tags, Owner: dev.Account, Visibility: vis, Artwork: len(req.Artwork) > 0},
		Manifest: mb, SealedKey: bytes.Clone(req.SealedKey), Published: s.now().UTC(),
		Publisher: dev.ID, Artwork: req.Artwork,
	}
	return t, nil
}

// checkTags bounds the tags of a published title.
func checkTags(t TitleTags) (TitleTags, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"album", &t.Album}, {"album_artist", &t.AlbumArtist}, {"genre", &t.Genre}} {
		*f.v = strings.TrimSpace(*f.v)
		if utf8.RuneCountInString(*f.v) > 200 || !printable(*f.v) {
			return t, fieldErrorf(f.name, "must be printable text of at most 200 characters")
		}
	}
	switch {
	case t.Track < 0 || t.Track > 9999:
		return t, fieldErrorf("track", "must be 0 to 9999")
	case t.Disc < 0 || t.Disc > 9999:
		return t, fieldErrorf("disc", "must be 0 to 9999")
	case t.Year < 0 || t.Year > 9999:
		return t, fieldErrorf("year", "must be 0 to 9999")
	case t.DurationMS < 0 || t.DurationMS > 100*3600*1000:
		return t, fieldErrorf("duration_ms", "must be 0 to 100 hours")
	case t.Width < 0 || t.Width > MaxVideoDimension || t.Height < 0 || t.Height > MaxVideoDimension || (t.Width == 0) != (t.Height == 0):
		return t, fieldErrorf("width", "width and height must both be 1 to %d, or both 0", MaxVideoDimension)
	}
	return t, nil
}

// printable reports valid UTF-8 without control characters, bidi
// controls (a U+202E turning a title's name around in every household
// member's list) or line and paragraph separators: a device's file tags
// never hold them (share/tags keeps printable characters only), so only
// a hostile publisher sends them.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return false
		}
	}
	return true
}

// checkArtwork accepts a JPEG of bounded size and dimensions that decodes.
func checkArtwork(b []byte) error {
	if len(b) > MaxArtworkBytes {
		return fieldErrorf("artwork", "%d bytes is over the %d byte limit", len(b), MaxArtworkBytes)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fieldErrorf("artwork", "must be a JPEG: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxArtworkSide || cfg.Height > MaxArtworkSide {
		return fieldErrorf("artwork", "%dx%d pixels; at most %d a side", cfg.Width, cfg.Height, MaxArtworkSide)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		return fieldErrorf("artwork", "does not decode: %v", err)
	}
	return nil
}

// viewer is the account of the device that signed r, or "" for an unsigned
// request or one whose signature does not check: a catalog read then sees
// what anyone sees.
func (s *Server) viewer(r *http.Request) string {
	if r.Header.Get(HeaderDevice) == "" {
		return ""
	}
	d, err := s.authenticate(r, nil)
	if err != nil {
		return ""
	}
	return d.Account
}

// visibleTo reports whether account may see (and register) t.
func (t *Title) visibleTo(account string) bool {
	return t.Visibility != VisibilityHousehold || (account != "" && account == t.Owner)
}

func (s *Server) handleArtwork(w http.ResponseWriter, r *http.Request, _ *request) error {
	id := r.PathValue("id")
	t, err := s.st.Title(r.Context(), id)
	if err == nil && !t.visibleTo(s.viewer(r)) {
		err = ErrNotFound
	}
	var b []byte
	if err == nil {
		b, err = s.st.Artwork(r.Context(), id)
	}
	if errors.Is(err, ErrNotFound) {
		return newError(http.StatusNotFound, CodeNotFound, "no artwork for title %q", id)
	}
	if err != nil {
		return fmt.Errorf("reading artwork: %w", err)
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(b)
	return nil
}

// Publish lists a file this device sealed itself (see PublishRequest):
// the directory checks and signs the manifest; the device stays its only
// supplier until others fetch it.
func (c *Client) Publish(ctx context.Context, req *PublishRequest) (*Published, error) {
	var out Published
	if err := c.do(ctx, http.MethodPost, "/v1/publish", req, asDevice, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Artwork fetches a title's JPEG thumbnail.
func (c *Client) Artwork(ctx context.Context, titleID string) ([]byte, error) {
	path := "/v1/titles/" + url.PathEscape(titleID) + "/artwork"
	resp, err := c.sendBuilt(func() (*http.Request, error) {
		return c.newRequest(ctx, http.MethodGet, path, nil, c.ifDevice(), "")
	})
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxArtworkBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if len(b) > MaxArtworkBytes {
		return nil, fmt.Errorf("GET %s: artwork over %d bytes", path, MaxArtworkBytes)
	}
	return b, nil
}

// SealKeyFor seals a content key to the directory's box key the way
// PublishRequest.SealedKey wants it.
func SealKeyFor(info *Info, contentKey []byte, c sealed.ContentID) ([]byte, error) {
	return identity.SealTo(info.Keys.Box, contentKey, c[:])
}
