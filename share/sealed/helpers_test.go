package sealed

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func testKey(tb testing.TB) []byte {
	tb.Helper()
	k, err := NewContentKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// sealBytes seals pt with chunk size cs and returns manifest, file and key.
func sealBytes(tb testing.TB, pt []byte, cs int) (*Manifest, []byte, []byte) {
	tb.Helper()
	key := testKey(tb)
	var out bytes.Buffer
	m, err := Seal(&out, bytes.NewReader(pt), key, Options{ChunkSize: cs, MediaType: "audio/mpeg"})
	if err != nil {
		tb.Fatal(err)
	}
	if int64(out.Len()) != m.FileSize() {
		tb.Fatalf("file of %d bytes, manifest says %d", out.Len(), m.FileSize())
	}
	return m, out.Bytes(), key
}
