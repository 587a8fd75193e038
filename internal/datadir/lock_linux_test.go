package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

// On Linux InUse never takes the folder's lock, so a serve starting while
// kithctl asks "is the app running this device?" as fast as it can is
// never refused, even with no grace at all: 2,000 Locks without waiting
// beside a goroutine probing in a loop. (With InUse taking the flock for
// an instant, as before, some of them found it taken.) InUse still tells
// a held folder from a free one, and a second Lock is still refused.
func TestInUseNeverTakesTheLock(t *testing.T) {
	d := Dir(filepath.Join(t.TempDir(), "data"))
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		t.Fatal(err)
	}
	probes, stopProbing := probeInLoop(t, d)
	refused, locks := 0, 0
	for ; locks < 2000 || probes() < 100; locks++ {
		unlock, err := d.lock(0)
		if err != nil {
			refused++
			continue
		}
		if held, err := d.InUse(); err != nil || !held {
			t.Errorf("InUse while locked: %v, %v; want true", held, err)
		}
		if _, err := d.lock(0); err == nil {
			t.Fatal("a second Lock of a held folder succeeded")
		}
		unlock()
	}
	n := stopProbing()
	if refused > 0 {
		t.Errorf("%d of %d Locks refused while InUse probed %d times", refused, locks, n)
	}
	if n == 0 {
		t.Fatal("the prober never ran")
	}
	if held, err := d.InUse(); err != nil || held {
		t.Errorf("InUse of a free folder: %v, %v; want false", held, err)
	}
}
