package datadir

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// markHeld takes an open-file-description write lock on f, the folder's
// lock file, beside Lock's flock: unlike a flock, another process can see
// it without taking it (F_OFD_GETLK), so InUse never holds the folder,
// not even for an instant in which a starting serve would find it taken.
func markHeld(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return errHeld // held elsewhere: what Lock reports as in use
	}
	return err
}

// probeHeld reports whether another open file description holds f's
// lock, without taking it. A holder older than markHeld (flock only) is
// not seen: it still keeps Lock out.
func probeHeld(f *os.File) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}
