package sealed

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"sync"
)

// cacheSlots is how many decrypted chunks a Reader keeps (e.g. the one the
// player reads, the one after it being prefetched, and two recent ones).
const cacheSlots = 4

type slotState uint8

const (
	slotEmpty slotState = iota
	slotLoading
	slotReady
)

type slot struct {
	idx     int
	state   slotState
	n       int    // plaintext bytes in buf
	buf     []byte // ciphertext, then plaintext (decrypted in place)
	lastUse uint64
	nonce   [nonceSize]byte
}

// Reader is the verified plaintext of a sealed file: an io.ReadSeeker and
// io.ReaderAt that fetches, hash-checks and decrypts only the chunks it
// touches, keeping at most 4 decrypted chunks in memory. ReadAt is safe for
// concurrent use; Read and Seek share one position.
type Reader struct {
	src    ChunkSource
	m      *Manifest
	ctx    context.Context
	cancel context.CancelFunc
	aead   cipher.AEAD
	key    []byte
	ad     [32]byte
	size   int64
	cs     int64
	// skipHash: src checked every chunk's hash when storing it (HashVerifier).
	skipHash bool

	mu     sync.Mutex
	cond   sync.Cond
	slots  [cacheSlots]slot
	tick   uint64
	closed bool

	posMu sync.Mutex
	pos   int64
}

// Open returns the plaintext of the complete sealed file r described by m.
// The file's header must equal the manifest's.
func Open(r io.ReaderAt, m *Manifest, key []byte) (*Reader, error) {
	want := m.HeaderBytes()
	got := make([]byte, len(want))
	if _, err := readFullAt(r, got, 0); err != nil {
		return nil, fmt.Errorf("opening sealed file: header: %w", err)
	}
	if !bytes.Equal(got, want) {
		return nil, fmt.Errorf("opening sealed file: %w: file header differs from the manifest's", ErrBadHeader)
	}
	return OpenSource(context.Background(), FileSource(r), m, key)
}

// OpenSource returns the plaintext of the content described by m, whose
// chunks come from src. ctx bounds the Reader's whole life (each wait for a
// chunk ends with ctx's error when it is done); Close ends it too. A key
// that does not match the header's key check is ErrWrongKey.
func OpenSource(ctx context.Context, src ChunkSource, m *Manifest, key []byte) (*Reader, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("opening sealed content: %w", err)
	}
	payload, err := checkKey(&m.Header, key)
	if err != nil {
		return nil, fmt.Errorf("opening sealed content: %w", err)
	}
	aead, err := newAEAD(payload)
	if err != nil {
		clear(payload)
		return nil, fmt.Errorf("opening sealed content: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Reader{
		src: src, m: m, ctx: ctx, cancel: cancel, aead: aead, key: payload,
		ad:   chunkAD(m.HeaderBytes()),
		size: int64(m.Header.Length),
		cs:   int64(m.Header.ChunkSize),
	}
	if hv, ok := src.(HashVerifier); ok {
		r.skipHash = hv.HashesVerified()
	}
	r.cond.L = &r.mu
	for i := range r.slots {
		r.slots[i].idx = -1
	}
	return r, nil
}

// Size is the plaintext length.
func (r *Reader) Size() int64 { return r.size }

// MediaType is the media type recorded in the header.
func (r *Reader) MediaType() string { return r.m.Header.MediaType }

// ContentID is the content ID of the manifest the Reader was opened with.
func (r *Reader) ContentID() ContentID { return r.m.ContentID() }

// Read reads from the current position.
func (r *Reader) Read(p []byte) (int, error) {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	if r.pos >= r.size {
		if r.isClosed() {
			return 0, ErrClosed
		}
		return 0, io.EOF
	}
	n, err := r.ReadAt(p, r.pos)
	r.pos += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets the position for Read; positions past the end are allowed.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return r.pos, fmt.Errorf("seeking: bad whence %d", whence)
	}
	if abs < 0 {
		return r.pos, fmt.Errorf("seeking: negative position %d", abs)
	}
	r.pos = abs
	return abs, nil
}

// ReadAt reads len(p) plaintext bytes at off. A damaged or unavailable
// chunk stops the read with a *ChunkError; the bytes returned before it
// come from chunks that verified, and none come from the bad chunk.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.readAt(context.Background(), p, off)
}

// ReadAtContext is ReadAt for one of several readers sharing the Reader
// (a video's sound and picture): a wait for a chunk also ends when ctx is
// done, with ctx's error, so that reader can stop without closing the
// Reader the others use. The chunk cache is shared: a chunk is fetched,
// checked and decrypted once for all of them.
func (r *Reader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ctx.Done() != nil {
		// Wake a wait for a chunk another reader is loading.
		stop := context.AfterFunc(ctx, func() {
			r.mu.Lock()
			r.cond.Broadcast()
			r.mu.Unlock()
		})
		defer stop()
	}
	return r.readAt(ctx, p, off)
}

// readAt is ReadAt; ctx also ends its waits.
func (r *Reader) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("reading at %d: negative offset", off)
	}
	if r.isClosed() {
		return 0, ErrClosed
	}
	n := 0
	for n < len(p) && off < r.size {
		k, err := r.copyChunk(ctx, int(off/r.cs), p[n:], int(off%r.cs))
		n += k
		off += int64(k)
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// copyChunk copies plaintext of chunk i from offset within into p, loading
// the chunk into a cache slot if needed; ctx also ends its waits.
func (r *Reader) copyChunk(ctx context.Context, i int, p []byte, within int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.closed {
			return 0, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var victim *slot
		found := false
		for k := range r.slots {
			s := &r.slots[k]
			if s.idx == i && s.state != slotEmpty {
				found = true
				if s.state == slotReady {
					r.tick++
					s.lastUse = r.tick
					return copy(p, s.buf[within:s.n]), nil
				}
				break // another goroutine is loading it
			}
			if s.state != slotLoading && (victim == nil || s.lastUse < victim.lastUse) {
				victim = s
			}
		}
		if found || victim == nil {
			r.cond.Wait()
			continue
		}
		victim.idx, victim.state = i, slotLoading
		r.mu.Unlock()
		n, err := r.load(ctx, i, victim)
		r.mu.Lock()
		if err != nil {
			victim.idx, victim.state, victim.n = -1, slotEmpty, 0
			r.cond.Broadcast()
			return 0, err
		}
		victim.n, victim.state = n, slotReady
		r.cond.Broadcast()
	}
}

// load fetches chunk i into s.buf, checks its hash and decrypts it in
// place. It runs without r.mu; s is reserved (slotLoading) for it. The
// wait for the chunk ends when the Reader's context or ctx is done.
func (r *Reader) load(ctx context.Context, i int, s *slot) (int, error) {
	_, ctn := r.m.ChunkRange(i)
	if cap(s.buf) < int(ctn) {
		s.buf = make([]byte, int(min(r.cs, r.size))+Overhead)
	}
	dst := s.buf[:ctn]
	lctx := r.ctx
	if ctx.Done() != nil {
		c, cancel := context.WithCancel(r.ctx)
		defer cancel()
		defer context.AfterFunc(ctx, cancel)()
		lctx = c
	}
	ct, err := r.src.ReadChunk(lctx, i, dst)
	if err != nil {
		if ctx.Err() != nil && r.ctx.Err() == nil {
			return 0, ctx.Err()
		}
		if ctxErr := r.ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return 0, &ChunkError{Index: i, Err: err}
	}
	if len(ct) == len(dst) && len(ct) > 0 && &ct[0] != &dst[0] {
		// The source's own memory: take a copy so the hash and the AEAD see
		// the same bytes and decryption can run in place.
		copy(dst, ct)
		ct = dst
	}
	if !r.skipHash {
		if err := r.m.VerifyChunk(i, ct); err != nil {
			return 0, err
		}
	}
	setNonce(&s.nonce, i, i == r.m.NumChunks()-1)
	pt, err := r.aead.Open(dst[:0], s.nonce[:], ct, r.ad[:])
	if err != nil {
		return 0, &ChunkError{Index: i, Err: ErrAuth}
	}
	return len(pt), nil
}

func (r *Reader) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Close ends pending chunk waits, then zeroes the payload key and every
// cached plaintext. (The AEAD's expanded key schedule lives inside the
// standard library and cannot be zeroed; it is dropped for the collector.)
func (r *Reader) Close() error {
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.cond.Broadcast()
	for {
		loading := false
		for k := range r.slots {
			loading = loading || r.slots[k].state == slotLoading
		}
		if !loading {
			break
		}
		r.cond.Wait()
	}
	for k := range r.slots {
		clear(r.slots[k].buf[:cap(r.slots[k].buf)])
		r.slots[k] = slot{idx: -1}
	}
	clear(r.key)
	r.aead = nil
	return nil
}
