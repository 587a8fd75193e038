package license

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kith-media/kith/share/identity"
)

func TestReply(t *testing.T) {
	dir, dev, relay := gen(t), gen(t), gen(t)
	payload := []byte(`{"receipt":"secret"}`)
	s, err := SealReply(payload, dir, dev.Public())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.Ciphertext, []byte("secret")) {
		t.Fatal("payload readable in the sealed reply")
	}
	got, err := OpenReply(s, dev, dir.Public().Sign)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("open = %q, %v", got, err)
	}
	// A reply the relay sealed itself (it knows dev's box key) is refused.
	forged, _ := SealReply([]byte(`{"receipt":"forged"}`), relay, dev.Public())
	for _, tt := range []struct {
		name string
		s    *SealedReply
		who  *identity.Identity
		want error
	}{
		{"opened by the relay", s, relay, ErrWrongDevice},
		{"sealed and signed by the relay", forged, dev, ErrBadSignature},
		{"ciphertext altered", &SealedReply{Device: s.Device, Ciphertext: flip(s.Ciphertext, 40), Signature: s.Signature}, dev, ErrBadSignature},
		{"relay's ciphertext under the directory's signature", &SealedReply{Device: s.Device, Ciphertext: forged.Ciphertext, Signature: s.Signature}, dev, ErrBadSignature},
		{"truncated", &SealedReply{Device: s.Device, Ciphertext: s.Ciphertext[:10], Signature: s.Signature}, dev, ErrMalformed},
		{"nil", nil, dev, ErrMalformed},
	} {
		if _, err := OpenReply(tt.s, tt.who, dir.Public().Sign); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func gen(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}

// FuzzOpenReply feeds replies a relay could forge: OpenReply must refuse
// everything not sealed to dev and signed by dir, and never panic.
func FuzzOpenReply(f *testing.F) {
	dir, _ := identity.Generate()
	dev, _ := identity.Generate()
	good, _ := SealReply([]byte(`{"receipt":1}`), dir, dev.Public())
	f.Add(good.Ciphertext, good.Signature, string(good.Device))
	f.Add([]byte{1, 2, 3}, []byte{}, "")
	f.Fuzz(func(t *testing.T, ct, sig []byte, device string) {
		s := &SealedReply{Device: identity.ID(device), Ciphertext: ct, Signature: sig}
		pt, err := OpenReply(s, dev, dir.Public().Sign)
		if err == nil && (!bytes.Equal(ct, good.Ciphertext) || string(pt) != `{"receipt":1}`) {
			t.Fatalf("opened a reply the directory did not make: %q", pt)
		}
	})
}
