package sealed

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
)

func TestManifestEncoding(t *testing.T) {
	m, file, _ := sealBytes(t, randBytes(3000, 31), 1024)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContentID() != m.ContentID() {
		t.Fatal("content ID changed by encoding")
	}
	if !bytes.Equal(file[:len(m.HeaderBytes())], m.HeaderBytes()) {
		t.Fatal("HeaderBytes is not the start of the file")
	}
	for i := range m.NumChunks() {
		off, n := m.ChunkRange(i)
		if err := m.VerifyChunk(i, file[off:off+n]); err != nil {
			t.Fatal(err)
		}
	}
	off, n := m.ChunkRange(1)
	bad := bytes.Clone(file[off : off+n])
	bad[0] ^= 1
	if err := m.VerifyChunk(1, bad); !errors.Is(err, ErrChunkHash) {
		t.Fatalf("VerifyChunk bad: %v", err)
	}
	if err := m.VerifyChunk(1, bad[1:]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("VerifyChunk short: %v", err)
	}
	if err := m.VerifyChunk(7, bad); err == nil {
		t.Fatal("VerifyChunk out of range")
	}

	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"trailing byte", append(bytes.Clone(b), 0), ErrTrailingData}, // strict: nothing after the signature
		{"truncated", b[:len(b)-1], ErrBadManifest},                   // last hash cut
		{"empty", nil, ErrBadManifest},                                // nothing
		{"bad magic", append([]byte("KITHMFSX"), b[8:]...), ErrBadManifest},
		{"count mismatch", func() []byte { // one chunk hash too many
			c := bytes.Clone(b)
			p := 8 + 2 + 2 + len(m.HeaderBytes())
			c[p+3]++
			return c
		}(), ErrBadManifest},
	}
	for _, tc := range tests {
		if _, err := ParseManifest(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestManifestSignature(t *testing.T) {
	m, _, _ := sealBytes(t, randBytes(100, 32), 512)
	pub, priv, _ := ed25519.GenerateKey(nil)
	if err := m.Verify(pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	m.Sign(priv)
	if err := m.Verify(pub); err != nil {
		t.Fatal(err)
	}
	b, _ := m.MarshalBinary()
	m2, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Verify(pub); err != nil {
		t.Fatalf("signature lost in encoding: %v", err)
	}
	m2.Chunks[0][0] ^= 1 // any change to the chunk list breaks it
	if err := m2.Verify(pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := m.Verify(other); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
	if !bytes.HasPrefix(m.SigningBytes(), []byte(signingPrefix)) {
		t.Fatal("signing bytes not domain-separated")
	}
}

func TestContentIDText(t *testing.T) {
	m, _, _ := sealBytes(t, nil, 512)
	id := m.ContentID()
	j, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	var back ContentID
	if err := json.Unmarshal(j, &back); err != nil || back != id {
		t.Fatalf("json round trip: %v", err)
	}
	if p, err := ParseContentID(id.String()); err != nil || p != id {
		t.Fatal("ParseContentID")
	}
	for _, s := range []string{"", "zz", id.String()[:63], id.String() + "0"} {
		if _, err := ParseContentID(s); err == nil {
			t.Errorf("ParseContentID(%q) accepted", s)
		}
	}
}

func TestManifestJSON(t *testing.T) {
	m, _, _ := sealBytes(t, randBytes(1000, 33), 512)
	_, priv, _ := ed25519.GenerateKey(nil)
	m.Sign(priv)
	j, err := json.Marshal(struct{ M *Manifest }{m})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ M *Manifest }
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if back.M.ContentID() != m.ContentID() || !bytes.Equal(back.M.Signature, m.Signature) {
		t.Fatal("manifest changed through JSON")
	}
	if err := json.Unmarshal([]byte(`{"M":"S0lUSE1GU1Q="}`), &back); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("bad manifest JSON: %v", err)
	}
}
