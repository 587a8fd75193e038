package sealed

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	manifestMagic   = "KITHMFST"
	manifestVersion = 1
	contentIDPrefix = "kith content v1\x00"
	signingPrefix   = "kith manifest v1\x00"
)

// Manifest describes a sealed file without its key: the header and the
// SHA-256 of every ciphertext chunk, optionally signed by the directory.
type Manifest struct {
	Header    Header
	Chunks    [][32]byte // SHA-256 of each ciphertext chunk (as stored in the file)
	Signature []byte     // ed25519 by the directory over SigningBytes(); empty until signed
}

// ContentID returns SHA-256("kith content v1\x00" ‖ header bytes ‖ chunk hashes).
func (m *Manifest) ContentID() ContentID {
	h := sha256.New()
	h.Write([]byte(contentIDPrefix))
	h.Write(m.HeaderBytes())
	for i := range m.Chunks {
		h.Write(m.Chunks[i][:])
	}
	var id ContentID
	h.Sum(id[:0])
	return id
}

// NumChunks is the number of chunks the header implies (at least 1).
func (m *Manifest) NumChunks() int { return int(m.Header.numChunks()) }

// FileSize is the total size of the sealed file in bytes.
func (m *Manifest) FileSize() int64 { return m.Header.fileSize() }

// ChunkRange returns the byte range of ciphertext chunk i in the sealed file.
func (m *Manifest) ChunkRange(i int) (off, n int64) { return m.Header.chunkRange(i) }

// HeaderBytes returns the encoded header: the sealed file's first bytes.
func (m *Manifest) HeaderBytes() []byte {
	b, err := m.Header.AppendBinary(make([]byte, 0, m.Header.Size()))
	if err != nil {
		// Only an over-long media type fails; a validated manifest never has one.
		b, _ = (&Header{}).AppendBinary(nil)
	}
	return b
}

// Validate checks the header and that there is one hash per chunk.
func (m *Manifest) Validate() error {
	if err := m.Header.Validate(); err != nil {
		return err
	}
	if len(m.Chunks) != m.NumChunks() {
		return fmt.Errorf("%w: %d chunk hashes for %d chunks", ErrBadManifest, len(m.Chunks), m.NumChunks())
	}
	return nil
}

// VerifyChunk checks ciphertext chunk i against the manifest (no key
// needed). Failures are *ChunkError wrapping ErrChunkHash, ErrTruncated or
// ErrTrailingData.
func (m *Manifest) VerifyChunk(i int, ciphertext []byte) error {
	if i < 0 || i >= len(m.Chunks) || i >= m.NumChunks() {
		return &ChunkError{Index: i, Err: fmt.Errorf("%w: no chunk %d", ErrBadManifest, i)}
	}
	_, n := m.ChunkRange(i)
	switch {
	case int64(len(ciphertext)) < n:
		return &ChunkError{Index: i, Err: fmt.Errorf("%w: %d of %d bytes", ErrTruncated, len(ciphertext), n)}
	case int64(len(ciphertext)) > n:
		return &ChunkError{Index: i, Err: fmt.Errorf("%w: %d bytes, want %d", ErrTrailingData, len(ciphertext), n)}
	}
	if sha256.Sum256(ciphertext) != m.Chunks[i] {
		return &ChunkError{Index: i, Err: ErrChunkHash}
	}
	return nil
}

// MarshalBinary encodes the manifest in the format described in doc.go.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	if len(m.Signature) != 0 && len(m.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("encoding manifest: %w: signature of %d bytes", ErrBadManifest, len(m.Signature))
	}
	hb := m.HeaderBytes()
	b := make([]byte, 0, len(manifestMagic)+2+2+len(hb)+4+32*len(m.Chunks)+2+len(m.Signature))
	b = append(b, manifestMagic...)
	b = binary.BigEndian.AppendUint16(b, manifestVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(hb)))
	b = append(b, hb...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Chunks)))
	for i := range m.Chunks {
		b = append(b, m.Chunks[i][:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Signature)))
	b = append(b, m.Signature...)
	return b, nil
}

// ParseManifest decodes a manifest strictly: every field valid, counts
// consistent, nothing after the signature. It does not check the signature.
func ParseManifest(b []byte) (*Manifest, error) {
	fail := func(format string, a ...any) (*Manifest, error) {
		return nil, fmt.Errorf("parsing manifest: %w: "+format, append([]any{ErrBadManifest}, a...)...)
	}
	if len(b) < len(manifestMagic)+4 {
		return fail("%d bytes", len(b))
	}
	if string(b[:len(manifestMagic)]) != manifestMagic {
		return fail("bad magic")
	}
	p := b[len(manifestMagic):]
	if v := binary.BigEndian.Uint16(p); v != manifestVersion {
		return fail("version %d", v)
	}
	hlen := int(binary.BigEndian.Uint16(p[2:]))
	p = p[4:]
	if hlen > len(p) {
		return fail("header of %d bytes, %d left", hlen, len(p))
	}
	h, n, err := ParseHeader(p[:hlen])
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	if n != hlen {
		return fail("header length %d, encoded %d", hlen, n)
	}
	p = p[hlen:]
	if len(p) < 4 {
		return fail("no chunk count")
	}
	count := uint64(binary.BigEndian.Uint32(p))
	p = p[4:]
	if count != h.numChunks() {
		return fail("%d chunk hashes for %d chunks", count, h.numChunks())
	}
	if uint64(len(p)) < 32*count+2 {
		return fail("%d bytes for %d chunk hashes", len(p), count)
	}
	m := &Manifest{Header: *h, Chunks: make([][32]byte, count)}
	for i := range m.Chunks {
		copy(m.Chunks[i][:], p[32*i:])
	}
	p = p[32*count:]
	slen := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if slen != 0 && slen != ed25519.SignatureSize {
		return fail("signature of %d bytes", slen)
	}
	if len(p) != slen {
		if len(p) > slen {
			return nil, fmt.Errorf("parsing manifest: %w: %d bytes after signature", ErrTrailingData, len(p)-slen)
		}
		return fail("signature truncated")
	}
	if slen > 0 {
		m.Signature = append([]byte(nil), p...)
	}
	return m, nil
}

// SigningBytes returns the bytes the directory signs: "kith manifest v1\x00"
// followed by the content ID (which commits to header and chunk hashes).
func (m *Manifest) SigningBytes() []byte {
	id := m.ContentID()
	return append([]byte(signingPrefix), id[:]...)
}

// Sign sets m.Signature with the directory's key.
func (m *Manifest) Sign(priv ed25519.PrivateKey) {
	m.Signature = ed25519.Sign(priv, m.SigningBytes())
}

// Verify checks m.Signature against pub; failures wrap ErrBadSignature.
func (m *Manifest) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key of %d bytes", ErrBadSignature, len(pub))
	}
	if len(m.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature of %d bytes", ErrBadSignature, len(m.Signature))
	}
	if !ed25519.Verify(pub, m.SigningBytes(), m.Signature) {
		return ErrBadSignature
	}
	return nil
}

// ReadManifest rebuilds an unsigned manifest from a complete sealed file of
// size bytes, hashing every chunk. A file shorter than its header says is
// ErrTruncated; a longer one (or r holding bytes past size) ErrTrailingData.
func ReadManifest(r io.ReaderAt, size int64) (*Manifest, error) {
	hb := make([]byte, min(int64(maxHeaderSize), max(size, 0)))
	if _, err := readFullAt(r, hb, 0); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	h, _, err := ParseHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	if want := h.fileSize(); size != want {
		if size < want {
			return nil, fmt.Errorf("reading manifest: %w: file of %d bytes, header says %d", ErrTruncated, size, want)
		}
		return nil, fmt.Errorf("reading manifest: %w: file of %d bytes, header says %d", ErrTrailingData, size, want)
	}
	var probe [1]byte
	if n, _ := r.ReadAt(probe[:], size); n > 0 {
		return nil, fmt.Errorf("reading manifest: %w: bytes past %d", ErrTrailingData, size)
	}
	m := &Manifest{Header: *h, Chunks: make([][32]byte, h.numChunks())}
	buf := make([]byte, int(min(uint64(h.ChunkSize), h.Length))+Overhead)
	for i := range m.Chunks {
		off, n := h.chunkRange(i)
		if _, err := readFullAt(r, buf[:n], off); err != nil {
			return nil, &ChunkError{Index: i, Err: err}
		}
		m.Chunks[i] = sha256.Sum256(buf[:n])
	}
	return m, nil
}

// readFullAt reads len(b) bytes at off; a short read is ErrTruncated.
func readFullAt(r io.ReaderAt, b []byte, off int64) (int, error) {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return n, fmt.Errorf("%w: %d of %d bytes at %d", ErrTruncated, n, len(b), off)
	}
	return n, err
}

// MarshalText encodes the manifest as standard base64 of MarshalBinary, so
// JSON carries it as one string that UnmarshalText parses strictly.
func (m *Manifest) MarshalText() ([]byte, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	return out, nil
}

// UnmarshalText parses the MarshalText form.
func (m *Manifest) UnmarshalText(text []byte) error {
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(b, text)
	if err != nil {
		return fmt.Errorf("parsing manifest: %w: %w", ErrBadManifest, err)
	}
	p, err := ParseManifest(b[:n])
	if err != nil {
		return err
	}
	*m = *p
	return nil
}
