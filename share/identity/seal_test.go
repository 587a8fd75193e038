package identity

import (
	"bytes"
	"errors"
	"testing"
)

func mustGenerate(tb testing.TB) *Identity {
	tb.Helper()
	id, err := Generate()
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestSealRoundTrip(t *testing.T) {
	alice := mustGenerate(t)
	for _, secret := range [][]byte{nil, {1}, bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 5000)} {
		box, err := SealTo(alice.Public().Box, secret, []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if len(box) != len(secret)+SealOverhead {
			t.Fatalf("box len %d, want %d", len(box), len(secret)+SealOverhead)
		}
		got, err := alice.OpenSealed(box, []byte("ad"))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("OpenSealed = %x, %v; want %x", got, err, secret)
		}
	}
	// Two seals of the same secret differ (fresh ephemeral key).
	a, _ := SealTo(alice.Public().Box, []byte("k"), nil)
	b, _ := SealTo(alice.Public().Box, []byte("k"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals are identical")
	}
}

func TestSealRejects(t *testing.T) {
	alice, mallory := mustGenerate(t), mustGenerate(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	box, err := SealTo(alice.Public().Box, secret, []byte("license 1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		who  *Identity
		box  []byte
		ad   string
	}{
		// Someone else's key cannot open it.
		{"wrong recipient", mallory, box, "license 1"},
		// The associated data must match exactly.
		{"wrong ad", alice, box, "license 2"},
		// Empty associated data is not the same as some.
		{"missing ad", alice, box, ""},
		// Cut short anywhere.
		{"truncated by one", alice, box[:len(box)-1], "license 1"},
		{"only header", alice, box[:33], "license 1"},
		{"empty", alice, nil, "license 1"},
		// Unknown version byte.
		{"version 2", alice, append([]byte{2}, box[1:]...), "license 1"},
		// A low-order ephemeral point (all zeros) gives an all-zero secret.
		{"zero ephemeral key", alice, append(append([]byte{1}, make([]byte, 32)...), box[33:]...), "license 1"},
		// Extra bytes appended.
		{"trailing byte", alice, append(append([]byte(nil), box...), 0), "license 1"},
	} {
		got, err := tc.who.OpenSealed(tc.box, []byte(tc.ad))
		if !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: OpenSealed = %x, %v; want ErrOpen", tc.name, got, err)
		}
	}
	// Every single flipped bit anywhere in the box is detected.
	for i := range box {
		for bit := range 8 {
			f := append([]byte(nil), box...)
			f[i] ^= 1 << bit
			if got, err := alice.OpenSealed(f, []byte("license 1")); !errors.Is(err, ErrOpen) {
				t.Fatalf("flip byte %d bit %d: OpenSealed = %x, %v; want ErrOpen", i, bit, got, err)
			}
		}
	}
}

func TestSealToBadKey(t *testing.T) {
	for _, k := range [][]byte{nil, make([]byte, 31), make([]byte, 33)} {
		if _, err := SealTo(k, []byte("x"), nil); err == nil {
			t.Errorf("SealTo(%d-byte key) succeeded", len(k))
		}
	}
}

func BenchmarkSealTo(b *testing.B) {
	alice := mustGenerate(b)
	pub := alice.Public().Box
	secret := make([]byte, 32)
	for b.Loop() {
		if _, err := SealTo(pub, secret, []byte("ad")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenSealed(b *testing.B) {
	alice := mustGenerate(b)
	box, _ := SealTo(alice.Public().Box, make([]byte, 32), []byte("ad"))
	for b.Loop() {
		if _, err := alice.OpenSealed(box, []byte("ad")); err != nil {
			b.Fatal(err)
		}
	}
}
