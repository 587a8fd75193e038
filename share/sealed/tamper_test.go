package sealed

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestTampering(t *testing.T) {
	const cs = 512
	pt := randBytes(4*cs+100, 11) // chunks 0–3 full, chunk 4 holds 100 bytes
	m, orig, key := sealBytes(t, pt, cs)
	other, otherFile, _ := sealBytes(t, randBytes(len(pt), 12), cs)
	hlen := len(m.HeaderBytes())
	chunk := func(f []byte, i int) []byte {
		off, n := m.ChunkRange(i)
		return f[off : off+n]
	}
	setU32 := func(off int, v uint32) func([]byte) []byte {
		return func(f []byte) []byte { binary.BigEndian.PutUint32(f[off:], v); return f }
	}
	setU64 := func(off int, v uint64) func([]byte) []byte {
		return func(f []byte) []byte { binary.BigEndian.PutUint64(f[off:], v); return f }
	}
	_ = other

	tests := []struct {
		name    string
		mutate  func(f []byte) []byte
		rebuilt bool   // read with a manifest rebuilt from the damaged file
		stage   string // where it must fail: "manifest", "open" or "read"
		want    error
		bad     int // for "read": first damaged chunk
	}{
		// A flipped bit in chunk 2 no longer matches the manifest hash.
		{"bit flip", func(f []byte) []byte { chunk(f, 2)[17] ^= 1; return f }, false, "read", ErrChunkHash, 2},
		// The same flip with a manifest made from the damaged file fails the AEAD.
		{"bit flip, rebuilt manifest", func(f []byte) []byte { chunk(f, 2)[17] ^= 1; return f }, true, "read", ErrAuth, 2},
		// A flipped bit in the first chunk's tag: nothing at all is released.
		{"tag flip chunk 0", func(f []byte) []byte { c := chunk(f, 0); c[len(c)-1] ^= 0x80; return f }, true, "read", ErrAuth, 0},
		// Cut exactly at the start of the final chunk.
		{"truncated at boundary", func(f []byte) []byte { off, _ := m.ChunkRange(4); return f[:off] }, false, "read", ErrTruncated, 4},
		{"truncated at boundary, rebuild", func(f []byte) []byte { off, _ := m.ChunkRange(4); return f[:off] }, true, "manifest", ErrTruncated, 0},
		// Cut in the middle of chunk 3.
		{"truncated inside chunk", func(f []byte) []byte { off, _ := m.ChunkRange(3); return f[:off+100] }, false, "read", ErrTruncated, 3},
		{"truncated inside chunk, rebuild", func(f []byte) []byte { off, _ := m.ChunkRange(3); return f[:off+100] }, true, "manifest", ErrTruncated, 0},
		// Final chunk dropped and the header's length edited to match: chunk 3
		// lacks the last-chunk flag.
		{"missing final chunk, consistent header", func(f []byte) []byte {
			off, _ := m.ChunkRange(4)
			f = f[:off]
			binary.BigEndian.PutUint64(f[lengthOffset:], 4*cs)
			return f
		}, true, "read", ErrAuth, 3},
		// The same file against the real manifest: its header differs.
		{"missing final chunk vs manifest", func(f []byte) []byte {
			off, _ := m.ChunkRange(4)
			f = f[:off]
			binary.BigEndian.PutUint64(f[lengthOffset:], 4*cs)
			return f
		}, false, "open", ErrBadHeader, 0},
		// The final chunk stored twice.
		{"doubled final chunk", func(f []byte) []byte { return append(f, chunk(f, 4)...) }, false, "read", ErrTrailingData, 4},
		{"doubled final chunk, rebuild", func(f []byte) []byte { return append(f, chunk(f, 4)...) }, true, "manifest", ErrTrailingData, 0},
		// Chunks 1 and 2 swapped.
		{"swapped chunks", func(f []byte) []byte {
			a, b := bytes.Clone(chunk(f, 1)), bytes.Clone(chunk(f, 2))
			copy(chunk(f, 1), b)
			copy(chunk(f, 2), a)
			return f
		}, false, "read", ErrChunkHash, 1},
		{"swapped chunks, rebuilt manifest", func(f []byte) []byte {
			a, b := bytes.Clone(chunk(f, 1)), bytes.Clone(chunk(f, 2))
			copy(chunk(f, 1), b)
			copy(chunk(f, 2), a)
			return f
		}, true, "read", ErrAuth, 1},
		// Chunk 2 taken from another sealed file of the same shape.
		{"foreign chunk", func(f []byte) []byte { copy(chunk(f, 2), chunk(otherFile, 2)); return f }, false, "read", ErrChunkHash, 2},
		{"foreign chunk, rebuilt manifest", func(f []byte) []byte { copy(chunk(f, 2), chunk(otherFile, 2)); return f }, true, "read", ErrAuth, 2},
		// Garbage after the final chunk.
		{"trailing garbage", func(f []byte) []byte { return append(f, 0) }, false, "read", ErrTrailingData, 4},
		{"trailing garbage, rebuild", func(f []byte) []byte { return append(f, "junk"...) }, true, "manifest", ErrTrailingData, 0},
		// Absurd header fields.
		{"chunk size 0", setU32(10, 0), true, "manifest", ErrBadHeader, 0},
		{"chunk size 1 GiB", setU32(10, 1<<30), true, "manifest", ErrBadHeader, 0},
		{"length overflow", setU64(lengthOffset, 1<<63), true, "manifest", ErrBadHeader, 0},
		{"length max uint64", setU64(lengthOffset, ^uint64(0)), true, "manifest", ErrBadHeader, 0},
		{"bad magic", func(f []byte) []byte { f[0] = 'X'; return f }, true, "manifest", ErrBadHeader, 0},
		{"version 2", func(f []byte) []byte { f[9] = 2; return f }, true, "manifest", ErrBadHeader, 0},
		{"media type too long", func(f []byte) []byte { f[22] = 200; return f }, true, "manifest", ErrBadHeader, 0},
		{"truncated header", func(f []byte) []byte { return f[:hlen-1] }, true, "manifest", ErrTruncated, 0},
		// A changed salt changes the derived keys: the key check fails.
		{"salt flip, rebuilt manifest", func(f []byte) []byte { f[hlen-40] ^= 1; return f }, true, "open", ErrWrongKey, 0},
		{"salt flip vs manifest", func(f []byte) []byte { f[hlen-40] ^= 1; return f }, false, "open", ErrBadHeader, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.mutate(bytes.Clone(orig))
			mm := m
			if tc.rebuilt {
				var err error
				mm, err = ReadManifest(bytes.NewReader(f), int64(len(f)))
				if tc.stage == "manifest" {
					if !errors.Is(err, tc.want) {
						t.Fatalf("ReadManifest: got %v, want %v", err, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatalf("ReadManifest: %v", err)
				}
			}
			r, err := Open(bytes.NewReader(f), mm, key)
			if tc.stage == "open" {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Open: got %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			buf := make([]byte, len(pt)+10)
			n, err := r.ReadAt(buf, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadAt: got %v, want %v", err, tc.want)
			}
			var ce *ChunkError
			if !errors.As(err, &ce) || ce.Index != tc.bad {
				t.Fatalf("ReadAt: %v is not a ChunkError for chunk %d", err, tc.bad)
			}
			if n != tc.bad*cs || !bytes.Equal(buf[:n], pt[:n]) {
				t.Fatalf("ReadAt returned %d bytes, want the %d of the good chunks", n, tc.bad*cs)
			}
			if !bytes.Equal(buf[n:], make([]byte, len(buf)-n)) {
				t.Fatal("plaintext of the damaged chunk leaked into the buffer")
			}
			// Reading inside the bad chunk releases nothing either.
			small := make([]byte, 10)
			if n, err := r.ReadAt(small, int64(tc.bad*cs+5)); n != 0 || !errors.Is(err, tc.want) {
				t.Fatalf("ReadAt inside bad chunk: %d bytes, %v", n, err)
			}
		})
	}

	// A wrong key is caught by the key check before any chunk is read.
	if _, err := Open(bytes.NewReader(orig), m, testKey(t)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Open(bytes.NewReader(orig), m, key[:16]); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("short key: %v", err)
	}
}

func TestReadManifestSizeMismatch(t *testing.T) {
	m, file, _ := sealBytes(t, randBytes(2000, 41), 512)
	tests := []struct {
		name string
		r    []byte
		size int64
		want error
	}{
		{"size one short", file, int64(len(file) - 1), ErrTruncated},                                     // caller's size shorter than the header implies
		{"size one long", file, int64(len(file) + 1), ErrTrailingData},                                   // caller's size longer
		{"reader holds more than size", append(bytes.Clone(file), 9), int64(len(file)), ErrTrailingData}, // bytes past size
		{"reader shorter than size", file[:len(file)-3], int64(len(file)), ErrTruncated},                 // size lies, file short
	}
	for _, tc := range tests {
		if _, err := ReadManifest(bytes.NewReader(tc.r), tc.size); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, err := ReadManifest(bytes.NewReader(file), int64(len(file))); err != nil || got.ContentID() != m.ContentID() {
		t.Fatalf("intact file: %v", err)
	}
}

func TestSealKnownLengthPlainReader(t *testing.T) {
	pt := randBytes(1500, 42)
	key := testKey(t)
	var out bytes.Buffer
	m, err := Seal(&out, struct{ io.Reader }{bytes.NewReader(pt)}, key, Options{ChunkSize: 512, Length: int64(len(pt))})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(out.Bytes()), m, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("read: %v", err)
	}
	// Absurd options are refused before anything is written.
	for _, o := range []Options{{ChunkSize: 1}, {ChunkSize: 1 << 30}, {Length: -1}, {MediaType: string(make([]byte, 200))}} {
		var out bytes.Buffer
		if _, err := Seal(&out, bytes.NewReader(nil), key, o); err == nil || out.Len() != 0 {
			t.Errorf("options %+v: err %v, %d bytes written", o, err, out.Len())
		}
	}
}

// TestTamperingHashVerifiedSource: a source that vouches for chunk hashes
// (the library) skips the SHA-256 check, so every kind of chunk damage must
// still be stopped by the AEAD before any plaintext of the chunk is released.
func TestTamperingHashVerifiedSource(t *testing.T) {
	const cs = 512
	pt := randBytes(4*cs+100, 21)
	m, orig, key := sealBytes(t, pt, cs)
	_, otherFile, _ := sealBytes(t, randBytes(len(pt), 22), cs)
	chunk := func(f []byte, i int) []byte {
		off, n := m.ChunkRange(i)
		return f[off : off+n]
	}
	tests := []struct {
		name   string
		mutate func(f []byte)
		bad    int
	}{
		// A bit flipped on disk after the chunk was stored.
		{"bit flip", func(f []byte) { chunk(f, 2)[17] ^= 1 }, 2},
		// Two chunks exchanged: the nonce carries the counter.
		{"swapped chunks", func(f []byte) {
			a, b := append([]byte(nil), chunk(f, 1)...), append([]byte(nil), chunk(f, 2)...)
			copy(chunk(f, 1), b)
			copy(chunk(f, 2), a)
		}, 1},
		// A chunk of another title: the header hash is associated data.
		{"foreign chunk", func(f []byte) { copy(chunk(f, 3), chunk(otherFile, 3)) }, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := append([]byte(nil), orig...)
			tc.mutate(f)
			r, err := OpenSource(t.Context(), verifiedSource{FileSource(bytes.NewReader(f))}, m, key)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			buf := make([]byte, len(pt))
			n, err := r.ReadAt(buf, 0)
			var ce *ChunkError
			if !errors.Is(err, ErrAuth) || !errors.As(err, &ce) || ce.Index != tc.bad {
				t.Fatalf("ReadAt: got %v, want ErrAuth in chunk %d", err, tc.bad)
			}
			if n != tc.bad*cs || !bytes.Equal(buf[:n], pt[:n]) {
				t.Fatalf("ReadAt returned %d bytes, want exactly the %d good ones", n, tc.bad*cs)
			}
			if !bytes.Equal(buf[n:], make([]byte, len(buf)-n)) {
				t.Fatal("plaintext of the damaged chunk reached the buffer")
			}
		})
	}
}
