package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/kith-media/kith/directory/pairing"
	"github.com/kith-media/kith/share/identity"
)

// joinCodePath is where pair-code leaves a code for serve (package pairing).
func joinCodePath(dir string) string { return filepath.Join(dir, "join-code.json") }

// loadIdentity reads the directory's existing key (no key: never served).
func loadIdentity(dir string) (*identity.Identity, error) {
	keyPath, _, _ := dataPaths(dir)
	id, err := identity.Load(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("directory identity (run `kith-directory serve` once first): %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("directory identity: %w (restore the key from a backup: a new key is a new directory to every player)", err)
	}
	return id, nil
}

func cmdPairCode(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("pair-code", "pair-code [--data DIR]", `
Shows a one-time join code for a device joining this directory. Type it on
the joining device (Kith's welcome screen, after choosing this directory)
within 10 minutes; it allows 5 attempts and works once. A new code
replaces the previous one. The running serve picks it up by itself.
`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := loadIdentity(*data)
	if err != nil {
		return err
	}
	code, exp, err := pairing.WriteCodeFile(joinCodePath(*data), id.Public().Sign, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", code)
	fmt.Fprintf(stderr, "Join code for directory %s, valid until %s (5 attempts, one use).\n",
		id.ID(), exp.Local().Format("15:04"))
	return nil
}

func cmdFingerprint(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data := newFlags("fingerprint", "fingerprint [--data DIR]", `
Prints this directory's fingerprint: devices need it with the address,
as https://host:port#FINGERPRINT (kith --directory, kithctl serve --directory).
`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := loadIdentity(*data)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id.ID())
	return nil
}
