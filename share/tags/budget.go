package tags

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// errBudget is the read error once a reader's byte budget is spent.
var errBudget = errors.New("tag read budget exhausted")

// errDeadline is the read error once a reader's time is up.
var errDeadline = errors.New("tag read took too long")

// budgetReader is an io.ReadSeeker over an io.ReaderAt of a known size that
// lets its user seek anywhere for free but read at most left bytes in all,
// and nothing after deadline.
type budgetReader struct {
	r        io.ReaderAt
	size     int64
	off      int64
	left     int64
	deadline time.Time
}

func newBudgetReader(r io.ReaderAt, size, budget int64, deadline time.Time) *budgetReader {
	return &budgetReader{r: r, size: size, left: budget, deadline: deadline}
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		return 0, errBudget
	}
	if !b.deadline.IsZero() && time.Now().After(b.deadline) {
		return 0, errDeadline
	}
	if b.off >= b.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, b.left, b.size-b.off)
	got, err := b.r.ReadAt(p[:n], b.off)
	b.off += int64(got)
	b.left -= int64(got)
	if err == io.EOF && got > 0 {
		err = nil
	}
	return got, err
}

func (b *budgetReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		abs = b.size + offset
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if abs < 0 {
		return 0, errors.New("seek: negative position")
	}
	b.off = abs
	return abs, nil
}

// readAt reads exactly len(p) bytes at off from the budget.
func (b *budgetReader) readAt(p []byte, off int64) error {
	if _, err := b.Seek(off, io.SeekStart); err != nil {
		return err
	}
	_, err := io.ReadFull(b, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return err
}
