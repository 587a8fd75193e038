//go:build !linux

package library

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// reserve makes f size bytes long: a sparse file here (no fallocate), so a
// full disk is told by the chunk write that meets it. A size the file
// system cannot hold at all (EFBIG) is a *NoSpaceError, TooLarge.
func reserve(f *os.File, size int64) error {
	err := f.Truncate(size)
	if errors.Is(err, syscall.EFBIG) {
		return &NoSpaceError{Dir: filepath.Dir(f.Name()), Need: size, Free: -1, TooLarge: true}
	}
	return err
}
