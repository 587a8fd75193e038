//go:build !unix

package relay

import "syscall"

// reuse: without SO_REUSEPORT a second socket cannot take the relay
// connection's port, so a hole punch fails and the asker stays on the
// relay's splice (which works everywhere).
func reuse(network, address string, rc syscall.RawConn) error { return nil }
