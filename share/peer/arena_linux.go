package peer

import "golang.org/x/sys/unix"

// hugeMap maps n bytes of anonymous memory and asks for transparent huge
// pages on it; nil if either fails (the arena is then not used: a kernel
// without transparent huge pages would only fault it in 4 KiB pages, as
// the heap does). The mapping is never unmapped: buffers of it may be
// referenced until the process ends.
func hugeMap(n int) []byte {
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	if err := unix.Madvise(m, unix.MADV_HUGEPAGE); err != nil {
		unix.Munmap(m)
		return nil
	}
	return m
}
