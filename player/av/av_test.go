package av

import (
	"github.com/kith-media/kith/internal/leakcheck"

	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	clipsOnce sync.Once
	clipsDir  string
	clipsErr  error
)

// clip returns a clip made by testdata/clips.sh (once per test process).
func clip(t testing.TB, name string) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("skipping: ffmpeg not installed (scripts/deps.sh test installs it): %v", err)
	}
	clipsOnce.Do(func() {
		clipsDir, clipsErr = os.MkdirTemp("", "kith-av-clips-")
		if clipsErr != nil {
			return
		}
		out, err := exec.Command("sh", "testdata/clips.sh", clipsDir).CombinedOutput()
		if err != nil {
			clipsErr = errors.New(string(out))
		}
	})
	if clipsErr != nil {
		t.Fatalf("making clips: %v", clipsErr)
	}
	b, err := os.ReadFile(filepath.Join(clipsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMain(m *testing.M) {
	if f := os.Getenv("KITH_AV_LOG_CHILD"); f != "" {
		os.Exit(logChild(f))
	}
	SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	code := leakcheck.Run(m)
	if clipsDir != "" {
		os.RemoveAll(clipsDir)
	}
	os.Exit(code)
}

// readSeekerOnly hides everything but io.ReadSeeker (no ReaderAt, no Size).
type readSeekerOnly struct{ r io.ReadSeeker }

func (r readSeekerOnly) Read(p []byte) (int, error)         { return r.r.Read(p) }
func (r readSeekerOnly) Seek(o int64, w int) (int64, error) { return r.r.Seek(o, w) }

// downloading is a reader over data of which only the first `have` bytes
// have arrived: a read past them blocks until more arrive (as the sealed
// reader waits for chunks), or until closed.
type downloading struct {
	mu      sync.Mutex
	cond    *sync.Cond
	data    []byte
	have    int
	pos     int64
	closed  bool
	waits   int
	blocked bool // a Read waits for bytes
}

func newDownloading(data []byte, have int) *downloading {
	d := &downloading{data: data, have: have}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// waiting reports whether a Read is blocked for bytes not yet arrived.
func (d *downloading) waiting() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.blocked
}

// waitCount is how many times a Read had to wait.
func (d *downloading) waitCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waits
}

// arrive makes n more bytes available.
func (d *downloading) arrive(n int) {
	d.mu.Lock()
	d.have = min(len(d.data), d.have+n)
	d.mu.Unlock()
	d.cond.Broadcast()
}

func (d *downloading) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for !d.closed && d.pos < int64(len(d.data)) && d.pos >= int64(d.have) {
		d.waits++
		d.blocked = true
		d.cond.Wait()
		d.blocked = false
	}
	if d.closed {
		return 0, errors.New("closed")
	}
	if d.pos >= int64(len(d.data)) {
		return 0, io.EOF
	}
	n := copy(p, d.data[d.pos:d.have])
	d.pos += int64(n)
	return n, nil
}

func (d *downloading) Seek(off int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		off += d.pos
	case io.SeekEnd:
		off += int64(len(d.data))
	}
	if off < 0 {
		return 0, errors.New("negative position")
	}
	d.pos = off
	return off, nil
}

func (d *downloading) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cond.Broadcast()
}

// frameIndex reads the frame index a clip draws (luma 2·N) from the middle
// pixel of an RGBA frame (limited-range luma: R = (Y−16)·255/219).
func frameIndex(f Frame) (idx float64, white bool) {
	r := float64(f.Data[(f.Height/2*f.Width+f.Width/2)*4])
	y := r*219/255 + 16
	return y / 2, r >= 250
}

// decoded is a whole title decoded.
type decoded struct {
	videoPTS []time.Duration
	index    []float64
	flashAt  time.Duration
	audio    []float32 // left channel
	audioPTS time.Duration
}

func decodeAll(t *testing.T, m *Media) decoded {
	t.Helper()
	var d decoded
	d.flashAt = -1
	first := true
	for {
		f, err := m.Next()
		if err == io.EOF {
			return d
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		switch f.Kind {
		case Video:
			idx, white := frameIndex(f)
			if white && d.flashAt < 0 {
				d.flashAt = f.PTS
			}
			d.videoPTS = append(d.videoPTS, f.PTS)
			d.index = append(d.index, idx)
		case Audio:
			if first {
				d.audioPTS, first = f.PTS, false
			}
			for i := 0; i+8 <= len(f.Data); i += 8 {
				d.audio = append(d.audio, math.Float32frombits(binary.LittleEndian.Uint32(f.Data[i:])))
			}
		}
	}
}

// beepAt finds the beep's start in PCM at rate, from the first 1 ms window
// whose RMS is over 0.05.
func beepAt(x []float32, rate int) time.Duration {
	w := rate / 1000
	for i := 0; i+w <= len(x); i += w {
		var s float64
		for _, v := range x[i : i+w] {
			s += float64(v) * float64(v)
		}
		if math.Sqrt(s/float64(w)) > 0.05 {
			return time.Duration(i) * time.Second / time.Duration(rate)
		}
	}
	return -1
}

// TestDecodeClips decodes each clip made by clips.sh, read through a wrapper
// that exposes only io.ReadSeeker: 100 frames in rising time order, each
// showing its own index, the white flash at 2.0 s, 4 s of sound with the
// beep at 2.0 s; then a seek to 3 s gives frame 75 first.
func TestDecodeClips(t *testing.T) {
	for _, c := range []struct{ name, vcodec, acodec string }{
		{"h264-aac.mp4", "h264", "aac"}, {"vp9-opus.webm", "vp9", "opus"}, {"vp8-vorbis.webm", "vp8", "vorbis"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := clip(t, c.name)
			m, err := Open(context.Background(), readSeekerOnly{bytes.NewReader(data)}, int64(len(data)), Options{Width: 160, Height: 120, SampleRate: 44100})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			info := m.Info()
			t.Logf("%+v", info)
			if info.VideoCodec != c.vcodec || info.AudioCodec != c.acodec || info.Width != 320 || info.Height != 240 {
				t.Errorf("info %+v", info)
			}
			if info.Duration < 3900*time.Millisecond || info.Duration > 4100*time.Millisecond {
				t.Errorf("duration %v, want 4s", info.Duration)
			}
			d := decodeAll(t, m)
			if len(d.videoPTS) != 100 {
				t.Errorf("%d video frames, want 100", len(d.videoPTS))
			}
			for i := range d.videoPTS {
				if i > 0 && d.videoPTS[i] <= d.videoPTS[i-1] {
					t.Fatalf("frame %d at %v, not after frame %d at %v", i, d.videoPTS[i], i-1, d.videoPTS[i-1])
				}
				// From the container's start: a stream may start a few ms
				// after it (WebM: Opus pre-skip puts sound at −7 ms).
				if want := d.videoPTS[0] + time.Duration(i)*40*time.Millisecond; d.videoPTS[0].Abs() > 20*time.Millisecond || (d.videoPTS[i]-want).Abs() > 2*time.Millisecond {
					t.Errorf("frame %d at %v, want %v", i, d.videoPTS[i], want)
				}
				if i >= 10 && i != 50 && math.Abs(d.index[i]-float64(i)) > 3 {
					t.Errorf("frame %d shows index %.1f", i, d.index[i])
				}
			}
			if d.flashAt-d.videoPTS[0] != 2*time.Second {
				t.Errorf("white flash at %v, want 2s after the first frame (%v)", d.flashAt, d.videoPTS[0])
			}
			t.Logf("first audio at %v, beep in PCM at %v", d.audioPTS, beepAt(d.audio, 44100))
			audioLen := time.Duration(len(d.audio)) * time.Second / 44100
			if (audioLen-4*time.Second).Abs() > 60*time.Millisecond || d.audioPTS.Abs() > 30*time.Millisecond {
				t.Errorf("audio from %v, %v long; want 4s from 0", d.audioPTS, audioLen)
			}
			if b := d.audioPTS + beepAt(d.audio, 44100); (b - d.flashAt).Abs() > 20*time.Millisecond {
				t.Errorf("beep at %v, want within 20 ms of the flash (%v)", b, d.flashAt)
			}

			// Seek: key frame at 3 s (one per second), decode to 3 s.
			if err := m.Seek(3 * time.Second); err != nil {
				t.Fatal(err)
			}
			var firstVideo, firstAudio *Frame
			for firstVideo == nil || firstAudio == nil {
				f, err := m.Next()
				if err != nil {
					t.Fatalf("after seek: %v", err)
				}
				f.Data = nil
				switch {
				case f.Kind == Video && firstVideo == nil:
					idx, _ := frameIndex(mustPeek(m, f))
					if math.Abs(idx-75) > 3 {
						t.Errorf("first frame after seeking to 3s shows index %.1f, want 75", idx)
					}
					firstVideo = &f
				case f.Kind == Audio && firstAudio == nil:
					firstAudio = &f
				}
			}
			if (firstVideo.PTS - 3*time.Second).Abs() > 20*time.Millisecond {
				t.Errorf("first frame after seeking to 3s is at %v", firstVideo.PTS)
			}
			if (firstAudio.PTS - 3*time.Second).Abs() > 5*time.Millisecond {
				t.Errorf("first audio after seeking to 3s is at %v", firstAudio.PTS)
			}
		})
	}
}

// mustPeek gives back the frame's pixels (the RGBA buffer is the Media's).
func mustPeek(m *Media, f Frame) Frame {
	f.Data = unsafeRGBA(m)
	return f
}

// TestAudioTitles decodes AAC (.m4a) and Opus (.opus) audio titles: no
// video, 4 s of sound, the beep at 2 s.
func TestAudioTitles(t *testing.T) {
	for _, c := range []struct{ name, codec string }{{"beep.m4a", "aac"}, {"beep.opus", "opus"}} {
		t.Run(c.name, func(t *testing.T) {
			data := clip(t, c.name)
			m, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), Options{SampleRate: 48000})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if i := m.Info(); i.AudioCodec != c.codec || i.VideoCodec != "" {
				t.Errorf("info %+v", i)
			}
			d := decodeAll(t, m)
			n := time.Duration(len(d.audio)) * time.Second / 48000
			if (n-4*time.Second).Abs() > 60*time.Millisecond || len(d.videoPTS) != 0 {
				t.Errorf("%v of audio, %d video frames", n, len(d.videoPTS))
			}
			if b := d.audioPTS + beepAt(d.audio, 48000); (b - 2*time.Second).Abs() > 10*time.Millisecond {
				t.Errorf("beep at %v, want 2s", b)
			}
		})
	}
}

// TestWhileDownloading plays a clip whose bytes arrive while it is decoded:
// reads wait, and every frame still comes out; Close ends a read that waits.
func TestWhileDownloading(t *testing.T) {
	data := clip(t, "h264-aac.mp4")
	first := newDownloading(data, 8<<10)
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		// 2 KiB more each time the decoder waits, so it waits however fast
		// or slow the machine is (a feeder on a timer outran a busy decoder).
		defer close(fed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				if first.waiting() {
					first.arrive(2 << 10)
				}
			}
		}
	}()
	dl := first
	m, err := Open(context.Background(), dl, int64(len(data)), Options{Width: 64, Height: 48})
	if err != nil {
		t.Fatal(err)
	}
	d := decodeAll(t, m)
	close(stop)
	<-fed
	m.Close()
	if waits := first.waitCount(); len(d.videoPTS) != 100 || waits == 0 {
		t.Errorf("%d frames, %d waits for data", len(d.videoPTS), waits)
	}

	// A download that stalls: Close (after closing the reader, as the
	// player closes its media) ends the wait with an error.
	dl = newDownloading(data, len(data)/2)
	m, err = Open(context.Background(), dl, int64(len(data)), Options{Width: 64, Height: 48})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := m.Next(); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("decoding ended before the data: %v", err)
	default:
	}
	dl.Close()
	select {
	case err := <-errc:
		t.Logf("stalled read ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled read did not end on close")
	}
	m.Close()
}

// TestRefusesOthers: formats and codecs outside the list are refused.
func TestRefusesOthers(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("skipping: ffmpeg not installed")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"mpeg4.mp4", []string{"-f", "lavfi", "-i", "testsrc=d=1:s=64x48", "-c:v", "mpeg4"}},
		{"tone.wav", []string{"-f", "lavfi", "-i", "sine=d=1"}},
		{"flv.flv", []string{"-f", "lavfi", "-i", "testsrc=d=1:s=64x48", "-c:v", "flv"}},
	} {
		path := filepath.Join(dir, c.name)
		args := append([]string{"-v", "error", "-y"}, append(c.args, path)...)
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, out)
		}
		data, _ := os.ReadFile(path)
		m, err := Open(context.Background(), bytes.NewReader(data), int64(len(data)), Options{})
		if err == nil {
			m.Close()
			t.Errorf("%s opened", c.name)
			continue
		}
		t.Logf("%s: %v", c.name, err)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v does not match ErrUnsupported", c.name, err)
		}
	}
}
