//go:build unix

package directory

import (
	"crypto/tls"
	"syscall"
)

// connAlive tells whether an idle connection is still open: a peek that
// would block says so; end of stream (the directory closed it, e.g. at its
// idle timeout or a restart) or bytes nobody asked for (a closing alert) say
// it is not. One non-blocking system call.
func connAlive(tc *tls.Conn) bool {
	sc, ok := tc.NetConn().(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := true
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR
		return true
	}); err != nil {
		return false
	}
	return alive
}
