package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "account")
	for _, want := range []string{"ana\n", "bo\n"} {
		if err := WriteFile(p, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("read back %q, %v; want %q", got, err, want)
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	left, _ := os.ReadDir(filepath.Dir(p))
	if len(left) != 1 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// An uncommitted file leaves nothing; CommitNew never replaces.
func TestCreateCloseAndCommitNew(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("abandoned file left %v", left)
	}
	p := filepath.Join(dir, "key")
	for i, want := range []error{nil, fs.ErrExist} {
		f, err := Create(dir, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("key")
		if err := f.CommitNew(p); !errors.Is(err, want) {
			t.Fatalf("CommitNew %d: got %v, want %v", i, err, want)
		}
		f.Close()
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("got %v, want only key", left)
	}
	f, _ = Create(dir, 0o600)
	defer f.Close()
	if err := f.Commit(filepath.Join(t.TempDir(), "elsewhere")); err == nil {
		t.Fatal("committed into another folder")
	}
}

// Errors are reported, not swallowed: a "folder" that is a file.
func TestWriteFileErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(file, "x"), []byte("x"), 0o600); err == nil {
		t.Fatal("wrote into a file as if it were a folder")
	}
}
