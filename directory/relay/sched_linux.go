package relay

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// BatchScheduling puts every thread of the calling process under the
// SCHED_BATCH policy, keeping each thread's nice value; threads started
// later (the Go runtime starts them from its own) inherit it. A woken
// SCHED_BATCH thread does not preempt the thread running on its core: it
// runs when a core comes free or the running thread's slice ends, and
// then moves everything that gathered meanwhile in one step. For a relay
// that is the right trade: on an idle core it runs at once, as before; on
// a busy one, it used to preempt the sender at nearly every write (on
// loopback, 2 cores, the relayed benchmark's context switches fell from
// ~60,000 to ~16,000 per 1.3 GB, and the relay's CPU per GB by about a
// third). It is for a process that only relays (kith-relay calls it); a
// directory serving lookups in the same process should not, as its
// replies would lose wakeup preemption too. It needs no privilege.
func BatchScheduling() error {
	// A thread started from one not yet moved during a pass is not
	// moved in it: passes repeat until one finds nothing to move.
	for range 10 {
		moved, err := batchPass()
		if err != nil {
			return fmt.Errorf("batch scheduling: %w", err)
		}
		if moved == 0 {
			return nil
		}
	}
	return errors.New("batch scheduling: threads kept appearing at the normal policy")
}

// batchPass moves the process's threads at SCHED_NORMAL to SCHED_BATCH
// and says how many it moved.
func batchPass() (int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, err
	}
	var errs []error
	moved := 0
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		a, err := unix.SchedGetAttr(tid, 0)
		if errors.Is(err, unix.ESRCH) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("thread %d: %w", tid, err))
			continue
		}
		if a.Policy != unix.SCHED_NORMAL {
			continue // an explicit real-time or idle policy is left alone
		}
		a.Size, a.Policy = unix.SizeofSchedAttr, unix.SCHED_BATCH
		switch err := unix.SchedSetAttr(tid, a, 0); {
		case err == nil:
			moved++
		case !errors.Is(err, unix.ESRCH):
			errs = append(errs, fmt.Errorf("thread %d: %w", tid, err))
		}
	}
	return moved, errors.Join(errs...)
}
