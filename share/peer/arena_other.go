//go:build !linux

package peer

// hugeMap: no arena outside Linux (buffers come from the Go heap).
func hugeMap(int) []byte { return nil }
