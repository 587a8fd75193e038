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
	// The short one ends within the grace (however slow the machine), and
	// the ignored one is not reported.
	if got := Leftover(before, 30*time.Second, "parkedForTest"); len(got) != 0 {
		t.Errorf("a goroutine ending within the grace, or an ignored one, was reported: %q", got)
	}
	left := Leftover(before, 200*time.Millisecond)
	if len(left) != 1 || !strings.Contains(left[0], "parkedForTest") {
		t.Fatalf("got %d leftovers %q, want the parked one", len(left), left)
	}
	close(stop)
	if left := Leftover(before, 30*time.Second); len(left) != 0 {
		t.Errorf("after it ended: %q", left)
	}
}

func parkedForTest(stop chan struct{}) { <-stop }
