package share

import "syscall"

// adviseHuge asks for transparent huge pages on b (warmHuge).
func adviseHuge(b []byte) error { return syscall.Madvise(b, syscall.MADV_HUGEPAGE) }
