package share

import (
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// kernelCost is what entering the kernel costs on this machine, measured
// now (same run) as tlsBound is, the median of boundRuns measurements of
// kernelOnce: the CPU of one system call that does nothing (getppid) and of
// one minor page fault on fresh anonymous memory (the kernel's zeroing of a
// 4 KiB page and its mapping).
//
// Neither is in any bound. The crowd reports them (ns/syscall, us/fault)
// because its x_bound moves with them while the bound does not: the bound
// is AES-GCM, SHA-256 and socket copies, which measured the same on two
// virtual machines of the development environment, while a crowd
// also makes some twenty system calls and a dozen page faults a chunk
// transfer, whose cost is the hypervisor's. On the machine of session 34
// a getppid cost 1.0–1.2 µs and a fault 10 µs (a paravirtualised guest
// with page-table isolation on, each kernel entry a trip through the
// host; session 33's machine, earlier the same day, faulted in 1.5 µs),
// and the same product code that measured x_bound 2.11 at 8 MiB N=10 on
// session 33's machine measured 2.9–3.2 (docs/notes/2026-12-01/session34):
// one machine's figures can only be compared with another's alongside
// these.
func kernelCost(b *testing.B) (perSyscall, perFault time.Duration) {
	b.Helper()
	sc := make([]time.Duration, boundRuns)
	pf := make([]time.Duration, boundRuns)
	for i := range boundRuns {
		sc[i], pf[i] = kernelOnce(b)
	}
	slices.Sort(sc)
	slices.Sort(pf)
	return sc[boundRuns/2], pf[boundRuns/2]
}

// kernelOnce measures once, on one locked thread: 100,000 getppid calls
// and the first touch of each 4 KiB page of 16 MiB mapped for it (4,096
// faults, under whatever free page reporting the caller runs: the crowd
// measures it after warming its memory with the reporting paused, just
// before its clock starts, so that the pages are ones the host backs, as
// the crowd's own are).
func kernelOnce(b *testing.B) (perSyscall, perFault time.Duration) {
	b.Helper()
	const (
		calls = 100_000
		size  = 16 << 20
	)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	for range calls {
		syscall.Getppid()
	}
	perSyscall = (threadCPU() - t0) / calls
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	if err := adviseSmall(mem); err != nil {
		b.Fatal(err)
	}
	page := os.Getpagesize()
	t0 = threadCPU()
	for i := 0; i < size; i += page {
		mem[i] = 1
	}
	perFault = (threadCPU() - t0) / time.Duration(size/page)
	if err := syscall.Munmap(mem); err != nil {
		b.Fatal(err)
	}
	return perSyscall, perFault
}

// BenchmarkKernelCost reports kernelCost alone (ns/syscall, us/fault), with
// the VM's free page reporting paused and 64 MiB warmed first, as the crowd
// runs it (pauseReporting, warmMemory), and, measured once before that, as
// the machine is (us/fault_asis: where the host takes freed memory back,
// most first touches are of pages it must back again):
//
//	go test -tags libsqlite3 -run '^$' -bench KernelCost -benchtime 1x ./share/
func BenchmarkKernelCost(b *testing.B) {
	_, asis := kernelCost(b)
	if restore := pauseReporting(b); restore != nil {
		defer restore()
		warmMemory(b, 64<<20)
	}
	b.ResetTimer()
	for range b.N {
		sc, pf := kernelCost(b)
		b.ReportMetric(float64(sc.Nanoseconds()), "ns/syscall")
		b.ReportMetric(float64(pf.Nanoseconds())/1e3, "us/fault")
	}
	b.ReportMetric(float64(asis.Nanoseconds())/1e3, "us/fault_asis")
}
