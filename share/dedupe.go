package share

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kith-media/kith/share/library"
	"github.com/kith-media/kith/share/sealed"
)

// Adding the same bytes from another path gives the title added before.
// The file is not hashed whole for this (a whole-file SHA-256 was about a
// fifth of the CPU an add took): library.Fingerprint — its size and first
// and last 64 KiB — finds the files added before that may be the same
// (library.SourceCandidates), and a candidate is taken only when its bytes
// compare equal, in this order:
//
//  1. the candidate title's sealed copy in the library, decrypted with its
//     content key (the title as it was added, wherever its file went);
//  2. else the file it was added from, if its size and modification time
//     are still those recorded;
//  3. else, for a file added before fingerprints (migration 0005), the
//     SHA-256 recorded then, against this file's (hashed only in this case).
//
// A fingerprint is only a hint: a wrong or stale one costs a comparison or
// misses a duplicate (the file is then added as a new title), never gives
// a file a title with other bytes.

// sameAsAdded answers the title added before with the same bytes as f (at
// abs, of st.Size() bytes with fingerprint fp), recording abs as one of its
// sources; nil when there is none.
func (n *Node) sameAsAdded(ctx context.Context, abs string, f *os.File, st os.FileInfo, fp [32]byte) (*Added, error) {
	cands, err := n.lib.SourceCandidates(ctx, st.Size(), fp)
	if err != nil {
		return nil, err
	}
	var (
		tried = map[string]bool{}
		sum   *[32]byte // f's SHA-256, once a candidate needs it
	)
	for _, c := range cands {
		if c.Path == abs || tried[c.TitleID] {
			continue
		}
		same, how, err := n.sameBytes(ctx, f, st.Size(), c, &sum)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			n.log.Debug("adding: comparing with a file added before", "path", abs, "candidate", c.Path, "err", err)
		}
		if how != "" {
			tried[c.TitleID] = true // compared with the title itself: its other sources are the same
		}
		if !same {
			continue
		}
		a, err := n.existing(ctx, abs, c.TitleID)
		if err != nil {
			n.log.Info("adding: the same bytes as a title the directory no longer answers", "path", abs, "title", c.TitleID, "err", err)
			continue
		}
		if err := n.lib.PutSource(ctx, library.Source{Path: abs, Size: st.Size(), ModTime: st.ModTime(), Fingerprint: fp, TitleID: c.TitleID}); err != nil {
			return nil, err
		}
		n.log.Debug("adding: the same bytes as a file added before", "path", abs, "title", c.TitleID, "by", how)
		return a, nil
	}
	return nil, nil
}

// sameBytes reports whether f (size bytes) holds the bytes of candidate c,
// and how it knows ("" when it could not tell: then c's title may still
// match through another of its sources).
func (n *Node) sameBytes(ctx context.Context, f *os.File, size int64, c library.Source, sum **[32]byte) (bool, string, error) {
	if t, err := n.lib.Title(ctx, c.TitleID); err == nil {
		if st, err := n.lib.Status(ctx, t.ContentID); err == nil && st.Complete {
			m, err := n.lib.Manifest(ctx, t.ContentID)
			if err != nil {
				return false, "", err
			}
			if int64(m.Header.Length) != size {
				return false, "sealed copy", nil
			}
			same, err := n.sameAsSealed(ctx, f, size, m)
			if err == nil {
				return same, "sealed copy", nil
			}
			if ctx.Err() != nil {
				return false, "", err
			}
			n.log.Debug("adding: reading a sealed copy to compare", "title", c.TitleID, "err", err)
		}
	}
	if o, err := os.Open(c.Path); err == nil {
		defer o.Close()
		if st, err := o.Stat(); err == nil && st.Mode().IsRegular() && st.Size() == c.Size && st.ModTime().Equal(c.ModTime) {
			same, err := equalReaders(ctx, io.NewSectionReader(f, 0, size), o)
			return same, "its file", err
		}
	}
	if c.SHA256 != ([32]byte{}) {
		if *sum == nil {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
				return false, "", fmt.Errorf("hashing: %w", err)
			}
			*sum = new([32]byte)
			h.Sum((*sum)[:0])
		}
		return **sum == c.SHA256, "sha-256", nil
	}
	return false, "", nil
}

// sameAsSealed compares f with the plaintext of the library's complete
// sealed file of m.
func (n *Node) sameAsSealed(ctx context.Context, f *os.File, size int64, m *sealed.Manifest) (bool, error) {
	cid := m.ContentID()
	key, err := n.ContentKey(ctx, cid)
	if err != nil {
		return false, err
	}
	defer clear(key)
	r, err := sealed.OpenSource(ctx, n.lib.Source(cid), m, key)
	if err != nil {
		return false, err
	}
	defer r.Close()
	return equalReaders(ctx, io.NewSectionReader(f, 0, size), r)
}

// equalReaders reports whether a and b give the same bytes.
func equalReaders(ctx context.Context, a, b io.Reader) (bool, error) {
	const block = 256 << 10
	ba, bb := make([]byte, block), make([]byte, block)
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if ea != nil && !errors.Is(ea, io.EOF) && !errors.Is(ea, io.ErrUnexpectedEOF) {
			return false, ea
		}
		if eb != nil && !errors.Is(eb, io.EOF) && !errors.Is(eb, io.ErrUnexpectedEOF) {
			return false, eb
		}
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if na < block {
			return true, nil
		}
	}
}
