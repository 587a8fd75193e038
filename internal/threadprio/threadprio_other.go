//go:build !linux

package threadprio

// Lower does nothing here: per-thread priority is Linux only.
func Lower(n int) error { return nil }
