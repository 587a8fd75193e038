package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/pairing"
	"github.com/kith-media/kith/share/identity"
)

func TestPairCodeAndFingerprintCommands(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if rc := run(context.Background(), []string{"fingerprint", "--data", dir}, &out, &errb); rc != 1 ||
		!strings.Contains(errb.String(), "run `kith-directory serve` once first") {
		t.Fatalf("fingerprint before any key: rc %d, %q", rc, errb.String())
	}
	// A damaged key is not "never served": the message says to restore it.
	if err := os.WriteFile(filepath.Join(dir, "directory.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if rc := run(context.Background(), []string{"fingerprint", "--data", dir}, &out, &errb); rc != 1 ||
		strings.Contains(errb.String(), "once first") || !strings.Contains(errb.String(), "restore the key") {
		t.Fatalf("fingerprint with a damaged key: rc %d, %q", rc, errb.String())
	}
	if err := os.Remove(filepath.Join(dir, "directory.key")); err != nil {
		t.Fatal(err)
	}
	id, _, err := identity.LoadOrCreate(filepath.Join(dir, "directory.key"))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rc := run(context.Background(), []string{"fingerprint", "--data", dir}, &out, &errb); rc != 0 || strings.TrimSpace(out.String()) != string(id.ID()) {
		t.Fatalf("fingerprint: rc %d, %q, want %s", rc, out.String(), id.ID())
	}
	out.Reset()
	if rc := run(context.Background(), []string{"pair-code", "--data", dir}, &out, &errb); rc != 0 {
		t.Fatalf("pair-code: rc %d, %s", rc, errb.String())
	}
	code, err := pairing.ParseCode(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("pair-code printed %q: %v", out.String(), err)
	}
	fc, err := pairing.ReadCodeFile(joinCodePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if string(fc.Key) != string(pairing.Key(code, id.Public().Sign)) {
		t.Fatal("the code file's key is not the printed code's")
	}
	if left := time.Until(fc.Expires); left < 9*time.Minute || left > pairing.CodeTTL {
		t.Fatalf("the code expires in %v", left)
	}
}
