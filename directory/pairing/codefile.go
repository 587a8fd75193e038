package pairing

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// FileCode is a code file's content.
type FileCode struct {
	ID      string // 16 random bytes
	Key     []byte // K
	Expires time.Time
}

type fileJSON struct {
	V       int    `json:"v"`
	ID      []byte `json:"id"`
	Key     []byte `json:"key"`
	Expires int64  `json:"expires"`
}

// ParseCodeFile parses code file bytes strictly.
func ParseCodeFile(b []byte) (FileCode, error) {
	var f fileJSON
	if err := decode(b, &f); err != nil {
		return FileCode{}, fmt.Errorf("join code file: %w", err)
	}
	switch {
	case f.V != 1:
		return FileCode{}, fmt.Errorf("join code file: version %d, want 1", f.V)
	case len(f.ID) != 16:
		return FileCode{}, fmt.Errorf("join code file: id is %d bytes, want 16", len(f.ID))
	case len(f.Key) != KeySize:
		return FileCode{}, fmt.Errorf("join code file: key is %d bytes, want %d", len(f.Key), KeySize)
	case f.Expires <= 0 || f.Expires > 1<<40:
		return FileCode{}, fmt.Errorf("join code file: expiry %d out of range", f.Expires)
	}
	return FileCode{ID: string(f.ID), Key: f.Key, Expires: time.Unix(f.Expires, 0)}, nil
}

// ReadCodeFile reads and parses the code file at path (at most MaxBody bytes).
func ReadCodeFile(path string) (FileCode, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileCode{}, fmt.Errorf("join code file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBody+1))
	if err != nil {
		return FileCode{}, fmt.Errorf("join code file: %w", err)
	}
	return ParseCodeFile(b)
}

// WriteCodeFile makes a new code for the directory whose public key is
// dirPub, writes its file at path (atomically, mode 0600) and returns the
// code to show and its expiry.
func WriteCodeFile(path string, dirPub ed25519.PublicKey, now time.Time) (Code, time.Time, error) {
	c, err := NewCode()
	if err != nil {
		return "", time.Time{}, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(CodeTTL).Truncate(time.Second)
	b, err := json.Marshal(fileJSON{V: 1, ID: id, Key: Key(c, dirPub), Expires: exp.Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	if err := writeAtomic(path, append(b, '\n')); err != nil {
		return "", time.Time{}, fmt.Errorf("writing the join code file: %w", err)
	}
	return c, exp, nil
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".pair-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = errors.Join(d.Sync(), d.Close())
		_ = err // the rename is done; a failed directory sync only risks the code
	}
	return nil
}
