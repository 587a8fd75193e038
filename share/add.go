package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/license"
	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
	"github.com/kith-media/kith/share/tags"
)

// AddOptions describe how a device publishes its own files.
type AddOptions struct {
	Title    string         // overrides the title read from the tags (for a single file)
	Price    int64          // cents; 0 = free (the default)
	Currency string         // default EUR
	Rights   license.Rights // granted by every license of the title
	Public   bool           // listed to everyone; default: this household only
	// Progress is told how many bytes of the file have been sealed so far.
	// It is called from AddFile's goroutine and must be quick.
	Progress func(sealed int64)
	Tags     tags.Options

	// sealing, when set, bounds how many files AddFiles reads, tags and
	// seals at once: a slot is held from the first read of the file until
	// it is sealed, not while the directory and the disk are waited for.
	sealing chan struct{}
}

// Added is one file added to the household's catalog.
type Added struct {
	Path     string          `json:"path"`
	Title    directory.Title `json:"title"`
	Tags     *tags.Info      `json:"tags,omitempty"` // nil when the file was added before
	Existing bool            `json:"existing"`       // the same file (or the same bytes) was added before
}

// AddFile publishes a file of this device to its household: the device
// reads the tags, seals the file itself with a fresh content key into its
// library (so it is the title's first supplier), and the directory gets the
// manifest, the tags and artwork thumbnail and the content key sealed to
// the directory's key — no media goes to the origin. Adding the same file
// (or the same bytes from another path) again answers the title it already
// has. A file that is not media fails with tags.ErrNotMedia.
func (n *Node) AddFile(ctx context.Context, path string, o AddOptions) (*Added, error) {
	if n.dirClient() == nil {
		return nil, ErrNoDirectory
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("adding: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("adding %s: not a regular file", abs)
	}
	if src, err := n.lib.SourceByPath(ctx, abs, st.Size(), st.ModTime()); err == nil {
		if a, err := n.existing(ctx, abs, src.TitleID); err == nil {
			return a, nil
		}
	}
	release := func() {}
	if o.sealing != nil {
		select {
		case o.sealing <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("adding %s: %w", abs, ctx.Err())
		}
		var once sync.Once
		release = func() { once.Do(func() { <-o.sealing }) }
		defer release()
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("adding: %w", err)
	}
	defer f.Close()
	// The same bytes from another path: a fingerprint finds candidates
	// and only a candidate's bytes are compared (see dedupe.go), so the
	// file is not hashed whole.
	fp, err := library.Fingerprint(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	if a, err := n.sameAsAdded(ctx, abs, f, st, fp); err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	} else if a != nil {
		return a, nil
	}
	// An MP3 without a frame count in its first frame has its frames
	// counted as the sealer reads it, not read whole here first.
	to := o.Tags
	to.DeferScan = true
	in, err := tags.Read(ctx, abs, to)
	if err != nil {
		return nil, fmt.Errorf("adding: %w", err)
	}
	if o.Title != "" {
		in.Title = o.Title
	}
	info, err := n.directoryInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}

	// Seal into the library's folder.
	key, err := sealed.NewContentKey()
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	defer clear(key)
	// The length stated: a file that grows or shrinks while it is sealed
	// fails rather than be recorded under the size and fingerprint above.
	so := sealed.Options{MediaType: in.MediaType, Length: st.Size()}
	size, err := sealed.FileSize(so)
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	tmp, err := n.lib.CreateSealTemp(size)
	if err != nil {
		var ns *library.NoSpaceError
		if errors.As(err, &ns) {
			ns.File = filepath.Base(abs) // the app shows the error's words alone
		}
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	tmpPath := tmp.Name()
	adopted := false
	defer func() {
		if !adopted {
			os.Remove(tmpPath)
		}
	}()
	src := &addReader{ctx: ctx, r: f, progress: o.Progress}
	if in.Scan != nil {
		src.scan = in.Scan
	}
	m, err := sealed.Seal(tmp, src, key, so)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("adding %s: sealing: %w", abs, err)
	}
	release()
	in.FinishScan()
	for _, p := range in.Problems {
		n.log.Info("adding: tag problem, using fallbacks", "path", abs, "problem", p)
	}

	mb, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	cid := m.ContentID()
	sk, err := directory.SealKeyFor(info, key, cid)
	if err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	// A directory that limits this device's rate (a public one at
	// DefaultRateDevice; the app's own household directory at ten times
	// that) answers a folder's add 429 at times; those files wait and are
	// sent again, not failed.
	var pub *directory.Published
	err = retryRefused(ctx, func() (err error) {
		pub, err = n.dirClient().Publish(ctx, &directory.PublishRequest{
			Manifest: mb, SealedKey: sk, Name: in.Title, Artist: in.Artist,
			TitleTags: directory.TitleTags{Album: in.Album, AlbumArtist: in.AlbumArtist, Genre: in.Genre, Track: in.Track,
				Disc: in.Disc, Year: in.Year, DurationMS: in.Duration.Milliseconds(), Width: in.Width, Height: in.Height},
			Artwork: in.Artwork, Price: o.Price, Currency: o.Currency, Rights: o.Rights, Public: o.Public,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adding %s: publishing: %w", abs, err)
	}
	signed, err := sealed.ParseManifest(pub.Manifest)
	if err == nil && signed.ContentID() != cid {
		err = errors.New("the directory answered another manifest")
	}
	if err == nil {
		err = signed.Verify(info.Keys.Sign)
	}
	if err != nil {
		return nil, fmt.Errorf("adding %s: signed manifest: %w", abs, err)
	}
	if err := n.lib.Adopt(ctx, signed, tmpPath); err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	adopted = true
	if !o.Public {
		// Household titles: only the household's devices copy the ciphertext.
		if err := n.lib.SetPolicy(ctx, pub.Title.ID, library.Policy{Mode: directory.PolicyHousehold}); err != nil {
			return nil, fmt.Errorf("adding %s: %w", abs, err)
		}
	}
	if err := retryBusy(ctx, func() error { _, err := n.Register(ctx, pub.Title.ID); return err }); err != nil {
		return nil, fmt.Errorf("adding %s: registering our own title: %w", abs, err)
	}
	if len(in.Artwork) > 0 {
		if err := n.lib.PutArtwork(ctx, pub.Title.ID, in.Artwork); err != nil {
			return nil, fmt.Errorf("adding %s: %w", abs, err)
		}
	}
	if err := n.lib.PutSource(ctx, library.Source{Path: abs, Size: st.Size(), ModTime: st.ModTime(), Fingerprint: fp, TitleID: pub.Title.ID}); err != nil {
		return nil, fmt.Errorf("adding %s: %w", abs, err)
	}
	n.announceSoon()
	n.log.Info("added", "path", abs, "title", pub.Title.ID, "name", pub.Title.Name, "artist", pub.Title.Artist, "album", pub.Title.Album)
	return &Added{Path: abs, Title: pub.Title, Tags: in}, nil
}

// existing answers a title this device added before.
func (n *Node) existing(ctx context.Context, path, titleID string) (*Added, error) {
	var t *directory.Title
	err := retryBusy(ctx, func() (err error) { t, err = n.dirClient().Title(ctx, titleID); return err })
	if err != nil {
		return nil, err
	}
	return &Added{Path: path, Title: *t, Existing: true}, nil
}

// addReader feeds the sealer: it reports progress, passes the bytes to
// a deferred MP3 frame count (tags.Options.DeferScan) and stops when ctx
// ends.
type addReader struct {
	ctx      context.Context
	r        io.Reader
	scan     io.Writer // nil when there is no count to make
	n        int64
	progress func(int64)
}

func (a *addReader) Read(p []byte) (int, error) {
	if err := a.ctx.Err(); err != nil {
		return 0, err
	}
	k, err := a.r.Read(p)
	if a.scan != nil {
		a.scan.Write(p[:k]) // never fails
	}
	a.n += int64(k)
	if a.progress != nil && k > 0 {
		a.progress(a.n)
	}
	return k, err
}

// keepTitle records a catalog title in the library with its tags, and its
// artwork when the directory has one.
func (n *Node) keepTitle(ctx context.Context, t *directory.Title) error {
	err := n.lib.PutTitle(ctx, library.Title{ID: t.ID, Name: t.Name, Artist: t.Artist, MediaType: t.MediaType,
		ContentID: t.ContentID, Size: t.Size, Tags: library.Tags{Album: t.Album, AlbumArtist: t.AlbumArtist,
			Genre: t.Genre, Track: t.Track, Disc: t.Disc, Year: t.Year, Duration: time.Duration(t.DurationMS) * time.Millisecond,
			Width: t.Width, Height: t.Height}})
	if err != nil || !t.Artwork {
		return err
	}
	if _, err := n.lib.Artwork(ctx, t.ID); err == nil {
		return nil
	}
	art, err := n.dirClient().Artwork(ctx, t.ID)
	if err != nil {
		n.log.Warn("fetching artwork", "title", t.ID, "err", err)
		return nil
	}
	return n.lib.PutArtwork(ctx, t.ID, art)
}

// RemoveFromDevice deletes the ciphertext of cid from this device; the
// title and its license stay, so playing it fetches it again. A download
// in progress of cid is refused.
func (n *Node) RemoveFromDevice(ctx context.Context, cid sealed.ContentID) error {
	if n.Lookup(cid).Downloading() {
		return fmt.Errorf("removing %s: it is downloading; stop the download first", cid.String()[:16])
	}
	if err := n.lib.RemoveContent(ctx, cid); err != nil {
		return err
	}
	n.announceSoon()
	return nil
}
