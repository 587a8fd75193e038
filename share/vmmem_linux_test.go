package share

import (
	"os"
	"syscall"
	"testing"
)

// warmHuge is warmMemory for the memory the crowd's processes take in
// transparent huge pages (their buffer arenas, peer.ArenaBytes each): it
// maps size bytes, asks for huge pages on them, touches them and frees
// them. Memory warmed in 4 KiB pages does not back the 2 MiB blocks a
// huge-page fault takes later: here, touching 256 MiB of fresh huge pages
// took 736 ms of CPU right after 1 GiB was warmed in 4 KiB pages, and
// 28–40 ms once it had been touched in huge pages before (the kernel's
// clear_page pays the host's faults on pages it had taken back). In
// system-wide perf profiles of 8 MiB N=200 (8 children, 33 MiB of arenas
// each), that zeroing was 4.6 % and 1.6 % of the crowd's samples in two
// runs without warmHuge, 0.3 % in one with it; the cpu_s of 4 rounds
// alternated did not tell the two apart (docs/notes/2026-12-01/session26).
// Where the kernel grants no huge pages, the touches back 4 KiB pages, as
// warmMemory's do.
func warmHuge(tb testing.TB, size int64) {
	tb.Helper()
	if avail := memAvailable() - 1<<30; size > avail {
		size = avail
	}
	if size <= 0 {
		return
	}
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		tb.Logf("warm %d bytes in huge pages: %v", size, err)
		return
	}
	if err := syscall.Madvise(mem, syscall.MADV_HUGEPAGE); err != nil {
		tb.Logf("warm %d bytes in huge pages: %v (4 KiB pages instead)", size, err)
	}
	page := os.Getpagesize()
	for i := 0; i < len(mem); i += page {
		mem[i] = 1
	}
	if err := syscall.Munmap(mem); err != nil {
		tb.Fatal(err)
	}
}
