package library

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kith-media/kith/share/sealed"
)

// ReadChunk reads ciphertext chunk i of cid into dst (grown if needed)
// without waiting: ErrNotPresent if the chunk is not there yet. With verify,
// the chunk is hashed first; a chunk damaged on disk is dropped (it will be
// fetched again) and reported as ErrNotPresent, so we never serve our own
// damage to a peer.
func (l *Library) ReadChunk(ctx context.Context, cid sealed.ContentID, i int, dst []byte, verify bool) ([]byte, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= it.m.NumChunks() {
		return nil, fmt.Errorf("reading chunk %d of %s: index out of range: %w", i, cid, ErrNotFound)
	}
	it.mu.Lock()
	present, f := it.have.Has(i), it.f
	it.mu.Unlock()
	if !present || f == nil {
		return nil, fmt.Errorf("reading chunk %d of %s: %w", i, cid, ErrNotPresent)
	}
	return l.readChunk(it, f, i, dst, verify)
}

func (l *Library) readChunk(it *item, f *os.File, i int, dst []byte, verify bool) ([]byte, error) {
	off, n := it.m.ChunkRange(i)
	if int64(cap(dst)) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	_, err := f.ReadAt(dst, off)
	if errors.Is(err, os.ErrClosed) { // sealed meanwhile (seal): read the file under its new name
		it.mu.Lock()
		nf := it.f
		it.mu.Unlock()
		if nf != nil && nf != f {
			_, err = nf.ReadAt(dst, off)
		}
	}
	if err != nil && !(errors.Is(err, io.EOF)) {
		return nil, fmt.Errorf("reading chunk %d of %s: %w", i, it.cid, err)
	}
	if verify {
		if err := it.m.VerifyChunk(i, dst); err != nil {
			l.damaged(it, i)
			return nil, fmt.Errorf("reading chunk %d of %s: damaged on disk: %w", i, it.cid, ErrNotPresent)
		}
	}
	return dst, nil
}

// Source returns a sealed.ChunkSource over cid that waits (context-aware)
// for chunks not yet present, so playback can start while downloading.
func (l *Library) Source(cid sealed.ContentID) sealed.ChunkSource {
	return &source{l: l, cid: cid}
}

type source struct {
	l   *Library
	cid sealed.ContentID
}

// HashesVerified tells sealed.Reader that every chunk here was checked
// against the manifest's hash by WriteChunk before it was stored, so the
// reader need not hash it again (the AEAD still catches damage on disk).
func (s *source) HashesVerified() bool { return true }

func (s *source) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	it, err := s.l.item(ctx, s.cid)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= it.m.NumChunks() {
		return nil, fmt.Errorf("reading chunk %d of %s: index out of range", i, s.cid)
	}
	for {
		it.mu.Lock()
		present, f, ch := it.have.Has(i), it.f, it.notify
		it.mu.Unlock()
		if f == nil {
			return nil, ErrClosed
		}
		if present {
			return s.l.readChunk(it, f, i, dst, false)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for chunk %d of %s: %w", i, s.cid, ctx.Err())
		case <-ch:
		}
	}
}

// damaged drops chunk i after it failed its hash on disk: the bit is
// cleared in memory and in the index; a complete file becomes partial again.
func (l *Library) damaged(it *item, i int) {
	it.syncMu.Lock()
	defer it.syncMu.Unlock()
	it.mu.Lock()
	if !it.have.Has(i) {
		it.mu.Unlock()
		return
	}
	it.have.Clear(i)
	it.nhave--
	wasComplete := it.complete
	it.complete = false
	bits := append(Bitmap(nil), it.have...)
	nhave, f := it.nhave, it.f
	it.mu.Unlock()
	l.log.Warn("library: chunk damaged on disk; it will be fetched again", "content", it.cid, "chunk", i)
	if wasComplete {
		if err := l.moveFile(it, f, l.sealedPath(it.cid), l.partPath(it.cid)); err != nil {
			l.log.Error("library: reopening damaged file", "content", it.cid, "err", err)
		}
	}
	_, err := l.w.Exec(`UPDATE content SET bitmap = ?, have = ?, complete = 0, updated_at = ? WHERE content_id = ?`,
		[]byte(bits), nhave, l.now(), it.cid.String())
	l.heldChanged()
	if err != nil {
		l.log.Error("library: recording damaged chunk", "content", it.cid, "err", err)
	}
}

// Verify re-hashes every present chunk of cid; chunks that fail are dropped
// so they will be fetched again (Repair). It returns the damaged indexes.
func (l *Library) Verify(ctx context.Context, cid sealed.ContentID) ([]int, error) {
	it, err := l.item(ctx, cid)
	if err != nil {
		return nil, err
	}
	var bad []int
	var buf []byte
	for i := 0; i < it.m.NumChunks(); i++ {
		if err := ctx.Err(); err != nil {
			return bad, err
		}
		it.mu.Lock()
		present, f := it.have.Has(i), it.f
		it.mu.Unlock()
		if !present || f == nil {
			continue
		}
		if buf, err = l.readChunk(it, f, i, buf, true); err != nil {
			bad = append(bad, i)
		}
	}
	return bad, nil
}
