//go:build !linux

package share

import "testing"

// warmHuge does nothing where there are no transparent huge pages to ask
// for (see vmmem_linux_test.go).
func warmHuge(testing.TB, int64) {}
