package sealed

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzKey is a fixed key so FuzzOpen's seeds stay valid across runs.
var fuzzKey = bytes.Repeat([]byte{7}, KeySize)

func fuzzSealed(tb testing.TB, n, cs int) []byte {
	var out bytes.Buffer
	if _, err := Seal(&out, bytes.NewReader(randBytes(n, uint64(n))), fuzzKey, Options{ChunkSize: cs, MediaType: "audio/ogg"}); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func FuzzParseHeader(f *testing.F) {
	f.Add(fuzzSealed(f, 0, MinChunkSize))
	f.Add(fuzzSealed(f, 1000, MinChunkSize)[:120])
	f.Add([]byte("KITHSEAL\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			if h != nil || n != 0 {
				t.Fatal("error with a header")
			}
			return
		}
		enc, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, b[:n])
		}
		if h.fileSize() < int64(n) || h.numChunks() == 0 {
			t.Fatalf("absurd sizes: file %d, chunks %d", h.fileSize(), h.numChunks())
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	for _, n := range []int{0, 300, 1000} {
		m, err := ReadManifest(bytes.NewReader(fuzzSealed(f, n, MinChunkSize)), int64(len(fuzzSealed(f, n, MinChunkSize))))
		if err == nil {
			b, _ := m.MarshalBinary()
			f.Add(b)
		}
	}
	f.Add([]byte("KITHMFST\x00\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed manifest does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("manifest encoding is not canonical")
		}
		_ = m.ContentID()
	})
}

// FuzzOpen feeds arbitrary bytes as a sealed file: rebuilding a manifest and
// reading everything must either fail with a typed error or give bytes
// whose chunks all verified; it must never panic or hang.
func FuzzOpen(f *testing.F) {
	for _, n := range []int{0, 1, 255, 256, 700} {
		f.Add(fuzzSealed(f, n, MinChunkSize))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadManifest(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrBadHeader) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTrailingData) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		r, err := Open(bytes.NewReader(b), m, fuzzKey)
		if err != nil {
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("open: %v", err)
			}
			return
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("read: %v", err)
			}
			return
		}
		if int64(len(got)) != r.Size() {
			t.Fatalf("read %d of %d bytes", len(got), r.Size())
		}
	})
}
