package sealed

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

const (
	// DefaultChunkSize is the plaintext size of every chunk but the last
	// when Options.ChunkSize is zero.
	DefaultChunkSize = 256 << 10
	// MinChunkSize and MaxChunkSize bound the header's chunk size; anything
	// else is rejected as ErrBadHeader.
	MinChunkSize = 256      // bytes
	MaxChunkSize = 16 << 20 // bytes (16 MiB)
	// MaxLength is the largest plaintext length a header may declare.
	MaxLength = 1 << 48
	// KeySize is the size of a content key.
	KeySize = 32
	// Version is the only sealed-file format version this package reads and writes.
	Version = 1
	// MaxMediaType is the longest media type a header can carry.
	MaxMediaType = 127
	// Overhead is the number of bytes the AEAD adds to each chunk.
	Overhead = 16

	magic         = "KITHSEAL"
	fixedHeader   = len(magic) + 2 + 4 + 8 + 1 + 32 + 32 // without the media type
	lengthOffset  = len(magic) + 2 + 4
	maxHeaderSize = fixedHeader + MaxMediaType
	maxChunks     = 1 << 32
)

// Errors returned (wrapped) by this package; test them with errors.Is.
var (
	// ErrBadHeader: bad magic, unknown version, absurd chunk size or length,
	// bad media type, or a file header that differs from the manifest's.
	ErrBadHeader = errors.New("sealed: bad header")
	// ErrChunkHash: a ciphertext chunk differs from the manifest's hash
	// (bit flip, swapped chunks, a chunk of another file, a lying sender).
	ErrChunkHash = errors.New("sealed: chunk does not match manifest hash")
	// ErrAuth: the AEAD rejected a chunk whose hash matched, i.e. the
	// manifest itself describes damaged or reordered ciphertext.
	ErrAuth = errors.New("sealed: chunk authentication failed")
	// ErrTruncated: a file, header or chunk shorter than it must be.
	ErrTruncated = errors.New("sealed: truncated")
	// ErrTrailingData: bytes after the last chunk or the manifest's signature.
	ErrTrailingData = errors.New("sealed: trailing data")
	// ErrWrongKey: the content key does not match the header's key check.
	ErrWrongKey = errors.New("sealed: wrong content key")
	// ErrBadSignature: a manifest unsigned or not signed by the given key.
	ErrBadSignature = errors.New("sealed: bad manifest signature")
	// ErrBadManifest: a manifest encoding that is not exactly valid.
	ErrBadManifest = errors.New("sealed: bad manifest")
	// ErrClosed: the Reader was closed.
	ErrClosed = errors.New("sealed: reader closed")
)

// ChunkError says which chunk was damaged, missing or unreadable.
type ChunkError struct {
	Index int
	Err   error
}

func (e *ChunkError) Error() string { return fmt.Sprintf("chunk %d: %v", e.Index, e.Err) }

// Unwrap returns the cause (ErrChunkHash, ErrAuth, ErrTruncated, a context error …).
func (e *ChunkError) Unwrap() error { return e.Err }

// ContentID names sealed content: SHA-256 over the header and the chunk hashes.
type ContentID [32]byte

// String returns the ID as 64 lowercase hex digits.
func (c ContentID) String() string { return hex.EncodeToString(c[:]) }

// MarshalText encodes the ID as lowercase hex.
func (c ContentID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses 64 hex digits.
func (c *ContentID) UnmarshalText(b []byte) error {
	id, err := ParseContentID(string(b))
	if err != nil {
		return err
	}
	*c = id
	return nil
}

// ParseContentID parses 64 hex digits (either case).
func ParseContentID(s string) (ContentID, error) {
	var c ContentID
	if len(s) != 2*len(c) {
		return c, fmt.Errorf("parsing content id: want %d hex digits, got %d", 2*len(c), len(s))
	}
	if _, err := hex.Decode(c[:], []byte(s)); err != nil {
		return c, fmt.Errorf("parsing content id: %w", err)
	}
	return c, nil
}

// Header is the start of every sealed file; its encoding is in doc.go.
type Header struct {
	Version   uint16
	ChunkSize uint32
	Length    uint64 // plaintext length
	MediaType string // e.g. "audio/mpeg", at most 127 printable ASCII bytes
	Salt      [32]byte
	// KeyCheck commits to the content key (HKDF output, reveals nothing of
	// it): Open rejects a wrong key with ErrWrongKey before reading a chunk.
	KeyCheck [32]byte
}

// Validate reports absurd or unsupported fields as ErrBadHeader.
func (h *Header) Validate() error {
	switch {
	case h.Version != Version:
		return fmt.Errorf("%w: version %d (want %d)", ErrBadHeader, h.Version, Version)
	case h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize:
		return fmt.Errorf("%w: chunk size %d outside [%d, %d]", ErrBadHeader, h.ChunkSize, MinChunkSize, MaxChunkSize)
	case h.Length > MaxLength:
		return fmt.Errorf("%w: length %d exceeds %d", ErrBadHeader, h.Length, uint64(MaxLength))
	case len(h.MediaType) > MaxMediaType:
		return fmt.Errorf("%w: media type of %d bytes", ErrBadHeader, len(h.MediaType))
	case h.numChunks() > maxChunks:
		return fmt.Errorf("%w: %d chunks", ErrBadHeader, h.numChunks())
	}
	for i := 0; i < len(h.MediaType); i++ {
		if c := h.MediaType[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: media type byte %#x", ErrBadHeader, c)
		}
	}
	return nil
}

// Size is the encoded size of the header in bytes.
func (h *Header) Size() int { return fixedHeader + len(h.MediaType) }

// AppendBinary appends the encoded header to b. It does not validate.
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	mt := h.MediaType
	if len(mt) > MaxMediaType {
		return nil, fmt.Errorf("%w: media type of %d bytes", ErrBadHeader, len(mt))
	}
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = binary.BigEndian.AppendUint32(b, h.ChunkSize)
	b = binary.BigEndian.AppendUint64(b, h.Length)
	b = append(b, byte(len(mt)))
	b = append(b, mt...)
	b = append(b, h.Salt[:]...)
	b = append(b, h.KeyCheck[:]...)
	return b, nil
}

// ParseHeader decodes and validates the header at the start of b and
// returns it with its encoded size; the bytes after it are not looked at.
func ParseHeader(b []byte) (*Header, int, error) {
	if len(b) < len(magic)+2 {
		return nil, 0, fmt.Errorf("%w: header of %d bytes", ErrTruncated, len(b))
	}
	if string(b[:len(magic)]) != magic {
		return nil, 0, fmt.Errorf("%w: bad magic %q", ErrBadHeader, b[:len(magic)])
	}
	h := &Header{Version: binary.BigEndian.Uint16(b[len(magic):])}
	if h.Version != Version {
		return nil, 0, fmt.Errorf("%w: version %d (want %d)", ErrBadHeader, h.Version, Version)
	}
	if len(b) < fixedHeader {
		return nil, 0, fmt.Errorf("%w: header of %d bytes", ErrTruncated, len(b))
	}
	p := b[len(magic)+2:]
	h.ChunkSize = binary.BigEndian.Uint32(p)
	h.Length = binary.BigEndian.Uint64(p[4:])
	mlen := int(p[12])
	if mlen > MaxMediaType {
		return nil, 0, fmt.Errorf("%w: media type of %d bytes", ErrBadHeader, mlen)
	}
	n := fixedHeader + mlen
	if len(b) < n {
		return nil, 0, fmt.Errorf("%w: header of %d bytes, want %d", ErrTruncated, len(b), n)
	}
	p = p[13:]
	h.MediaType = string(p[:mlen])
	p = p[mlen:]
	copy(h.Salt[:], p)
	copy(h.KeyCheck[:], p[32:])
	if err := h.Validate(); err != nil {
		return nil, 0, err
	}
	return h, n, nil
}

func (h *Header) numChunks() uint64 {
	if h.Length == 0 || h.ChunkSize == 0 {
		return 1
	}
	return (h.Length + uint64(h.ChunkSize) - 1) / uint64(h.ChunkSize)
}

// plainLen is the plaintext length of chunk i.
func (h *Header) plainLen(i int) int {
	n := h.numChunks()
	if uint64(i) < n-1 {
		return int(h.ChunkSize)
	}
	return int(h.Length - (n-1)*uint64(h.ChunkSize))
}

// chunkRange is the byte range of ciphertext chunk i in the sealed file.
func (h *Header) chunkRange(i int) (off, n int64) {
	off = int64(h.Size()) + int64(i)*(int64(h.ChunkSize)+Overhead)
	return off, int64(h.plainLen(i)) + Overhead
}

func (h *Header) fileSize() int64 {
	return int64(h.Size()) + int64(h.Length) + int64(h.numChunks())*Overhead
}
