package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kith-media/kith/internal/atomicfile"
)

// ErrBadKeyFile is wrapped by every error about a key file that exists but
// cannot be used: wrong version, damaged, or not matching its own ID.
var ErrBadKeyFile = errors.New("bad key file")

const (
	keyFileHeader  = "kith identity v1"
	keyFilePrefix  = "kith identity v"
	maxKeyFileSize = 4096
)

// MarshalKeyFile returns the key file bytes for the identity (see the
// package documentation for the format). They contain private keys.
func (i *Identity) MarshalKeyFile() []byte {
	var b bytes.Buffer
	enc := base64.StdEncoding
	b.WriteString(keyFileHeader + "\n")
	b.WriteString("sign " + enc.EncodeToString(i.sign.Seed()) + "\n")
	b.WriteString("box " + enc.EncodeToString(i.box.Bytes()) + "\n")
	b.WriteString("id " + string(i.id) + "\n")
	b.WriteString(keyFileCheckLine(b.Bytes()))
	return b.Bytes()
}

// keyFileCheckLine returns the final line of a key file whose other lines are body.
func keyFileCheckLine(body []byte) string {
	sum := sha256.Sum256(body)
	return "check " + hex.EncodeToString(sum[:16]) + "\n"
}

// ParseKeyFile parses key file bytes strictly. Every failure wraps
// ErrBadKeyFile.
func ParseKeyFile(b []byte) (*Identity, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadKeyFile, fmt.Sprintf(format, args...))
	}
	if len(b) > maxKeyFileSize {
		return nil, bad("%d bytes, too large", len(b))
	}
	if len(b) == 0 {
		return nil, bad("empty")
	}
	if b[len(b)-1] != '\n' {
		return nil, bad("truncated: no final newline")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if v, ok := strings.CutPrefix(lines[0], keyFilePrefix); !ok {
		return nil, bad("not a kith identity file")
	} else if v != "1" {
		return nil, bad("unsupported version %q (this program reads v1)", v)
	}
	if len(lines) != 5 {
		return nil, bad("%d lines, want 5", len(lines))
	}
	field := func(n int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[n], name+" ")
		if !ok {
			return "", bad("line %d: want %q", n+1, name)
		}
		return v, nil
	}
	key := func(n int, name string) ([]byte, error) {
		v, err := field(n, name)
		if err != nil {
			return nil, err
		}
		k, err := base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, bad("line %d: %s key is not 32 bytes of base64", n+1, name)
		}
		return k, nil
	}
	// Check the checksum first: it tells damage apart from a key mismatch.
	check, err := field(4, "check")
	if err != nil {
		return nil, err
	}
	body := b[:len(b)-len("check ")-len(check)-1]
	sum := sha256.Sum256(body)
	if check != hex.EncodeToString(sum[:16]) {
		return nil, bad("checksum mismatch: the file is damaged")
	}
	seed, err := key(1, "sign")
	if err != nil {
		return nil, err
	}
	boxRaw, err := key(2, "box")
	if err != nil {
		return nil, err
	}
	idText, err := field(3, "id")
	if err != nil {
		return nil, err
	}
	box, err := ecdh.X25519().NewPrivateKey(boxRaw)
	if err != nil {
		return nil, bad("box key: %v", err)
	}
	id, err := New(ed25519.NewKeyFromSeed(seed), box)
	if err != nil {
		return nil, bad("%v", err)
	}
	if string(id.id) != idText {
		return nil, bad("id %q does not match the signing key (%s)", idText, id.id)
	}
	if !bytes.Equal(id.MarshalKeyFile(), b) {
		return nil, bad("non-canonical encoding")
	}
	return id, nil
}

// Load reads the key file at path. A missing file is an error wrapping
// fs.ErrNotExist; a damaged one wraps ErrBadKeyFile; a file readable by
// group or others is refused (on systems with Unix permissions).
func Load(path string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading identity: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("loading identity: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("loading identity %s: %w: not a regular file", path, ErrBadKeyFile)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("loading identity %s: mode %04o gives others access to the private key, want 0600", path, st.Mode().Perm())
	}
	if st.Size() > maxKeyFileSize {
		return nil, fmt.Errorf("loading identity %s: %w: %d bytes, too large", path, ErrBadKeyFile, st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("loading identity %s: %w", path, err)
	}
	id, err := ParseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("loading identity %s: %w", path, err)
	}
	return id, nil
}

// Save writes the key file to path atomically with mode 0600, replacing any
// existing file, creating the parent directory (0700) if needed.
func (i *Identity) Save(path string) error {
	if err := writeAtomic(path, i.MarshalKeyFile(), true); err != nil {
		return fmt.Errorf("saving identity: %w", err)
	}
	return nil
}

// LoadOrCreate loads the identity at path or, if there is no file there,
// generates one and stores it (atomically, mode 0600); created reports which.
// An existing but damaged file is an error, never replaced. If two processes
// race to create the file, both end up with the one that landed first.
func LoadOrCreate(path string) (id *Identity, created bool, err error) {
	id, err = Load(path)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	id, err = Generate()
	if err != nil {
		return nil, false, err
	}
	err = writeAtomic(path, id.MarshalKeyFile(), false)
	if errors.Is(err, fs.ErrExist) {
		id, err = Load(path)
		return id, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("creating identity: %w", err)
	}
	return id, true, nil
}

// writeAtomic writes data to path (mode 0600) through internal/atomicfile.
// Without replace it fails with fs.ErrExist if path already exists.
func writeAtomic(path string, data []byte, replace bool) error {
	f, err := atomicfile.Create(filepath.Dir(path), 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if replace {
		return f.Commit(path)
	}
	return f.CommitNew(path)
}
