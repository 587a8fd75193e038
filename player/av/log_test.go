package av

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logChild is the child process of TestFFmpegLogGoesToSlog: a program that
// never calls SetLogger decodes a damaged title, with slog's default logger
// writing to stdout.
func logChild(file string) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn})))
	b, err := os.ReadFile(file)
	if err != nil {
		os.Stdout.WriteString("read: " + err.Error() + "\n")
		return 2
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	size, _ := strconv.Atoi(os.Getenv("KITH_AV_LOG_SIZE"))
	m, err := Open(ctx, bytes.NewReader(b), int64(size), Options{})
	if err != nil {
		os.Stdout.WriteString("open: " + err.Error() + "\n")
		return 0
	}
	defer m.Close()
	n := 0
	for ; n < 1000; n++ {
		if _, err := m.Next(); err != nil {
			os.Stdout.WriteString("next: " + err.Error() + "\n")
			break
		}
	}
	os.Stdout.WriteString("frames: " + itoa(n/10) + "\n")
	return 0
}

// FFmpeg's own log goes to slog in every program that decodes, not only in
// those that call SetLogger: a title cut short (as a stopped or damaged
// download reads) or damaged makes FFmpeg complain, and that must not reach stderr.
func TestFFmpegLogGoesToSlog(t *testing.T) {
	b := clip(t, "h264-aac.mp4")
	d := b[:len(b)*2/3] // a download stopped: the title's size is known, its end never came
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	if err := os.WriteFile(cut, d, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "KITH_AV_LOG_CHILD="+cut, "KITH_AV_LOG_SIZE="+strconv.Itoa(len(b)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
	}
	if strings.Contains(stderr.String(), "@ 0x") {
		t.Errorf("FFmpeg wrote to stderr:\n%s", &stderr)
	}
	if !strings.Contains(stdout.String(), "msg=ffmpeg") {
		t.Errorf("nothing from FFmpeg reached slog; stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}
	t.Logf("slog: %s", strings.TrimSpace(stdout.String()))
}
