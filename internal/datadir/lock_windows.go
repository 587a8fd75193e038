package datadir

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive LockFileEx lock on f's first byte without
// waiting (Windows has no flock): errHeld when another handle holds it.
// Only Kith opens the lock file, and nothing reads it, so the lock being
// mandatory on that byte changes nothing else.
func tryLock(f *os.File) error {
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errHeld
	}
	return err
}

// release unlocks f before closing it: Windows frees the locks of a closed
// handle only when it gets to it, and a Lock or InUse just after would
// still find the folder held.
func release(f *os.File) {
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
	f.Close()
}

// markHeld adds nothing to tryLock's lock: InUse takes it for an instant
// (Lock waits such an instant out), as on systems without
// open-file-description locks.
func markHeld(*os.File) error { return nil }

// probeHeld takes f's lock for an instant to see whether another process
// holds it, and lets it go at once.
func probeHeld(f *os.File) (bool, error) {
	switch err := tryLock(f); {
	case err == nil:
		windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
		return false, nil
	case errors.Is(err, errHeld):
		return true, nil
	default:
		return false, err
	}
}
