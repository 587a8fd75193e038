//go:build !linux

package share

import "errors"

// adviseHuge: no transparent huge pages to ask for here (warmHuge).
func adviseHuge([]byte) error { return errors.New("no transparent huge pages on this system") }
