package sealed

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// BenchmarkCipher compares the two candidate chunk ciphers on 256 KiB
// chunks; its result chose AES-256-GCM (see doc.go).
func BenchmarkCipher(b *testing.B) {
	key := make([]byte, 32)
	ciphers := []struct {
		name string
		new  func() cipher.AEAD
	}{
		{"AES256GCM", func() cipher.AEAD { c, _ := aes.NewCipher(key); a, _ := cipher.NewGCM(c); return a }},
		{"ChaCha20Poly1305", func() cipher.AEAD { a, _ := chacha20poly1305.New(key); return a }},
	}
	for _, c := range ciphers {
		a := c.new()
		buf := make([]byte, DefaultChunkSize+Overhead)
		nonce := make([]byte, 12)
		ad := make([]byte, 32)
		ct := a.Seal(nil, nonce, buf[:DefaultChunkSize], ad)
		b.Run(c.name+"/Seal", func(b *testing.B) {
			b.SetBytes(DefaultChunkSize)
			for b.Loop() {
				a.Seal(buf[:0], nonce, buf[:DefaultChunkSize], ad)
			}
		})
		b.Run(c.name+"/Open", func(b *testing.B) {
			b.SetBytes(DefaultChunkSize)
			for b.Loop() {
				if _, err := a.Open(buf[:0], nonce, ct, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const bench64 = 64 << 20

func sealedBench(b *testing.B) (*Manifest, []byte, []byte) {
	b.Helper()
	key := testKey(b)
	pt := make([]byte, bench64)
	var out bytes.Buffer
	m, err := Seal(&out, bytes.NewReader(pt), key, Options{MediaType: "audio/flac"})
	if err != nil {
		b.Fatal(err)
	}
	return m, out.Bytes(), key
}

// BenchmarkSealedRead64MiB reads 64 MiB sequentially through a Reader:
// fetch, SHA-256 check, AES-GCM open and copy, 64 KiB at a time.
func BenchmarkSealedRead64MiB(b *testing.B) {
	m, file, key := sealedBench(b)
	buf := make([]byte, 64<<10)
	b.SetBytes(bench64)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(bytes.NewReader(file), m, key)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil || n != bench64 {
			b.Fatal(n, err)
		}
		r.Close()
	}
}

// BenchmarkSealedReadVerified64MiB is the same read over a source that
// checked chunk hashes when it stored them (the device library): fetch,
// AES-GCM open and copy.
func BenchmarkSealedReadVerified64MiB(b *testing.B) {
	m, file, key := sealedBench(b)
	buf := make([]byte, 64<<10)
	b.SetBytes(bench64)
	b.ReportAllocs()
	for b.Loop() {
		r, err := OpenSource(context.Background(), verifiedSource{FileSource(bytes.NewReader(file))}, m, key)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil || n != bench64 {
			b.Fatal(n, err)
		}
		r.Close()
	}
}

// verifiedSource marks a source as having checked chunk hashes on store.
type verifiedSource struct{ ChunkSource }

func (verifiedSource) HashesVerified() bool { return true }

// BenchmarkBareAEAD64MiB is the floor: AES-GCM open of the same chunks in
// place, without hashing, fetching or copying.
func BenchmarkBareAEAD64MiB(b *testing.B) {
	m, file, key := sealedBench(b)
	payload, err := checkKey(&m.Header, key)
	if err != nil {
		b.Fatal(err)
	}
	a, _ := newAEAD(payload)
	ad := chunkAD(m.HeaderBytes())
	work := make([]byte, DefaultChunkSize+Overhead)
	var nonce [nonceSize]byte
	b.SetBytes(bench64)
	for b.Loop() {
		for i := 0; i < m.NumChunks(); i++ {
			off, n := m.ChunkRange(i)
			copy(work, file[off:off+n]) // open in place without destroying file
			setNonce(&nonce, i, i == m.NumChunks()-1)
			if _, err := a.Open(work[:0], nonce[:], work[:n], ad[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRandomRead4KiB measures the latency of a 4 KiB ReadAt at a
// random offset of a 64 MiB file (mostly cache misses: each decrypts a chunk).
func BenchmarkRandomRead4KiB(b *testing.B) {
	m, file, key := sealedBench(b)
	r, err := Open(bytes.NewReader(file), m, key)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadAt(buf, rng.Int64N(bench64-4096)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal measures sealing 64 MiB (encrypt + hash + write to memory).
func BenchmarkSeal(b *testing.B) {
	key := testKey(b)
	pt := make([]byte, bench64)
	var out bytes.Buffer
	out.Grow(bench64 + 1<<20)
	b.SetBytes(bench64)
	for b.Loop() {
		out.Reset()
		if _, err := Seal(&out, bytes.NewReader(pt), key, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkHash is the SHA-256 of one 256 KiB ciphertext chunk: the
// manifest check every Reader load pays on top of the AEAD.
func BenchmarkChunkHash(b *testing.B) {
	buf := make([]byte, DefaultChunkSize+Overhead)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_ = sha256.Sum256(buf)
	}
}
