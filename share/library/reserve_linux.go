package library

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// reserve makes f size bytes long with its disk blocks taken now
// (fallocate, mode 0: blocks already held stay, holes are filled, the file
// grows to size), so a full disk is a *NoSpaceError at a download's start.
// A file system without fallocate (EOPNOTSUPP: ext2, ext3's block-mapped
// files) gets a sparse file (sparse). vfat is not one since Linux 4.5
// (b13bb33eacb7, "fat: add fat_fallocate operation", January 2016: mode 0
// is an expanding truncate, its clusters taken and zeroed, FAT having no
// holes). A size the file system cannot hold at all (EFBIG from either:
// FAT32 past 4 GiB, ext2 with 1 KiB blocks past 16 GiB) is a
// *NoSpaceError too, TooLarge.
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
		ferr = sparse(f, size)
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

// sparse makes f size bytes long without taking its blocks, where the file
// system cannot reserve them. A size the file system cannot hold is EFBIG
// first (freeing space would not help); then a disk whose free space is
// short of what the file still lacks is ENOSPC now, the file back at its
// size, rather than a chunk's write halfway through (the blocks are not
// held, so a disk filling meanwhile is still told by that write).
func sparse(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	var fs unix.Statfs_t
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || unix.Statfs(filepath.Dir(f.Name()), &fs) != nil {
		return nil
	}
	held := st.Blocks * 512 // what a resumed file already holds
	if free := int64(fs.Bavail) * int64(fs.Bsize); held < size && free < size-held {
		if err := f.Truncate(fi.Size()); err != nil {
			return err
		}
		return unix.ENOSPC
	}
	return nil
}
