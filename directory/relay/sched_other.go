//go:build !linux

package relay

// BatchScheduling does nothing outside Linux (see sched_linux.go).
func BatchScheduling() error { return nil }
