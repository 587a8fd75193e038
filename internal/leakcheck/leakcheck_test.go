package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// A goroutine that outlives its test is reported with its stack; one that
// ends within the grace period is not.
func TestLeftover(t *testing.T) {
	before := Snapshot()
	stop := make(chan struct{})
	go parkedForTest(stop)
	go func() { time.Sleep(30 * time.Millisecond) }()
	left := Leftover(before, 200*time.Millisecond)
	if len(left) != 1 || !strings.Contains(left[0], "parkedForTest") {
		t.Fatalf("got %d leftovers %q, want the parked one", len(left), left)
	}
	if got := Leftover(before, 200*time.Millisecond, "parkedForTest"); len(got) != 0 {
		t.Errorf("an ignored goroutine was reported: %q", got)
	}
	close(stop)
	if left := Leftover(before, 2*time.Second); len(left) != 0 {
		t.Errorf("after it ended: %q", left)
	}
}

func parkedForTest(stop chan struct{}) { <-stop }
