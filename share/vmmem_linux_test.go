package share

import "syscall"

// adviseHuge asks for transparent huge pages on b (warmHuge).
func adviseHuge(b []byte) error { return syscall.Madvise(b, syscall.MADV_HUGEPAGE) }

// adviseSmall asks for 4 KiB pages only on b (kernelOnce: a machine whose
// transparent huge pages are "always" would otherwise fault its 16 MiB in
// a handful of 2 MiB pages, and the cost a fault would be 512 pages' worth).
func adviseSmall(b []byte) error { return syscall.Madvise(b, syscall.MADV_NOHUGEPAGE) }
