package sealed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// lateSource is a hand-written partial download: chunk i becomes readable
// only after deliver(i) is called; ReadChunk waits for it or for ctx.
type lateSource struct {
	m    *Manifest
	file []byte

	mu      sync.Mutex
	have    map[int]bool
	waiting map[int]bool  // chunks a ReadChunk has waited for
	arrived chan struct{} // closed and replaced on every delivery and wait
}

func newLateSource(m *Manifest, file []byte) *lateSource {
	return &lateSource{m: m, file: file, have: map[int]bool{}, waiting: map[int]bool{}, arrived: make(chan struct{})}
}

// cancelWhenWaiting calls cancel once a ReadChunk waits for chunk i (or
// after 30 s, an incidental bound: the test then fails on what it reads).
// A cancel after a fixed time instead could come before the chunks that
// are there were read, on a machine that paused the reader that long.
func (s *lateSource) cancelWhenWaiting(i int, cancel context.CancelFunc) {
	go func() {
		defer cancel()
		deadline := time.After(30 * time.Second)
		for {
			s.mu.Lock()
			w, ch := s.waiting[i], s.arrived
			s.mu.Unlock()
			if w {
				return
			}
			select {
			case <-ch:
			case <-deadline:
				return
			}
		}
	}()
}

func (s *lateSource) deliver(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.have[i] = true
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *lateSource) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	for {
		s.mu.Lock()
		ok, ch := s.have[i], s.arrived
		if !ok && !s.waiting[i] {
			s.waiting[i] = true
			close(s.arrived) // wakes cancelWhenWaiting
			s.arrived = make(chan struct{})
			ch = s.arrived
		}
		s.mu.Unlock()
		if ok {
			off, n := s.m.ChunkRange(i)
			return dst[:copy(dst, s.file[off:off+n])], nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func TestChunkSourceLateChunks(t *testing.T) {
	const cs = 512
	pt := randBytes(10*cs+7, 21)
	m, file, key := sealBytes(t, pt, cs)
	src := newLateSource(m, file)
	r, err := OpenSource(context.Background(), src, m, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Deliver chunks out of order, slowly, while the reader waits on them.
	go func() {
		for _, i := range []int{3, 0, 1, 2, 10, 4, 5, 6, 7, 8, 9} {
			time.Sleep(2 * time.Millisecond)
			src.deliver(i)
		}
	}()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatal("plaintext differs")
	}
}

func TestChunkSourceCancel(t *testing.T) {
	const cs = 512
	pt := randBytes(3*cs, 22)
	m, file, key := sealBytes(t, pt, cs)

	// A cancelled context ends a wait for a chunk that never comes.
	ctx, cancel := context.WithCancel(context.Background())
	src := newLateSource(m, file)
	src.deliver(0)
	r, err := OpenSource(ctx, src, m, key)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2*cs)
	src.cancelWhenWaiting(1, cancel)
	n, err := r.ReadAt(buf, 0)
	if !errors.Is(err, context.Canceled) || n != cs {
		t.Fatalf("got %d bytes, %v; want %d, context.Canceled", n, err, cs)
	}
	var ce *ChunkError
	if !errors.As(err, &ce) || ce.Index != 1 {
		t.Fatalf("%v does not name chunk 1", err)
	}
	r.Close()

	// Close also ends a pending wait (another goroutine stuck in ReadAt).
	r, err = OpenSource(context.Background(), newLateSource(m, file), m, key)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadAt(buf, 0)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not end the pending ReadAt")
	}
}

// memSource returns slices of its own memory instead of filling dst.
type memSource struct {
	m    *Manifest
	file []byte
}

func (s memSource) ReadChunk(ctx context.Context, i int, dst []byte) ([]byte, error) {
	off, n := s.m.ChunkRange(i)
	return s.file[off : off+n], nil
}

func TestChunkSourceOwnMemory(t *testing.T) {
	pt := randBytes(5000, 23)
	m, file, key := sealBytes(t, pt, 1024)
	keep := bytes.Clone(file)
	r, err := OpenSource(context.Background(), memSource{m, file}, m, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(file, keep) {
		t.Fatal("reader modified the source's memory")
	}
}

// TestReadAtContext: one of two readers sharing a Reader stops waiting
// for a chunk when its own context ends — loading the chunk itself, or
// waiting for the other reader's load of it — and the Reader goes on
// serving the other reader, which gets the chunk when it arrives.
func TestReadAtContext(t *testing.T) {
	const cs = 512
	pt := randBytes(4*cs, 23)
	m, file, key := sealBytes(t, pt, cs)
	src := newLateSource(m, file)
	src.deliver(0)
	r, err := OpenSource(context.Background(), src, m, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// Alone: the wait for chunk 1 ends with ctx's error after chunk 0's bytes.
	ctx, cancel := context.WithCancel(context.Background())
	src.cancelWhenWaiting(1, cancel)
	buf := make([]byte, 2*cs)
	n, err := r.ReadAtContext(ctx, buf, 0)
	if !errors.Is(err, context.Canceled) || n != cs || !bytes.Equal(buf[:n], pt[:cs]) {
		t.Fatalf("got %d bytes, %v; want chunk 0's %d, context.Canceled", n, err, cs)
	}
	if n, err := r.ReadAtContext(ctx, buf, 0); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("with a done context: %d bytes, %v", n, err)
	}

	// Shared: the other reader loads chunk 2 (waiting for it); this one
	// waits for that load and stops when its context ends, the other not.
	other := make(chan error, 1)
	go func() {
		b := make([]byte, cs)
		_, err := r.ReadAt(b, 2*cs)
		if err == nil && !bytes.Equal(b, pt[2*cs:3*cs]) {
			err = errors.New("chunk 2 differs")
		}
		other <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.Background())
	mine := make(chan error, 1)
	go func() {
		_, err := r.ReadAtContext(ctx, make([]byte, cs), 2*cs)
		mine <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-mine:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the stopped reader: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stopped reader still waits")
	}
	select {
	case err := <-other:
		t.Fatalf("the other reader ended before its chunk came: %v", err)
	default:
	}
	src.deliver(2)
	if err := <-other; err != nil {
		t.Fatalf("the other reader: %v", err)
	}
	// The Reader still serves contexts that are not done.
	src.deliver(1)
	if n, err := r.ReadAtContext(context.Background(), buf, cs); err != nil || !bytes.Equal(buf[:n], pt[cs:3*cs]) {
		t.Fatalf("after: %d bytes, %v", n, err)
	}
}
