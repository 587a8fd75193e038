package library

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kith-media/kith/internal/atomicfile"
	"github.com/kith-media/kith/share/sealed"
)

// MaxArtwork bounds a stored artwork thumbnail.
const MaxArtwork = 256 << 10

// PutArtwork stores the JPEG thumbnail of a title (nil removes it).
func (l *Library) PutArtwork(ctx context.Context, titleID string, jpeg []byte) error {
	if len(jpeg) > MaxArtwork {
		return fmt.Errorf("artwork of %q: %d bytes over %d", titleID, len(jpeg), MaxArtwork)
	}
	var err error
	if len(jpeg) == 0 {
		_, err = l.w.ExecContext(ctx, `DELETE FROM artwork WHERE title_id = ?`, titleID)
	} else {
		_, err = l.w.ExecContext(ctx, `INSERT INTO artwork(title_id, jpeg) VALUES (?, ?)
			ON CONFLICT(title_id) DO UPDATE SET jpeg = excluded.jpeg`, titleID, jpeg)
	}
	if err != nil {
		return fmt.Errorf("storing artwork of %q: %w", titleID, err)
	}
	return nil
}

// Artwork returns the JPEG thumbnail of a title; ErrNotFound if none.
func (l *Library) Artwork(ctx context.Context, titleID string) ([]byte, error) {
	var b []byte
	err := l.r.QueryRowContext(ctx, `SELECT jpeg FROM artwork WHERE title_id = ?`, titleID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("artwork of %q: %w", titleID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("loading artwork of %q: %w", titleID, err)
	}
	return b, nil
}

// Source is a file this device added.
type Source struct {
	Path    string
	Size    int64
	ModTime time.Time
	// Fingerprint is Fingerprint of the file's bytes when it was added;
	// zero for a file added before fingerprints (migration 0005).
	Fingerprint [32]byte
	// SHA256 is the SHA-256 of all of the file's bytes, recorded only for
	// files added before migration 0005 (zero since).
	SHA256  [32]byte
	TitleID string
}

// FingerprintEdge is how many bytes of each end of a file Fingerprint reads.
const FingerprintEdge = 64 << 10

// Fingerprint is SHA-256("kith source fingerprint v1\x00" ‖ size as 8
// big-endian bytes ‖ the first and the last FingerprintEdge bytes of r),
// the whole of r when it is at most twice that. It reads at most 128 KiB
// whatever the size, so it only finds candidates: two files with the same
// fingerprint may still differ in the middle (see SourceCandidates).
func Fingerprint(r io.ReaderAt, size int64) ([32]byte, error) {
	h := sha256.New()
	h.Write([]byte("kith source fingerprint v1\x00"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(size)))
	buf := make([]byte, min(size, 2*FingerprintEdge))
	at := func(b []byte, off int64) error {
		n, err := r.ReadAt(b, off)
		if n == len(b) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // shorter than its size
		}
		return fmt.Errorf("fingerprinting: %w", err)
	}
	if size <= 2*FingerprintEdge {
		if err := at(buf, 0); err != nil {
			return [32]byte{}, err
		}
	} else if err := at(buf[:FingerprintEdge], 0); err != nil {
		return [32]byte{}, err
	} else if err := at(buf[FingerprintEdge:], size-FingerprintEdge); err != nil {
		return [32]byte{}, err
	}
	h.Write(buf)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// SourceByPath returns what was added from path if its size and
// modification time are unchanged; ErrNotFound otherwise.
func (l *Library) SourceByPath(ctx context.Context, path string, size int64, mod time.Time) (*Source, error) {
	var s Source
	rows, err := l.r.QueryContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE path = ? AND size = ? AND mtime_ns = ?`,
		path, size, mod.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("looking up an added file: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("looking up an added file: %w", err)
		}
		return nil, fmt.Errorf("added file: %w", ErrNotFound)
	}
	if s, err = scanSource(rows); err != nil {
		return nil, err
	}
	return &s, nil
}

// MaxSourceCandidates bounds SourceCandidates.
const MaxSourceCandidates = 16

// SourceCandidates returns the files added before that may hold the same
// bytes as a file of this size and fingerprint: those recorded with the
// same fingerprint, then those added before fingerprints (of the same
// size), oldest first within each, at most MaxSourceCandidates. The caller
// compares bytes before taking one for the same file.
func (l *Library) SourceCandidates(ctx context.Context, size int64, fp [32]byte) ([]Source, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT `+sourceCols+` FROM sources
		WHERE size = ? AND (fingerprint = ? OR fingerprint IS NULL)
		ORDER BY fingerprint IS NULL, added_at, path LIMIT ?`, size, fp[:], MaxSourceCandidates)
	if err != nil {
		return nil, fmt.Errorf("looking up added files of %d bytes: %w", size, err)
	}
	defer rows.Close()
	var out []Source
	for rows.Next() {
		s, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("looking up added files of %d bytes: %w", size, err)
	}
	return out, nil
}

const sourceCols = `path, size, mtime_ns, fingerprint, sha256, title_id`

func scanSource(rows *sql.Rows) (Source, error) {
	var s Source
	var fp, sum []byte
	var mod int64
	if err := rows.Scan(&s.Path, &s.Size, &mod, &fp, &sum, &s.TitleID); err != nil {
		return Source{}, fmt.Errorf("reading an added file: %w", err)
	}
	copy(s.Fingerprint[:], fp)
	copy(s.SHA256[:], sum)
	s.ModTime = time.Unix(0, mod)
	return s, nil
}

// PutSource records a file added from this device (s.SHA256 is not
// stored: only files added before fingerprints have one).
func (l *Library) PutSource(ctx context.Context, s Source) error {
	var fp []byte
	if s.Fingerprint != ([32]byte{}) {
		fp = s.Fingerprint[:]
	}
	_, err := l.w.ExecContext(ctx, `INSERT INTO sources(path, size, mtime_ns, fingerprint, sha256, title_id, added_at)
		VALUES (?, ?, ?, ?, NULL, ?, ?)
		ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
		fingerprint = excluded.fingerprint, sha256 = NULL, title_id = excluded.title_id`,
		s.Path, s.Size, s.ModTime.UnixNano(), fp, s.TitleID, l.now())
	if err != nil {
		return fmt.Errorf("recording added file %s: %w", s.Path, err)
	}
	return nil
}

// CreateSealTemp creates a temporary file in the library's content folder
// for a device to seal a file of size bytes (sealed.FileSize) into before
// Adopt moves it into place. Its space is taken now, as a download's is: a
// disk that cannot hold it is a *NoSpaceError (Adding) before a byte is
// sealed, and no file is left. The file is size bytes long and positioned
// at its start, so Seal writes it from the beginning.
func (l *Library) CreateSealTemp(size int64) (*os.File, error) {
	f, err := os.CreateTemp(l.content, ".adding-*")
	if err != nil {
		return nil, fmt.Errorf("creating a file to seal into: %w", err)
	}
	if err := reserve(f, size); err != nil {
		f.Close()
		os.Remove(f.Name())
		var ns *NoSpaceError
		if errors.As(err, &ns) {
			ns.Adding = true
			return nil, ns
		}
		return nil, fmt.Errorf("reserving space to seal into: %w", err)
	}
	return f, nil
}

// Adopt makes the complete sealed file at path (made by CreateSealTemp and
// sealed.Seal on this device) the content of m: it checks the file's size
// and header, syncs it, renames it into place and records it complete, so
// the device serves it at once. path is gone afterwards.
func (l *Library) Adopt(ctx context.Context, m *sealed.Manifest, path string) error {
	cid := m.ContentID()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("adopting %s: %w", cid, err)
	}
	hdr := m.HeaderBytes()
	got := make([]byte, len(hdr))
	_, err = io.ReadFull(f, got)
	st, serr := f.Stat()
	switch {
	case err != nil:
	case serr != nil:
		err = serr
	case st.Size() != m.FileSize():
		err = fmt.Errorf("file of %d bytes, manifest says %d", st.Size(), m.FileSize())
	case !bytes.Equal(got, hdr):
		err = sealed.ErrBadHeader
	default:
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("adopting %s: %w", cid, err)
	}
	raw, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("adopting %s: %w", cid, err)
	}
	n := m.NumChunks()
	full := NewBitmap(n)
	for i := 0; i < n; i++ {
		full.Set(i)
	}
	l.mu.Lock()
	_, loaded := l.items[cid]
	loaded = loaded || l.loading[cid] != nil
	l.mu.Unlock()
	if loaded {
		os.Remove(path)
		return fmt.Errorf("adopting %s: the library already has this content", cid)
	}
	if err := os.Rename(path, l.sealedPath(cid)); err != nil {
		return fmt.Errorf("adopting %s: %w", cid, err)
	}
	if err := atomicfile.SyncDir(l.content); err != nil {
		return fmt.Errorf("adopting %s: %w", cid, err)
	}
	_, err = l.w.ExecContext(ctx, `INSERT INTO content(content_id, manifest, num_chunks, file_size, complete, bitmap, have, updated_at)
		VALUES (?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT(content_id) DO UPDATE SET manifest = excluded.manifest,
		complete = 1, bitmap = excluded.bitmap, have = excluded.have, updated_at = excluded.updated_at`,
		cid.String(), raw, n, m.FileSize(), []byte(full), n, l.now())
	l.heldChanged()
	if err != nil {
		return fmt.Errorf("adopting %s: recording: %w", cid, err)
	}
	return nil
}

// MaxEachTitles bounds EachTitle.
const MaxEachTitles = 1_000_000

// EachTitle calls fn for every title, in no particular order, in one
// query (a full listing without the sorted, paged Titles).
func (l *Library) EachTitle(ctx context.Context, fn func(Title) error) error {
	rows, err := l.r.QueryContext(ctx, `SELECT `+titleCols+` FROM titles LIMIT ?`, MaxEachTitles)
	if err != nil {
		return fmt.Errorf("listing titles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTitle(rows)
		if err != nil {
			return fmt.Errorf("listing titles: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RemoveContent deletes the ciphertext of cid from this device (the sealed
// or partial file and its index row) but keeps its titles and license, so
// it can be fetched again. The caller makes sure nothing is downloading it.
func (l *Library) RemoveContent(ctx context.Context, cid sealed.ContentID) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	it := l.items[cid]
	delete(l.items, cid)
	l.mu.Unlock()
	if it != nil {
		it.syncMu.Lock()
		err := it.close()
		it.syncMu.Unlock()
		if err != nil {
			l.log.Warn("library: closing a removed file", "content", cid, "err", err)
		}
	}
	_, err := l.w.ExecContext(ctx, `DELETE FROM content WHERE content_id = ?`, cid.String())
	l.heldChanged()
	if err != nil {
		return fmt.Errorf("removing %s: %w", cid, err)
	}
	for _, p := range []string{l.sealedPath(cid), l.partPath(cid)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", cid, err)
		}
	}
	l.forgetPolicies()
	return nil
}
