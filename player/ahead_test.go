package player

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/player/av"
)

// reusingFrames is a FrameSource that, like the decoder, converts every
// frame into the same buffer: frame i is filled with byte i. It records
// the nice value of the thread it is called on.
type reusingFrames struct {
	n    int
	buf  []byte
	i    int
	nice chan int
}

func (s *reusingFrames) Next() (av.Frame, error) {
	if s.nice != nil {
		select {
		case s.nice <- threadNice():
		default:
		}
	}
	if s.i == s.n {
		return av.Frame{}, io.EOF
	}
	for j := range s.buf {
		s.buf[j] = byte(s.i)
	}
	f := av.Frame{Kind: av.Video, PTS: time.Duration(s.i) * 33 * time.Millisecond, Data: s.buf, Width: 4, Height: 2}
	s.i++
	return f, nil
}

// threadNice is the calling thread's nice value (Linux; 0 elsewhere).
func threadNice() int {
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	n, _ := strconv.Atoi(f[16]) // field 19
	return n
}

// The picture is decoded one frame ahead on a thread of lower priority:
// each frame handed out keeps its pixels although the decoder converts
// the next one into its buffer meanwhile, the end of the title comes
// through, and ending the context stops the decoder, after which wait
// returns.
func TestDecodeAhead(t *testing.T) {
	ctx := context.Background()
	src := &reusingFrames{n: 20, buf: make([]byte, 4*2*4), nice: make(chan int, 1)}
	a := decodeAhead(ctx, src)
	for i := range 20 {
		f, err := a.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		time.Sleep(time.Millisecond) // the decoder is a frame ahead meanwhile
		for _, b := range f.Data {
			if b != byte(i) {
				t.Fatalf("frame %d holds pixels of frame %d: overwritten by the decoder", i, b)
			}
		}
		if &f.Data[0] == &src.buf[0] {
			t.Fatalf("frame %d is the decoder's own buffer", i)
		}
	}
	if _, err := a.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
	a.wait()
	if runtime.GOOS == "linux" {
		if got, want := <-src.nice, min(threadNice()+decodeNice, 19); got != want {
			t.Errorf("decoded at nice %d, want %d (the program's + %d)", got, want, decodeNice)
		}
	}

	// Stopped mid-way: Next returns the context's error, the decoder ends.
	cctx, cancel := context.WithCancel(ctx)
	a = decodeAhead(cctx, &reusingFrames{n: 1 << 20, buf: make([]byte, 32)})
	if _, err := a.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan struct{})
	go func() { a.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the decoder did not stop within 30 s of the end of its context")
	}
	if _, err := a.Next(); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after the end: %v, want context.Canceled", err)
	}
}
