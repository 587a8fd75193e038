package library

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// reserve makes f size bytes long with its disk blocks taken now
// (fallocate, mode 0: blocks already held stay, holes are filled, the file
// grows to size), so a full disk is a *NoSpaceError at a download's start.
// A file system without fallocate (EOPNOTSUPP) gets a sparse file
// (Truncate), as before this existed.
func reserve(f *os.File, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	var fs unix.Statfs_t
	var fsErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), 0, 0, size)
			if ferr != unix.EINTR {
				break
			}
		}
		if errors.Is(ferr, unix.ENOSPC) || errors.Is(ferr, unix.EDQUOT) {
			fsErr = unix.Fstatfs(int(fd), &fs)
		}
	}); err != nil {
		return err
	}
	switch {
	case ferr == nil:
		return nil
	case errors.Is(ferr, unix.EOPNOTSUPP), errors.Is(ferr, unix.ENOSYS):
		return f.Truncate(size)
	case errors.Is(ferr, unix.ENOSPC), errors.Is(ferr, unix.EDQUOT):
		e := &NoSpaceError{Dir: filepath.Dir(f.Name()), Need: size, Free: -1}
		if fsErr == nil {
			e.Free = int64(fs.Bavail) * int64(fs.Bsize)
		}
		return e
	}
	return ferr
}
