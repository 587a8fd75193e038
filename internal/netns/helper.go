package netns

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/syncbuf"
)

// Proc is a helper process running in a host (Host.Helper): the test
// binary re-executed in the helper mode its environment names.
type Proc struct {
	Name  string         // host/mode, for messages
	Cmd   *exec.Cmd      // the process
	Stdin io.WriteCloser // its standard input
	Lines chan string    // its standard output, line by line; closed at EOF

	killed   atomic.Bool
	waitOnce sync.Once
	waitErr  error
	stderr   syncbuf.Buffer
}

// StopWait is how long a helper has to exit after the SIGTERM of its
// test's cleanup before it is killed (and the test fails).
const StopWait = 30 * time.Second

// Helper runs this test binary (os.Args[0], running no test) in host h
// with env added to the environment (which names the helper mode; mode is
// only the name its messages give it). At cleanup it sends SIGTERM: the
// helper must then exit 0 within StopWait, unless the test killed it
// (Kill), and its standard error must hold no race report; that log is
// shown when the test failed, or when KITH_SHOWLOG is set.
func (h Host) Helper(t testing.TB, mode string, env ...string) *Proc {
	t.Helper()
	p := &Proc{Name: h.Name + "/" + mode, Lines: make(chan string, 1000)}
	p.Cmd = h.Command(context.Background(), os.Args[0], "-test.run=^$")
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stderr = &p.stderr
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.Stdin, err = p.Cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting helper %s: %v", p.Name, err)
	}
	go func() {
		defer close(p.Lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.Lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() { exited <- p.Wait() }()
		select {
		case err := <-exited:
			if err != nil && !p.killed.Load() {
				t.Errorf("helper %s did not stop cleanly on SIGTERM: %v", p.Name, err)
			}
		case <-time.After(StopWait):
			_ = p.Cmd.Process.Kill()
			<-exited
			t.Errorf("helper %s still running %v after SIGTERM", p.Name, StopWait)
		}
		if strings.Contains(p.Log(), "DATA RACE") {
			t.Errorf("race detector report in helper %s", p.Name)
		}
		if t.Failed() || os.Getenv("KITH_SHOWLOG") != "" {
			t.Logf("log of %s:\n%s", p.Name, p.Log())
		}
	})
	return p
}

// Log returns what the helper wrote to its standard error so far.
func (p *Proc) Log() string { return p.stderr.String() }

// Wait waits for the helper to exit, once, and returns its exit error
// every time.
func (p *Proc) Wait() error {
	p.waitOnce.Do(func() { p.waitErr = p.Cmd.Wait() })
	return p.waitErr
}

// Kill kills the helper on purpose: its cleanup then expects no clean
// exit.
func (p *Proc) Kill() error {
	p.killed.Store(true)
	return p.Cmd.Process.Kill()
}

// Line returns the rest of the first line the helper prints from now on
// that starts with prefix and a space and for which ok holds (any such
// line when ok is nil). The test fails if the helper exits first, or
// when timeout passes (its cleanup then shows the helper's log).
func (p *Proc) Line(t testing.TB, prefix string, timeout time.Duration, ok func(rest string) bool) string {
	t.Helper()
	deadline := time.After(timeout)
	last := ""
	for {
		select {
		case line, open := <-p.Lines:
			if !open {
				t.Fatalf("%s exited (%v) before printing the expected %q line; last: %s", p.Name, p.Wait(), prefix, last)
			}
			if rest, found := strings.CutPrefix(line, prefix+" "); found {
				last = rest
				if ok == nil || ok(rest) {
					return rest
				}
			}
		case <-deadline:
			t.Fatalf("%s: no matching %q line within %v; last: %s", p.Name, prefix, timeout, last)
		}
	}
}
