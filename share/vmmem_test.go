package share

import (
	"bufio"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The development machine is a virtual machine whose kernel hands the
// pages it frees back to the host (virtio-balloon free page reporting,
// /sys/module/page_reporting). A page handed back costs a host fault the
// next time the guest touches it, about 11 µs a 4 KiB page here: writing
// a new 4 GiB file took 12 s of system time ten seconds after an equal
// file was deleted, and 1.2 s right after (docs/notes/2026-12-01/session25).
// A flash crowd on this one machine writes every device's library into
// its page cache, N × the title's size (4.2 GB at 8 MiB N=500, 12.8 GB
// at 64 MiB N=200), on pages the host may have taken back, depending on
// what the machine did in the seconds before: in one profiled run at
// 8 MiB N=500 the children's pwrite was 30 % of their CPU (11.2 of 37.3 s
// sampled), and at 64 MiB N=200 the crowd spent 92 s of CPU as is against
// 57 s paused (at 8 MiB the A/Bs are within this machine's noise in 3 of
// 4). A device of a real crowd writes its title into memory its own
// kernel keeps, and pays none of it.
//
// pauseReporting therefore stops the reporting for one crowd, where the
// machine allows it (root, and a page_reporting_order that takes a value
// above the largest free block's order), and returns the function that
// restores it; warmMemory then touches the memory the crowd will write, and
// warmHuge the huge pages its processes' buffer arenas will take, so the
// host backs them before the crowd's clock starts. The figures say
// whether it ran (vm_paused); KITH_CROWD_VM=asis leaves the machine as it
// is. An interrupt or SIGTERM restores it; a benchmark killed otherwise
// before its cleanup (SIGKILL, -test.timeout's panic) leaves it paused:
// `echo 9 > /sys/module/page_reporting/parameters/page_reporting_order`
// (the value vm_paused's run read first is in its log) restores it.
const reportingOrder = "/sys/module/page_reporting/parameters/page_reporting_order"

// pauseReporting stops the VM's free page reporting and returns the
// function that restores it, or nil when it is not paused.
func pauseReporting(tb testing.TB) (restore func()) {
	tb.Helper()
	if os.Getenv("KITH_CROWD_VM") == "asis" {
		return nil
	}
	old, err := os.ReadFile(reportingOrder)
	if err != nil {
		return nil // not a VM that reports, or not Linux
	}
	was := strings.TrimSpace(string(old))
	// Free blocks are at most order 10 (4 MiB); a kernel that takes 11
	// reports none. One that refuses it (mainline caps the order at 10)
	// is left as it is.
	if os.WriteFile(reportingOrder, []byte("11"), 0) != nil {
		return nil
	}
	if now, _ := os.ReadFile(reportingOrder); strings.TrimSpace(string(now)) != "11" {
		os.WriteFile(reportingOrder, []byte(was), 0)
		return nil
	}
	tb.Logf("free page reporting paused (page_reporting_order %s → 11) for the crowd", was)
	// An interrupt (^C) or a SIGTERM restores it before the process ends
	// as the signal would have ended it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			os.WriteFile(reportingOrder, []byte(was), 0)
			signal.Stop(sig)
			syscall.Kill(os.Getpid(), s.(syscall.Signal))
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		if err := os.WriteFile(reportingOrder, []byte(was), 0); err != nil {
			tb.Errorf("restore %s to %s: %v", reportingOrder, was, err)
		}
	}
}

// warmMemory touches size bytes of fresh anonymous memory, a byte a page,
// and frees it, so that the host backs that much of the guest's free
// memory; it touches at most what the kernel says is available, less
// 1 GiB. It is meant to run with the reporting paused, when the freed pages
// stay backed for whoever takes them next.
func warmMemory(tb testing.TB, size int64) {
	tb.Helper()
	warm(tb, size, false)
}

// warmHuge is warmMemory for the memory the crowd's processes take in
// transparent huge pages (their buffer arenas, peer.ArenaBytes each): the
// same, with huge pages asked for (adviseHuge). Memory warmed in 4 KiB
// pages does not back the 2 MiB blocks a huge-page fault takes later:
// here, touching 256 MiB of fresh huge pages took 736 ms of CPU right
// after 1 GiB was warmed in 4 KiB pages, and 28–40 ms once it had been
// touched in huge pages before (the kernel's clear_page pays the host's
// faults on pages it had taken back). In system-wide perf profiles of
// 8 MiB N=200 (8 children, 33 MiB of arenas each), that zeroing was 4.6 %
// and 1.6 % of the crowd's samples in two runs without warmHuge, 0.3 % in
// one with it; the cpu_s of 4 rounds alternated did not tell the two apart
// (docs/notes/2026-12-01/session26). Where the kernel grants no huge
// pages, the touches back 4 KiB pages, as warmMemory's do.
func warmHuge(tb testing.TB, size int64) {
	tb.Helper()
	warm(tb, size, true)
}

func warm(tb testing.TB, size int64, huge bool) {
	tb.Helper()
	if avail := memAvailable() - 1<<30; size > avail {
		size = avail
	}
	if size <= 0 {
		return
	}
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		tb.Logf("warm %d bytes: %v", size, err)
		return
	}
	if huge {
		if err := adviseHuge(mem); err != nil {
			tb.Logf("warm %d bytes in huge pages: %v (4 KiB pages instead)", size, err)
		}
	}
	page := os.Getpagesize()
	for i := 0; i < len(mem); i += page {
		mem[i] = 1
	}
	if err := syscall.Munmap(mem); err != nil {
		tb.Fatal(err)
	}
}

// memAvailable is /proc/meminfo's MemAvailable in bytes, or 0.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
