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
// (Truncate), as before this existed. A size the file system cannot hold
// at all (EFBIG from either: FAT32 past 4 GiB, ext2 with 1 KiB blocks past
// 16 GiB) is a *NoSpaceError too, TooLarge.
func reserve(f *os.File, size int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), 0, 0, size)
			if ferr != unix.EINTR {
				break
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(ferr, unix.EOPNOTSUPP) || errors.Is(ferr, unix.ENOSYS) {
		ferr = f.Truncate(size)
	}
	if ferr == nil {
		return nil
	}
	dir := filepath.Dir(f.Name())
	var fs unix.Statfs_t
	fsErr := unix.Statfs(dir, &fs)
	switch {
	case errors.Is(ferr, unix.ENOSPC), errors.Is(ferr, unix.EDQUOT):
		e := &NoSpaceError{Dir: dir, Need: size, Free: -1}
		if fsErr == nil {
			e.Free = int64(fs.Bavail) * int64(fs.Bsize)
		}
		return e
	case errors.Is(ferr, unix.EFBIG):
		e := &NoSpaceError{Dir: dir, Need: size, Free: -1, TooLarge: true}
		if fsErr == nil && fs.Type == unix.MSDOS_SUPER_MAGIC {
			e.Max = 1<<32 - 1 // FAT's 32-bit file size
		}
		return e
	}
	return ferr
}
