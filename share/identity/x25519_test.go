package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

// TestX25519MatchesECDH: x25519Base and x25519 give crypto/ecdh's bytes
// (public keys and shared secrets) for random scalars and points, and the
// RFC 7748 §5.2 and §6.1 vectors.
func TestX25519MatchesECDH(t *testing.T) {
	for i := range 300 {
		var sk [32]byte
		_, _ = rand.Read(sk[:])
		if i == 0 {
			sk = [32]byte{} // clamping makes even the zero string a valid scalar
		}
		priv, err := ecdh.X25519().NewPrivateKey(sk[:])
		if err != nil {
			t.Fatal(err)
		}
		if got := x25519Base(&sk); !bytes.Equal(got, priv.PublicKey().Bytes()) {
			t.Fatalf("x25519Base(%x) = %x, crypto/ecdh %x", sk, got, priv.PublicKey().Bytes())
		}
		peer, _ := ecdh.X25519().GenerateKey(rand.Reader)
		want, err := priv.ECDH(peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := x25519(&sk, peer.PublicKey().Bytes()); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("x25519 = %x, %v; crypto/ecdh %x", got, err, want)
		}
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range []struct{ scalar, point, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
			"e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
			"c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
			"e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
			"95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
		// §6.1: Alice's public key, and Alice and Bob's shared secret
		{"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
			"0900000000000000000000000000000000000000000000000000000000000000",
			"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"},
		{"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
			"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
			"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
	} {
		var sk [32]byte
		copy(sk[:], unhex(v.scalar))
		got, err := x25519(&sk, unhex(v.point))
		if err != nil || hex.EncodeToString(got) != v.out {
			t.Errorf("X25519(%s, %s) = %x, %v; want %s", v.scalar, v.point, got, err, v.out)
		}
		if v.point[:2] == "09" {
			if got := x25519Base(&sk); hex.EncodeToString(got) != v.out {
				t.Errorf("x25519Base(%s) = %x; want %s", v.scalar, got, v.out)
			}
		}
	}
	// low-order points give an all-zero secret: refused
	var sk [32]byte
	_, _ = rand.Read(sk[:])
	for _, p := range [][]byte{make([]byte, 32), append([]byte{1}, make([]byte, 31)...)} {
		if got, err := x25519(&sk, p); !errors.Is(err, errLowOrder) {
			t.Errorf("x25519(low-order %x) = %x, %v; want errLowOrder", p, got, err)
		}
	}
	if _, err := SealTo(make([]byte, 32), []byte("k"), nil); err == nil {
		t.Error("SealTo sealed to a low-order key")
	}
}

func BenchmarkEphemeral(b *testing.B) {
	b.Run("edwards", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := newEphemeral(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crypto-ecdh", func(b *testing.B) {
		for b.Loop() {
			k, err := ecdh.X25519().GenerateKey(rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			_ = k.PublicKey().Bytes()
		}
	})
}
