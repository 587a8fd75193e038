package pulsetest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RecordRate is the sample rate of recordings (two channels, 16-bit).
const RecordRate = 48000

// Recording is a running capture of the null sink's monitor.
type Recording struct {
	// Path is the WAV file being written.
	Path string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
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
	r := &Recording{Path: path, done: make(chan error, 1)}
	r.cmd = exec.Command("parecord", "--device="+SinkName+".monitor", "--file-format=wav",
		"--format=s16le", "--rate="+strconv.Itoa(RecordRate), "--channels=2", "--latency-msec=20", path)
	r.cmd.Env = s.environ()
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting parecord: %w", err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	// Give parecord time to connect, so the first sound is not lost.
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-r.done:
		r.done <- err
		return nil, fmt.Errorf("parecord exited early: %v: %s", err, r.out.String())
	default:
	}
	return r, nil
}

// Stop ends the capture (SIGINT, which makes parecord finish the WAV header)
// and waits for it.
func (r *Recording) Stop() error {
	if r.cmd == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		err = <-r.done
	}
	r.cmd = nil
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
