package threadprio

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Lower locks the calling goroutine to its OS thread and raises the
// thread's nice value by n, to at most 19. The goroutine must not unlock
// the thread: it ends with the goroutine. It returns the error of the
// system call (the thread stays locked either way).
func Lower(n int) error {
	runtime.LockOSThread()
	tid := unix.Gettid()
	// The raw getpriority system call returns 20 - nice.
	cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("threadprio: reading the thread's priority: %w", err)
	}
	nice := min(20-cur+n, 19)
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
		return fmt.Errorf("threadprio: setting nice %d: %w", nice, err)
	}
	return nil
}
