package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fixedIdentity returns a deterministic identity for seeds and vectors.
func fixedIdentity(tb testing.TB, b byte) *Identity {
	tb.Helper()
	seed := bytes.Repeat([]byte{b}, 32)
	box, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{b + 1}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := New(ed25519.NewKeyFromSeed(seed), box)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "identity.key")
	a, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %v, %v; want created", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	b, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, %v; want loaded", created, err)
	}
	if a.ID() != b.ID() || !bytes.Equal(a.Public().Box, b.Public().Box) {
		t.Fatal("reloaded identity differs")
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("dir has %d entries, want 1", len(ents))
	}
}

func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	var wg sync.WaitGroup
	ids := make([]ID, 8)
	for i := range ids {
		wg.Go(func() {
			id, _, err := LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = id.ID()
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("racing creators got different identities: %v", ids)
		}
	}
}

func TestKeyFileCorruptNotRegenerated(t *testing.T) {
	good := fixedIdentity(t, 5).MarshalKeyFile()
	lines := strings.SplitAfter(string(good), "\n")
	for _, tc := range []struct {
		name string
		data string
	}{
		// Nothing at all.
		{"empty", ""},
		// Cut in the middle of the box key.
		{"truncated", string(good[:60])},
		// Final newline missing.
		{"no final newline", string(good[:len(good)-1])},
		// A newer format.
		{"version 2", strings.Replace(string(good), "v1", "v2", 1)},
		// Some other file.
		{"not a key file", "hello\n"},
		// One bit flipped inside the signing key text.
		{"flipped key char", strings.Replace(string(good), lines[1], strings.Replace(lines[1], "sign B", "sign C", 1), 1)},
		// Checksum line edited.
		{"bad checksum", string(good[:len(good)-3]) + "00\n"},
		// An extra line.
		{"extra line", string(good) + "more 1\n"},
		// CRLF line endings.
		{"crlf", strings.ReplaceAll(string(good), "\n", "\r\n")},
		// Lines reordered.
		{"reordered", lines[0] + lines[2] + lines[1] + lines[3] + lines[4]},
	} {
		path := filepath.Join(t.TempDir(), "identity.key")
		if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreate(path)
		if !errors.Is(err, ErrBadKeyFile) {
			t.Errorf("%s: LoadOrCreate err = %v, want ErrBadKeyFile", tc.name, err)
		}
		after, _ := os.ReadFile(path)
		if string(after) != tc.data {
			t.Errorf("%s: key file was rewritten", tc.name)
		}
	}
}

func TestKeyFileIDMismatch(t *testing.T) {
	// A well-formed file whose id line names another device, with a correct
	// checksum: the key/id mismatch is still caught.
	good := string(fixedIdentity(t, 5).MarshalKeyFile())
	other := fixedIdentity(t, 9).ID()
	lines := strings.SplitAfter(good, "\n")
	body := lines[0] + lines[1] + lines[2] + "id " + string(other) + "\n"
	f := keyFileCheckLine([]byte(body))
	if _, err := ParseKeyFile([]byte(body + f)); !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("ParseKeyFile = %v, want id mismatch", err)
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	if err := os.WriteFile(path, fixedIdentity(t, 5).MarshalKeyFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("Load(0644 file) = %v, want permission error", err)
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestSaveReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identity.key")
	a, b := fixedIdentity(t, 1), fixedIdentity(t, 3)
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || got.ID() != b.ID() {
		t.Fatalf("Load after Save = %v, %v; want %s", got, err, b.ID())
	}
}

func FuzzLoadIdentity(f *testing.F) {
	f.Add(fixedIdentity(f, 1).MarshalKeyFile())
	f.Add([]byte("kith identity v2\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("error %v does not wrap ErrBadKeyFile", err)
			}
			return
		}
		if !bytes.Equal(id.MarshalKeyFile(), b) {
			t.Fatal("accepted a non-canonical key file")
		}
		if IDFromKey(id.Public().Sign) != id.ID() {
			t.Fatal("id does not match key")
		}
	})
}
