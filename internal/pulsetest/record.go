package pulsetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RecordRate is the default sample rate of the sink and its recordings (two
// channels, 16-bit); Server.Rate is the one in use.
const RecordRate = 48000

// Recording is a running capture of the null sink's monitor.
type Recording struct {
	// Path is the WAV file being written.
	Path string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
	// keep plays silence into the sink while recording: an idle null sink
	// renders nothing, and its monitor would skip the silent stretches.
	keep *exec.Cmd
	// dataAt is the offset of the WAV data chunk, once seen.
	dataAt int64
	rate   int

	clockMu   sync.Mutex
	clockStop chan struct{}
	clockDone chan struct{}
	start     time.Time
	offset    float64 // max over observations of frames − rate·elapsed
	observed  bool
	first     time.Time // first observation
}

// Record starts capturing the sink's monitor into a WAV file at path. Call
// Stop to finish the file; the test's cleanup stops it otherwise.
func (s *Server) Record(t testing.TB, path string) *Recording {
	t.Helper()
	r, err := s.StartRecording(path)
	if err != nil {
		t.Fatalf("recording: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

// StartRecording is Record without a *testing.T.
func (s *Server) StartRecording(path string) (*Recording, error) {
	r := &Recording{Path: path, done: make(chan error, 1), rate: s.rate()}
	r.keep = exec.Command("pacat", "--playback", "--device="+SinkName, "--format=s16le",
		"--rate="+strconv.Itoa(s.rate()), "--channels=2", "--latency-msec=20", "/dev/zero")
	r.keep.Env = s.environ()
	if err := r.keep.Start(); err != nil {
		return nil, fmt.Errorf("starting pacat (silence): %w", err)
	}
	r.cmd = exec.Command("parecord", "--device="+SinkName+".monitor", "--file-format=wav",
		"--format=s16le", "--rate="+strconv.Itoa(s.rate()), "--channels=2", "--latency-msec=5", path)
	r.cmd.Env = s.environ()
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		r.stopKeep()
		return nil, fmt.Errorf("starting parecord: %w", err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	// Give parecord time to connect, so the first sound is not lost.
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-r.done:
		r.done <- err
		r.stopKeep()
		return nil, fmt.Errorf("parecord exited early: %v: %s", err, r.out.String())
	default:
	}
	r.start = time.Now()
	r.clockStop, r.clockDone = make(chan struct{}), make(chan struct{})
	go r.clock()
	// The clock needs the file to grow for a while before FrameAt is right.
	for deadline := time.Now().Add(5 * time.Second); ; {
		r.clockMu.Lock()
		ok := r.observed && time.Since(r.first) > 200*time.Millisecond
		r.clockMu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			_ = r.Stop()
			return nil, fmt.Errorf("parecord wrote nothing for 5 s: %s", r.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, nil
}

// clock watches the file grow (every 2 ms) to tie frames to wall time:
// frames are written after they were rendered, never before, so the
// largest frames − rate·elapsed seen is the closest to the sink's own line.
//
// The instant paired with a count is read after the count, never before:
// a count paired with an earlier instant seems ahead of the sink by the
// time between them, and the largest such error stays in the offset for
// the whole recording. The ticker's own time is such an earlier instant (a
// tick is received late when the goroutine waits for a CPU): on the shared
// 2-core machine one tick received 57–226 ms late made every recorded
// sound seem that much earlier than it was heard (TestPulseAVSync's beeps
// 56–236 ms before their flashes, the same within a run).
func (r *Recording) clock() {
	defer close(r.clockDone)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.clockStop:
			return
		case <-t.C:
			f := r.Frames()
			now := time.Now()
			if f == 0 {
				continue
			}
			off := float64(f) - now.Sub(r.start).Seconds()*float64(r.rate)
			r.clockMu.Lock()
			if !r.observed {
				r.first = now
			}
			if !r.observed || off > r.offset {
				r.offset, r.observed = off, true
			}
			r.clockMu.Unlock()
		}
	}
}

// FrameAt is the recording frame the sink was rendering at instant at
// (which may be later than the file's end when asked right away: the file
// trails the sink). It errs early by the least delay seen between the sink
// and the file, a few milliseconds.
func (r *Recording) FrameAt(at time.Time) int64 {
	r.clockMu.Lock()
	defer r.clockMu.Unlock()
	return int64(r.offset + at.Sub(r.start).Seconds()*float64(r.rate))
}

// TimeAt is the instant the sink rendered recording frame f (FrameAt's
// inverse).
func (r *Recording) TimeAt(f int64) time.Time {
	r.clockMu.Lock()
	defer r.clockMu.Unlock()
	return r.start.Add(time.Duration((float64(f) - r.offset) / float64(r.rate) * float64(time.Second)))
}

func (r *Recording) stopKeep() {
	if r.keep != nil && r.keep.Process != nil {
		_ = r.keep.Process.Kill()
		_ = r.keep.Wait()
		r.keep = nil
	}
}

// Frames is the number of frames written to the file so far. The file
// trails the sink by parecord's latency (5 ms asked), so a frame count
// taken at an instant marks a point at most that much before it: a delay
// measured from it errs on the long side.
func (r *Recording) Frames() int64 {
	f, err := os.Open(r.Path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	if r.dataAt == 0 {
		var h [512]byte
		n, _ := io.ReadFull(f, h[:])
		r.dataAt = dataOffset(h[:n])
		if r.dataAt == 0 {
			return 0
		}
	}
	return max(st.Size()-r.dataAt, 0) / 4
}

// dataOffset is where a WAV file's data chunk starts, or 0 if its header is
// not all there yet.
func dataOffset(h []byte) int64 {
	if len(h) < 12 || string(h[0:4]) != "RIFF" {
		return 0
	}
	for p := 12; p+8 <= len(h); {
		n := int(binary.LittleEndian.Uint32(h[p+4:]))
		if string(h[p:p+4]) == "data" {
			return int64(p + 8)
		}
		p += 8 + n + n&1
	}
	return 0
}

// Stop ends the capture (SIGINT, which makes parecord finish the WAV header)
// and waits for it.
func (r *Recording) Stop() error {
	if r.cmd == nil {
		return nil
	}
	close(r.clockStop)
	<-r.clockDone
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		err = <-r.done
	}
	r.cmd = nil
	r.stopKeep()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() <= 1 {
		err = nil // parecord exits 1 or by signal when interrupted
	}
	if err != nil && err.Error() == "signal: interrupt" {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("parecord: %w: %s", err, r.out.String())
	}
	return nil
}
