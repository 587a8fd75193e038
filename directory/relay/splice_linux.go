package relay

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
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

// pipeSize is what the relay asks for each session pipe (F_SETPIPE_SZ)
// at first: the kernel's default, 64 KiB. A direction whose step fills
// the pipe is carrying a bulk stream, and its pipe grows to bulkPipeSize,
// so one splice pair moves up to 1 MiB: on loopback that cut the steps
// per GB from about 20,000 to 6,000 (each step is two splices, a wakeup
// and the acknowledgement the read sends). At most maxBulkPipes pipes are
// grown at once, so 1,024 sessions cannot pin 2 GiB of kernel memory;
// past that, and where the kernel refuses (the per-user pipe limit), a
// pipe stays at 64 KiB.
const (
	pipeSize     = 64 << 10
	bulkPipeSize = 1 << 20
	maxBulkPipes = 128
)

// bulkPipes counts the pipes grown to bulkPipeSize.
var bulkPipes atomic.Int32

// kernelSplicer is one direction of one session: a pipe between two TCP sockets.
type kernelSplicer struct {
	src, dst syscall.RawConn
	r, w     int  // the pipe's read and write ends
	max      int  // bytes one fill may take
	full     bool // the last fill filled the pipe
	bulk     bool // growing was tried
	counted  bool // the pipe was grown and is counted in bulkPipes
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

// fill moves what the source has (at most one pipe's worth, and at most
// limit bytes) into the pipe, waiting for it under the source's read
// deadline; 0 bytes with io.EOF at the end of the stream.
func (k *kernelSplicer) fill(limit int) (int, error) {
	if k.full && !k.bulk {
		k.grow()
	}
	var n int64
	var serr error
	err := k.src.Read(func(fd uintptr) bool {
		for {
			n, serr = unix.Splice(int(fd), nil, k.w, nil, min(k.max, limit), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
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
	k.full = int(n) >= k.max-k.max/4 // (a pipe of small pages holds a little less)
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

// grow enlarges an empty pipe to bulkPipeSize if fewer than maxBulkPipes
// are grown; it tries once.
func (k *kernelSplicer) grow() {
	k.full = false
	if bulkPipes.Add(1) > maxBulkPipes {
		bulkPipes.Add(-1)
		k.bulk = true // do not try again; nothing to give back
		return
	}
	n, err := unix.FcntlInt(uintptr(k.w), unix.F_SETPIPE_SZ, bulkPipeSize)
	if err != nil || n <= k.max {
		bulkPipes.Add(-1)
		k.bulk = true
		return
	}
	k.max, k.bulk, k.counted = n, true, true
}

func (k *kernelSplicer) close() {
	unix.Close(k.r)
	unix.Close(k.w)
	if k.counted {
		bulkPipes.Add(-1)
	}
}
