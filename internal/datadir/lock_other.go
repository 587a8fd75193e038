//go:build !linux && !windows

package datadir

import (
	"errors"
	"os"
)

// markHeld adds nothing to Lock's flock where open-file-description locks
// are missing.
func markHeld(*os.File) error { return nil }

// probeHeld takes f's flock for an instant to see whether another process
// holds it (released when f is closed); Lock waits such an instant out.
func probeHeld(f *os.File) (bool, error) {
	switch err := tryLock(f); {
	case err == nil:
		return false, nil
	case errors.Is(err, errHeld):
		return true, nil
	default:
		return false, err
	}
}
