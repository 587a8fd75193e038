//go:build !linux

package share

import "errors"

// adviseHuge: no transparent huge pages to ask for here (warmHuge).
func adviseHuge([]byte) error { return errors.New("no transparent huge pages on this system") }

// adviseSmall: every page is a small one here (kernelOnce).
func adviseSmall([]byte) error { return nil }
