package relay

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBatchScheduling: in a child process (the policy is the whole
// process's), BatchScheduling moves every thread to SCHED_BATCH with its
// nice value kept, and threads the runtime starts afterwards are at
// SCHED_BATCH too.
func TestBatchScheduling(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=batch")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "ok ") {
		t.Fatalf("child said %q", out)
	}
	t.Logf("child: %s", strings.TrimSpace(string(out)))
}

func init() { helperBatch = batchChild }

// batchChild is the child of TestBatchScheduling: it raises every
// thread's nice value by 2 (so a reset to 0 would show), calls
// BatchScheduling, starts threads, and checks them all.
func batchChild() error {
	threads := func() ([]int, error) {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return nil, err
		}
		var tids []int
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				tids = append(tids, tid)
			}
		}
		return tids, nil
	}
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return err
	}
	nice := min(int(a.Nice)+2, 19)
	// Until a pass finds no thread it has not set: a thread the runtime
	// started meanwhile, from a thread not yet set, kept the old nice value
	// (and then failed the check below); once every thread is set, the ones
	// started later inherit the new value from the thread starting them.
	var before []int
	for done := map[int]bool{}; ; {
		if before, err = threads(); err != nil {
			return err
		}
		fresh := 0
		for _, tid := range before {
			if done[tid] {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
				return fmt.Errorf("nice of thread %d: %w", tid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	if err := BatchScheduling(); err != nil {
		return err
	}
	// As many goroutines as the process had threads (at least eight), each
	// locked to its thread and parked until all are, need that many
	// threads at once: more than the process had that can run goroutines
	// (sysmon cannot), so at least one is new whatever the machine. (Eight
	// alone counted on the process having fewer idle threads than that,
	// which a machine with many cores need not hold to.)
	k := max(8, len(before))
	var wg sync.WaitGroup
	tids := make(chan int, k)
	all := make(chan struct{})
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- unix.Gettid()
			<-all
		}()
	}
	seen := map[int]bool{}
	for range k {
		seen[<-tids] = true
	}
	after, err := threads()
	close(all)
	wg.Wait()
	if err != nil {
		return err
	}
	isNew := 0
	for tid := range seen {
		if !slices.Contains(before, tid) {
			isNew++
		}
	}
	if len(seen) != k || isNew == 0 {
		return fmt.Errorf("%d threads ran the %d locked goroutines, %d of them new", len(seen), k, isNew)
	}
	for _, tid := range after {
		a, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		if a.Policy != unix.SCHED_BATCH || int(a.Nice) != nice {
			return fmt.Errorf("thread %d: policy %d nice %d, want %d (SCHED_BATCH) nice %d", tid, a.Policy, a.Nice, unix.SCHED_BATCH, nice)
		}
	}
	fmt.Printf("ok %d threads before, %d after (%d new ran locked goroutines), all SCHED_BATCH at nice %d\n", len(before), len(after), isNew, nice)
	return nil
}
