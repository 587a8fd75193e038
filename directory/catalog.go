package directory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// PublishOptions describes a title being published.
type PublishOptions struct {
	Name      string // required
	Artist    string
	MediaType string         // e.g. "audio/mpeg" (required)
	Price     int64          // cents; 0 = free
	Currency  string         // default "EUR"
	Rights    license.Rights // granted by every license of the title
	ChunkSize int            // 0 = sealed.DefaultChunkSize
	Now       time.Time      // zero = time.Now()
	Tags      TitleTags      // album, track… as read from the file's tags
	Artwork   []byte         // JPEG thumbnail (at most MaxArtworkBytes), optional
}

// OriginPath is where the origin store keeps the sealed file of c.
func OriginPath(originDir string, c sealed.ContentID) string {
	return filepath.Join(originDir, c.String())
}

// Publish seals src once with a fresh content key into the origin store
// (originDir/<content ID>), signs its manifest with the directory key and
// records the title in st. The content key is kept only sealed to the
// directory's own box key. It works with or without a running server on
// the same store, which is how `kith-directory publish` and an embedded
// household directory add titles.
func Publish(ctx context.Context, st Store, dir *identity.Identity, originDir string, src io.Reader, o PublishOptions) (*Title, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	tags, err := checkTags(o.Tags)
	if err != nil {
		return nil, fmt.Errorf("publishing %q: %w", o.Name, err)
	}
	if len(o.Artwork) > 0 {
		if err := checkArtwork(o.Artwork); err != nil {
			return nil, fmt.Errorf("publishing %q: %w", o.Name, err)
		}
	}
	if err := os.MkdirAll(originDir, 0o755); err != nil {
		return nil, fmt.Errorf("publishing: %w", err)
	}
	key, err := sealed.NewContentKey()
	if err != nil {
		return nil, fmt.Errorf("publishing: %w", err)
	}
	defer clear(key)
	tmp, err := atomicfile.Create(originDir, 0o644)
	if err != nil {
		return nil, fmt.Errorf("publishing: %w", err)
	}
	defer tmp.Close() // removes it unless committed
	m, err := sealed.Seal(tmp, src, key, sealed.Options{ChunkSize: o.ChunkSize, MediaType: o.MediaType})
	if err != nil {
		return nil, fmt.Errorf("publishing %q: sealing: %w", o.Name, err)
	}
	m.Sign(dir.SigningKey())
	cid := m.ContentID()
	if err := tmp.Commit(OriginPath(originDir, cid)); err != nil {
		return nil, fmt.Errorf("publishing %q: %w", o.Name, err)
	}
	mb, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("publishing %q: encoding manifest: %w", o.Name, err)
	}
	sk, err := identity.SealTo(dir.Public().Box, key, cid[:])
	if err != nil {
		return nil, fmt.Errorf("publishing %q: sealing content key: %w", o.Name, err)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	t := &TitleRecord{
		Title: Title{ID: cid.String()[:16], Name: o.Name, Artist: o.Artist, MediaType: o.MediaType,
			Price: o.Price, Currency: o.Currency, Rights: o.Rights, ContentID: cid, Size: m.FileSize(),
			TitleTags: tags, Artwork: len(o.Artwork) > 0},
		Manifest: mb, SealedKey: sk, Published: now.UTC(), Artwork: o.Artwork,
	}
	if err := st.PutTitle(ctx, t); err != nil {
		return nil, fmt.Errorf("publishing %q: recording title: %w", o.Name, err)
	}
	out := t.Title
	return &out, nil
}

func (o *PublishOptions) validate() error {
	o.Name, o.Artist = strings.TrimSpace(o.Name), strings.TrimSpace(o.Artist)
	if o.Name == "" || utf8.RuneCountInString(o.Name) > 200 || utf8.RuneCountInString(o.Artist) > 200 {
		return errors.New("publishing: title must be 1 to 200 characters, artist at most 200")
	}
	if o.MediaType == "" || len(o.MediaType) > 127 || !strings.Contains(o.MediaType, "/") {
		return fmt.Errorf("publishing: media type %q must look like type/subtype", o.MediaType)
	}
	if o.Price < 0 || o.Price > 100_000_000 {
		return fmt.Errorf("publishing: price %d cents out of range", o.Price)
	}
	if o.Currency == "" {
		o.Currency = "EUR"
	}
	o.Currency = strings.ToUpper(o.Currency)
	if len(o.Currency) != 3 || strings.Trim(o.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return fmt.Errorf("publishing: currency %q must be a 3-letter code", o.Currency)
	}
	return nil
}

// ParseRights parses the --rights flag: a comma-separated list of
// "reshare", "noreshare", "expires=RFC3339" or "days=N" (from now).
func ParseRights(s string, now time.Time) (license.Rights, error) {
	var r license.Rights
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "":
		case "reshare":
			r.Reshare = true
		case "noreshare":
			r.Reshare = false
		case "expires":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return r, fmt.Errorf("rights: expires=%q: %w", v, err)
			}
			r.Expires = t.UTC()
		case "days":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return r, fmt.Errorf("rights: days=%q must be a positive number", v)
			}
			r.Expires = now.Add(time.Duration(n) * 24 * time.Hour).UTC()
		default:
			return r, fmt.Errorf("rights: unknown %q (want reshare, noreshare, expires=RFC3339, days=N)", f)
		}
	}
	return r, nil
}

func (s *Server) handleTitles(w http.ResponseWriter, r *http.Request, _ *request) error {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	if len(query) > 200 {
		return fieldErrorf("q", "at most 200 bytes")
	}
	page, err := intParam(q.Get("page"), 1, 1, 1_000_000, "page")
	if err != nil {
		return err
	}
	per, err := intParam(q.Get("per_page"), 20, 1, 100, "per_page")
	if err != nil {
		return err
	}
	ts, total, err := s.st.SearchTitles(r.Context(), query, s.viewer(r), (page-1)*per, per)
	if err != nil {
		return fmt.Errorf("searching titles: %w", err)
	}
	if ts == nil {
		ts = []Title{}
	}
	writeJSON(w, http.StatusOK, titlesResponse{Titles: ts, Total: total, Page: page, PerPage: per})
	return nil
}

// intParam reads a count parameter of a query (a lookup's limit, the
// catalog's page and per_page): def when absent or "0", else a whole
// number from lo to hi, or a 400 naming it. "0" is the default on
// purpose: Client.Titles sends page and per_page as its caller gives
// them, 0 too, and a client writing every field of its query (0 for "not
// set") would otherwise get a 400 (TestCountParamZeroIsDefault).
func intParam(v string, def, lo, hi int, name string) (int, error) {
	if v == "" || v == "0" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fieldErrorf(name, "must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

func (s *Server) handleTitle(w http.ResponseWriter, r *http.Request, _ *request) error {
	t, err := s.st.Title(r.Context(), r.PathValue("id"))
	if err == nil && !t.visibleTo(s.viewer(r)) {
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		return newError(http.StatusNotFound, CodeNotFound, "no title %q", r.PathValue("id"))
	}
	if err != nil {
		return fmt.Errorf("reading title: %w", err)
	}
	writeJSON(w, http.StatusOK, t.Title)
	return nil
}

func pathContent(r *http.Request) (sealed.ContentID, error) {
	c, err := sealed.ParseContentID(r.PathValue("content"))
	if err != nil {
		return c, fieldErrorf("content id", "must be 64 hex digits")
	}
	return c, nil
}

// titleByContent reads the title of c or answers 404.
func (s *Server) titleByContent(ctx context.Context, c sealed.ContentID) (*TitleRecord, error) {
	t, err := s.st.TitleByContent(ctx, c)
	if errors.Is(err, ErrNotFound) {
		return nil, newError(http.StatusNotFound, CodeNotFound, "no title has content %s", c)
	}
	if err != nil {
		return nil, fmt.Errorf("reading title: %w", err)
	}
	return t, nil
}

func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request, _ *request) error {
	c, err := pathContent(r)
	if err != nil {
		return err
	}
	t, err := s.titleByContent(r.Context(), c)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(t.Manifest)
	return nil
}

// countingWriter counts body bytes sent from the origin store.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (s *Server) handleContent(w http.ResponseWriter, r *http.Request, rq *request) error {
	c, err := pathContent(r)
	if err != nil {
		return err
	}
	f, err := os.Open(OriginPath(s.o.OriginDir, c))
	if errors.Is(err, os.ErrNotExist) {
		return newError(http.StatusNotFound, CodeNotFound, "the origin store has no content %s", c)
	}
	if err != nil {
		return fmt.Errorf("opening origin file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening origin file: %w", err)
	}
	if err := s.admitOrigin(w, r, rq, c, fi.Size()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+c.String()+`"`)
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", fi.ModTime(), f)
	s.metrics.originBytes.add(c.String(), cw.n)
	return nil
}
