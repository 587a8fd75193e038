package threadprio

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadNice is the calling thread's nice value, from
// /proc/thread-self/stat (field 19).
func threadNice(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) ": field 3 on
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Lower raises the nice value of the goroutine's thread by n (at most to
// 19); the thread ends with the goroutine, and the caller's thread is not
// lowered with it.
func TestLower(t *testing.T) {
	before := threadNice(t)
	for _, c := range []struct{ n, want int }{{5, min(before+5, 19)}, {19, 19}} {
		var got, tid int
		done := make(chan error)
		go func() {
			err := Lower(c.n)
			got, tid = threadNice(t), unix.Gettid()
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Lower(%d) from nice %d: nice %d, want %d", c.n, before, got, c.want)
		}
		// The thread exits just after its goroutine; the main thread,
		// which cannot exit, is parked for good by the runtime instead.
		for deadline := time.Now().Add(30 * time.Second); tid != os.Getpid(); time.Sleep(time.Millisecond) {
			if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the lowered thread %d is still there 30 s after its goroutine ended", tid)
			}
		}
	}
	if got := threadNice(t); got != before {
		t.Errorf("the caller's nice went from %d to %d", before, got)
	}
}
