package sealed

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Options controls Seal.
type Options struct {
	// ChunkSize is the plaintext size of each chunk; zero means DefaultChunkSize.
	ChunkSize int
	// MediaType is recorded in the header, e.g. "audio/mpeg".
	MediaType string
	// Length is the plaintext length if the caller knows it; Seal fails if
	// src then yields more or fewer bytes. Zero means unknown: Seal takes
	// the length from src if it is an io.Seeker, otherwise it needs dst to
	// be an io.WriteSeeker and patches the header's Length at the end.
	Length int64
}

// FileSize is the size of the sealed file Seal makes from o.Length bytes of
// plaintext (o.ChunkSize and o.MediaType as Seal takes them), so a caller can
// take its disk space before sealing. The options are checked as Seal checks
// them.
func FileSize(o Options) (int64, error) {
	cs := o.ChunkSize
	if cs == 0 {
		cs = DefaultChunkSize
	}
	if cs < MinChunkSize || cs > MaxChunkSize {
		return 0, fmt.Errorf("sealing: chunk size %d outside [%d, %d]", cs, MinChunkSize, MaxChunkSize)
	}
	if o.Length < 0 || o.Length > MaxLength {
		return 0, fmt.Errorf("sealing: length %d outside [0, %d]", o.Length, int64(MaxLength))
	}
	h := Header{Version: Version, ChunkSize: uint32(cs), Length: uint64(o.Length), MediaType: o.MediaType}
	if err := h.Validate(); err != nil {
		return 0, fmt.Errorf("sealing: %w", err)
	}
	return h.fileSize(), nil
}

// Seal encrypts src into dst as a sealed file under contentKey and returns
// its (unsigned) manifest. It streams: memory use is two chunks whatever the
// input size, and no plaintext is written anywhere but dst's ciphertext.
func Seal(dst io.Writer, src io.Reader, contentKey []byte, opts Options) (*Manifest, error) {
	cs := opts.ChunkSize
	if cs == 0 {
		cs = DefaultChunkSize
	}
	if cs < MinChunkSize || cs > MaxChunkSize {
		return nil, fmt.Errorf("sealing: chunk size %d outside [%d, %d]", cs, MinChunkSize, MaxChunkSize)
	}
	if opts.Length < 0 || opts.Length > MaxLength {
		return nil, fmt.Errorf("sealing: length %d outside [0, %d]", opts.Length, int64(MaxLength))
	}
	length, known := opts.Length, opts.Length > 0
	if !known {
		if s, ok := src.(io.Seeker); ok {
			// A source that cannot seek (a pipe behind *os.File) fails the
			// first Seek and is treated as of unknown length.
			if cur, err := s.Seek(0, io.SeekCurrent); err == nil {
				end, err := s.Seek(0, io.SeekEnd)
				if err == nil {
					_, err = s.Seek(cur, io.SeekStart)
				}
				if err != nil {
					return nil, fmt.Errorf("sealing: measuring source: %w", err)
				}
				length, known = max(end-cur, 0), true
			}
		}
	}
	var (
		ws    io.WriteSeeker
		start int64
	)
	if !known {
		var ok bool
		if ws, ok = dst.(io.WriteSeeker); !ok {
			return nil, errors.New("sealing: unknown length needs Options.Length, a seekable source or a seekable destination")
		}
		var err error
		if start, err = ws.Seek(0, io.SeekCurrent); err != nil {
			return nil, fmt.Errorf("sealing: destination offset: %w", err)
		}
	}

	h := Header{Version: Version, ChunkSize: uint32(cs), Length: uint64(length), MediaType: opts.MediaType}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	if _, err := rand.Read(h.Salt[:]); err != nil {
		return nil, fmt.Errorf("sealing: salt: %w", err)
	}
	payload, check, err := deriveKeys(contentKey, &h.Salt)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	defer clear(payload)
	h.KeyCheck = check
	aead, err := newAEAD(payload)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	hb, _ := h.AppendBinary(nil)
	ad := chunkAD(hb)
	if _, err := dst.Write(hb); err != nil {
		return nil, fmt.Errorf("sealing: writing header: %w", err)
	}

	// Two buffers: the chunk being sealed and the one read ahead to learn
	// whether the current chunk is the last. Cleared when done (they held
	// plaintext) and, at the default chunk size, kept for the next Seal: a
	// device adding a folder seals hundreds of files, and two fresh 256 KiB
	// buffers each drove the garbage collector.
	cur, next := sealBuffer(cs), sealBuffer(cs)
	defer putSealBuffer(cur)
	defer putSealBuffer(next)
	var (
		hashes = make([][32]byte, 0, min(h.numChunks(), 1<<16))
		total  int64
		nonce  [nonceSize]byte
	)
	n, err := readChunk(src, cur[:cs])
	if err != nil {
		return nil, fmt.Errorf("sealing: reading chunk 0: %w", err)
	}
	for i := 0; ; i++ {
		last := n < cs
		nn := 0
		if !last {
			if nn, err = readChunk(src, next[:cs]); err != nil {
				return nil, fmt.Errorf("sealing: reading chunk %d: %w", i+1, err)
			}
			last = nn == 0
		}
		total += int64(n)
		if known && total > length {
			return nil, fmt.Errorf("sealing: source longer than its length %d", length)
		}
		setNonce(&nonce, i, last)
		ct := aead.Seal(cur[:0], nonce[:], cur[:n], ad[:])
		hashes = append(hashes, sha256.Sum256(ct))
		if _, err := dst.Write(ct); err != nil {
			return nil, fmt.Errorf("sealing: writing chunk %d: %w", i, err)
		}
		if last {
			break
		}
		cur, next, n = next, cur, nn
	}
	if known && total != length {
		return nil, fmt.Errorf("sealing: source gave %d bytes, length says %d: %w", total, length, io.ErrUnexpectedEOF)
	}
	if !known {
		if total > MaxLength {
			return nil, fmt.Errorf("sealing: %w: length %d", ErrBadHeader, total)
		}
		h.Length = uint64(total)
		var lb [8]byte
		binary.BigEndian.PutUint64(lb[:], h.Length)
		if _, err := ws.Seek(start+int64(lengthOffset), io.SeekStart); err != nil {
			return nil, fmt.Errorf("sealing: patching length: %w", err)
		}
		if _, err := ws.Write(lb[:]); err != nil {
			return nil, fmt.Errorf("sealing: patching length: %w", err)
		}
		if _, err := ws.Seek(start+h.fileSize(), io.SeekStart); err != nil {
			return nil, fmt.Errorf("sealing: patching length: %w", err)
		}
	}
	m := &Manifest{Header: h, Chunks: hashes}
	if len(hashes) != m.NumChunks() {
		return nil, fmt.Errorf("sealing: wrote %d chunks, header implies %d", len(hashes), m.NumChunks())
	}
	return m, nil
}

// readChunk fills b from r; a short count means r reached EOF.
func readChunk(r io.Reader, b []byte) (int, error) {
	n, err := io.ReadFull(r, b)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return n, err
}

// sealBuffers holds cleared buffers of DefaultChunkSize+Overhead bytes.
var sealBuffers sync.Pool

func sealBuffer(cs int) []byte {
	if cs == DefaultChunkSize {
		if b, ok := sealBuffers.Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, cs+Overhead)
}

// putSealBuffer clears b and keeps it for another Seal if it is of the
// default size.
func putSealBuffer(b []byte) {
	clear(b)
	if len(b) == DefaultChunkSize+Overhead {
		sealBuffers.Put(&b)
	}
}
