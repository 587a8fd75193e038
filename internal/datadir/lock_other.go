//go:build !linux

package datadir

import (
	"errors"
	"os"
	"syscall"
)

// markHeld adds nothing to Lock's flock where open-file-description locks
// are missing.
func markHeld(*os.File) error { return nil }

// probeHeld takes f's flock for an instant to see whether another process
// holds it (released when f is closed); Lock waits such an instant out.
func probeHeld(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, nil
	}
	return false, err
}
