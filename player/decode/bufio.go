package decode

import (
	"io"
)

// bufReadSeeker buffers small reads (decoders read a few bytes at a time)
// while keeping Seek exact. Plaintext media stays in this memory buffer only.
type bufReadSeeker struct {
	r    io.ReadSeeker
	buf  []byte
	off  int64 // source offset of buf[0]
	i, n int   // read index and fill of buf
	pos  int64 // logical position
}

func newBufReadSeeker(r io.ReadSeeker, size int) *bufReadSeeker {
	return &bufReadSeeker{r: r, buf: make([]byte, size)}
}

func (b *bufReadSeeker) Read(p []byte) (int, error) {
	if b.i >= b.n {
		if len(p) >= len(b.buf) {
			n, err := b.r.Read(p)
			b.pos += int64(n)
			b.off, b.i, b.n = b.pos, 0, 0
			return n, err
		}
		n, err := b.r.Read(b.buf)
		b.off, b.i, b.n = b.pos, 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.i:b.n])
	b.i += n
	b.pos += int64(n)
	return n, nil
}

func (b *bufReadSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.pos + offset
	default:
		n, err := b.r.Seek(offset, whence)
		if err != nil {
			return 0, err
		}
		b.pos, b.off, b.i, b.n = n, n, 0, 0
		return n, nil
	}
	if abs >= b.off && abs <= b.off+int64(b.n) {
		b.i = int(abs - b.off)
		b.pos = abs
		return abs, nil
	}
	n, err := b.r.Seek(abs, io.SeekStart)
	if err != nil {
		return 0, err
	}
	b.pos, b.off, b.i, b.n = n, n, 0, 0
	return n, nil
}
