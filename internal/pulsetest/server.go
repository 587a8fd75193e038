package pulsetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SinkName is the name of the null sink the server plays into; its monitor
// source is SinkName + ".monitor".
const SinkName = "kith"

// asoundrc routes ALSA's default device to PulseAudio (never to a null or file
// device): playback stays paced by the pulse null sink's real-time clock.
const asoundrc = "pcm.!default { type pulse }\nctl.!default { type pulse }\n"

// Server is a running private PulseAudio daemon.
type Server struct {
	// Dir is the temporary folder used as HOME; the runtime dir is Dir/run.
	Dir string
	// Socket is the path of the native protocol socket (PULSE_SERVER is "unix:"+Socket).
	Socket string
	// Rate is the null sink's sample rate, and the rate of its recordings.
	Rate      int
	pid       int
	removeDir bool
}

// ErrMissing reports that the pulseaudio or parecord programs are not installed.
var ErrMissing = errors.New("pulseaudio or parecord not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")

// Available reports whether the programs this package needs are installed.
func Available() error {
	for _, p := range []string{"pulseaudio", "parecord", "pactl"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%w: %v", ErrMissing, err)
		}
	}
	return nil
}

// Start starts a server in t.TempDir, sets HOME, XDG_RUNTIME_DIR and
// PULSE_SERVER with t.Setenv, and stops the server when the test ends. It skips
// the test with a clear message when pulseaudio is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	s, err := StartIn(t.TempDir())
	if err != nil {
		t.Fatalf("starting pulseaudio: %v", err)
	}
	t.Cleanup(s.Stop)
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
	return s
}

// StartMainRate is for TestMain, where no *testing.T exists: it starts a
// server with a null sink at rate (Hz) — so a test can play into a sink of
// its output's rate, with no resampling by the server — in a new temporary
// folder, and sets the environment of the whole process with os.Setenv.
// The caller must call Stop (which also removes the folder).
func StartMainRate(rate int) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pulsetest-")
	if err != nil {
		return nil, fmt.Errorf("making temp dir: %w", err)
	}
	s, err := startIn(dir, rate)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for k, v := range s.Env() {
		if err := os.Setenv(k, v); err != nil {
			s.Stop()
			return nil, fmt.Errorf("setting %s: %w", k, err)
		}
	}
	s.removeDir = true
	return s, nil
}

// StartIn starts a server using dir as HOME (dir/run as XDG_RUNTIME_DIR). It
// does not change the environment of the calling process; see Env.
func StartIn(dir string) (*Server, error) { return startIn(dir, RecordRate) }

func startIn(dir string, rate int) (*Server, error) {
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, fmt.Errorf("making runtime dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".asoundrc"), []byte(asoundrc), 0o600); err != nil {
		return nil, fmt.Errorf("writing .asoundrc: %w", err)
	}
	s := &Server{Dir: dir, Socket: filepath.Join(run, "pulse", "native"), Rate: rate}
	// Generous: on a loaded machine (make test runs every package at once)
	// the daemon and pactl can each take seconds to start.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
		"--use-pid-file=yes", "--load=module-native-protocol-unix",
		"--load=module-null-sink sink_name="+SinkName+" rate="+strconv.Itoa(rate)+" channels=2")
	cmd.Env = s.environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running pulseaudio: %w: %s", err, strings.TrimSpace(out.String()))
	}
	b, err := os.ReadFile(filepath.Join(run, "pulse", "pid"))
	if err != nil {
		return nil, fmt.Errorf("reading pulseaudio pid: %w", err)
	}
	s.pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("parsing pulseaudio pid %q: %w", b, err)
	}
	// Wait until the server answers (as long as ctx allows).
	for {
		c := exec.CommandContext(ctx, "pactl", "info")
		c.Env = s.environ()
		err := c.Run()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			s.Stop()
			return nil, fmt.Errorf("pulseaudio did not answer within 60 s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

// PID is the sound server's process ID.
func (s *Server) PID() int { return s.pid }

func (s *Server) rate() int {
	if s.Rate > 0 {
		return s.Rate
	}
	return RecordRate
}

// Env returns the variables that point a process at this server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"HOME":            s.Dir,
		"XDG_RUNTIME_DIR": filepath.Join(s.Dir, "run"),
		"PULSE_SERVER":    "unix:" + s.Socket,
	}
}

func (s *Server) environ() []string {
	env := os.Environ()
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	return env
}

// Stop ends the daemon (by its pid) and waits briefly for it to exit.
func (s *Server) Stop() {
	if s.pid > 0 {
		// pulseaudio --kill asks the daemon to exit; it may ignore SIGTERM
		// while busy, so SIGKILL follows if it is still there.
		c := exec.Command("pulseaudio", "--kill")
		c.Env = s.environ()
		_ = c.Run()
		if p, err := os.FindProcess(s.pid); err == nil {
			alive := func() bool { return p.Signal(syscall.Signal(0)) == nil }
			for i := 0; i < 50 && alive(); i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if alive() {
				_ = p.Signal(syscall.SIGKILL)
			}
		}
		s.pid = 0
	}
	if s.removeDir {
		os.RemoveAll(s.Dir)
	}
}
