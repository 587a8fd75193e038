package relay

import (
	"errors"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel moves a session's bytes: splice(2) from the source socket into
// a pipe, then from the pipe into the destination socket, so the payload
// never enters the relay's memory. Unlike io.Copy's own splice (which
// returns only when its whole count has moved), each splice into the pipe
// returns as soon as the socket has anything, so every step's bytes are
// counted and charged before they go out — on an idle keep-alive as on a
// full stream.

// pipeSize is what the relay asks for each session pipe (F_SETPIPE_SZ):
// the kernel's default, 64 KiB. Bigger pipes (io.Copy's splice uses
// 1 MiB) pin more kernel memory per session (1,024 sessions x 2 x 1 MiB)
// and run into the per-user pipe limit sooner, and on loopback they did
// not move bytes faster: a step of up to 1 MiB must all go out before
// the next is read.
const pipeSize = 64 << 10

// kernelSplicer is one direction of one session: a pipe between two TCP sockets.
type kernelSplicer struct {
	src, dst syscall.RawConn
	r, w     int // the pipe's read and write ends
	max      int // bytes one fill may take
}

// newSplicer returns a splicer from src to dst when both are TCP
// connections and a pipe can be made; otherwise the caller copies.
func newSplicer(dst, src net.Conn) splicer {
	st, ok1 := src.(*net.TCPConn)
	dt, ok2 := dst.(*net.TCPConn)
	if !ok1 || !ok2 {
		return nil
	}
	sr, err1 := st.SyscallConn()
	dr, err2 := dt.SyscallConn()
	if err1 != nil || err2 != nil {
		return nil
	}
	var p [2]int
	if unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK) != nil {
		return nil // out of descriptors: copying still works
	}
	size := 64 << 10
	if n, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pipeSize); err == nil {
		size = n
	}
	return &kernelSplicer{src: sr, dst: dr, r: p[0], w: p[1], max: size}
}

// fill moves what the source has (at most one pipe's worth) into the
// pipe, waiting for it under the source's read deadline; 0 bytes with
// io.EOF at the end of the stream.
func (k *kernelSplicer) fill() (int, error) {
	var n int64
	var serr error
	err := k.src.Read(func(fd uintptr) bool {
		for {
			n, serr = unix.Splice(int(fd), nil, k.w, nil, k.max, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if serr != unix.EINTR {
				break
			}
		}
		return serr != unix.EAGAIN // the pipe is empty here, so EAGAIN means "nothing to read yet"
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, &net.OpError{Op: "splice", Net: "tcp", Err: serr}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

// drain moves the n bytes in the pipe to the destination.
func (k *kernelSplicer) drain(n int) error {
	for n > 0 {
		var m int64
		var serr error
		err := k.dst.Write(func(fd uintptr) bool {
			for {
				m, serr = unix.Splice(k.r, nil, int(fd), nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				if serr != unix.EINTR {
					break
				}
			}
			return serr != unix.EAGAIN // the socket's send buffer is full
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return &net.OpError{Op: "splice", Net: "tcp", Err: serr}
		}
		if m == 0 {
			return errors.New("splice: the pipe ran dry") // cannot happen: n bytes are in it
		}
		n -= int(m)
	}
	return nil
}

func (k *kernelSplicer) close() {
	unix.Close(k.r)
	unix.Close(k.w)
}
