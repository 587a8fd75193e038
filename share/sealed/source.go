package sealed

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// ChunkSource yields ciphertext chunk i (exactly ChunkRange(i) bytes),
// waiting if it is not yet present, until ctx is done. dst has exactly the
// chunk's length; ReadChunk returns dst filled, or a slice of its own
// memory that does not overlap dst and is not modified until the next call.
type ChunkSource interface {
	ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error)
}

// HashVerifier is implemented by a ChunkSource whose every chunk was
// already checked against the manifest's chunk hashes when it was stored
// (the device library checks each chunk as it arrives from a peer). For
// such a source the Reader skips the SHA-256 check and relies on the AEAD
// alone: damage on disk, swapped or foreign chunks still fail as ErrAuth
// before any plaintext of the chunk is released. The hash check exists to
// catch chunks forged by another key holder, and those never got in.
type HashVerifier interface {
	HashesVerified() bool
}

// FileSource reads chunks from a complete sealed file. It parses the file's
// own header on first use; reading the last chunk also checks that nothing
// follows it (ErrTrailingData).
func FileSource(r io.ReaderAt) ChunkSource { return &fileSource{r: r} }

type fileSource struct {
	r    io.ReaderAt
	once sync.Once
	h    *Header
	err  error
}

func (f *fileSource) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.once.Do(func() {
		var b [maxHeaderSize]byte
		n, err := f.r.ReadAt(b[:], 0)
		if n == 0 && err != nil {
			f.err = fmt.Errorf("reading header: %w", err)
			return
		}
		f.h, _, f.err = ParseHeader(b[:n])
	})
	if f.err != nil {
		return nil, f.err
	}
	if i < 0 || uint64(i) >= f.h.numChunks() {
		return nil, fmt.Errorf("%w: no chunk %d in a file of %d", ErrTruncated, i, f.h.numChunks())
	}
	off, n := f.h.chunkRange(i)
	if int64(len(dst)) != n {
		return nil, fmt.Errorf("%w: chunk %d is %d bytes in the file, %d expected", ErrBadHeader, i, n, len(dst))
	}
	if _, err := readFullAt(f.r, dst, off); err != nil {
		return nil, err
	}
	if uint64(i) == f.h.numChunks()-1 {
		var probe [1]byte
		if k, _ := f.r.ReadAt(probe[:], off+n); k > 0 {
			return nil, fmt.Errorf("%w after chunk %d", ErrTrailingData, i)
		}
	}
	return dst, nil
}
