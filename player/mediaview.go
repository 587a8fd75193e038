package player

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// readerAtContext is implemented by Media several readers can share
// (sealed.Reader): a read at an offset whose wait for a chunk also ends
// when ctx is done, without closing the media.
type readerAtContext interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

// mediaView is a second reader of an opened title, with a position of its
// own: a video's picture reads the title its sound opened, so the title is
// opened once (one license unwrap, one cache of verified, decrypted
// chunks). Close ends the view's reads, including one waiting for a
// chunk (cancel ends ctx), and leaves the title open for the sound, which
// owns it.
type mediaView struct {
	Media  // Size, MediaType, Title
	at     readerAtContext
	ctx    context.Context
	cancel context.CancelFunc

	mu  sync.Mutex
	pos int64
}

// Read implements io.Reader from the view's own position.
func (v *mediaView) Read(b []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pos >= v.Size() {
		return 0, io.EOF
	}
	n, err := v.at.ReadAtContext(v.ctx, b, v.pos)
	v.pos += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker for the view's own position.
func (v *mediaView) Seek(offset int64, whence int) (int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	abs := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		abs += v.pos
	case io.SeekEnd:
		abs += v.Size()
	default:
		return v.pos, fmt.Errorf("seeking: bad whence %d", whence)
	}
	if abs < 0 {
		return v.pos, fmt.Errorf("seeking: negative position %d", abs)
	}
	v.pos = abs
	return abs, nil
}

// Close ends the view's reads; the title stays open.
func (v *mediaView) Close() error {
	v.cancel()
	return nil
}

// Progressive passes on the title's Progressive.
func (v *mediaView) Progressive() bool {
	p, ok := v.Media.(Progressive)
	return ok && p.Progressive()
}

// cancelOnClose is a title opened again for the picture (a Media that
// cannot be shared): Close also ends the picture's context.
type cancelOnClose struct {
	Media
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	c.cancel()
	return c.Media.Close()
}

var _ Media = (*mediaView)(nil)
