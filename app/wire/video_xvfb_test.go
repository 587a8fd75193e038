package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/internal/pulsetest"
)

// The 720p clip of TestVideoUnderXvfb: 10 s at 30 fps.
const (
	xvfbClipSeconds = 10
	xvfbClipFPS     = 30
	xvfbClipFrames  = xvfbClipSeconds * xvfbClipFPS
)

// TestVideoUnderXvfb plays a 720p30 H.264 + AAC video, added through the
// own-media path the Music screen uses, in the real kith binary (GLFW
// driver) under Xvfb with a PulseAudio null sink, started with synthetic
// clicks (xdotool) in the library and checked through the inspector
// (app.InspectEnv): ≥ 99 % of the clip's frames are drawn by the painter
// in the video view (the inspector's count read back from a raster the
// painter generates with each frame), and the UI goroutine answers
// fyne.Do within 20 ms at p99 while the video plays (app.ProbeEnv: no-op
// callbacks every 10 ms, from submit to run; and the frame callbacks' own
// waits). A second run takes screenshots of the video view in the window
// and full screen (F; Escape leaves; a double click enters again) into
// KITH_SCREENSHOTS (make test: screenshots/).
//
//	go test -tags migrated_fynedo,libsqlite3 -run VideoUnderXvfb ./app/wire
func TestVideoUnderXvfb(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds kith and plays a 720p video under Xvfb (run without -short)")
	}
	for _, tool := range []string{"Xvfb", "import", "xdotool", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (scripts/deps.sh test installs xvfb, imagemagick, xdotool, ffmpeg): %v", tool, err)
		}
	}
	if err := pulsetest.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	ctx := context.Background()
	tmp := t.TempDir()
	shots := os.Getenv("KITH_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(tmp, "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "kith")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo,libsqlite3", "-o", bin, ".")
	build.Dir = moduleRoot(t)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kith: %v\n%s", err, b)
	}

	// A 720p30 clip: ffmpeg's test pattern (a frame counter and a moving
	// sweep) with a tone, tagged with its title.
	clip := filepath.Join(tmp, "Test Pattern.mp4")
	ff := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=1280x720:r=%d:d=%d", xvfbClipFPS, xvfbClipSeconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%d", xvfbClipSeconds),
		"-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart",
		"-metadata", "title=Test Pattern 720p", "-metadata", "artist=Kith Test Card", clip)
	if b, err := ff.CombinedOutput(); err != nil {
		t.Fatalf("making the 720p clip: %v\n%s", err, b)
	}

	// Sign up and add the clip as a person does from the Music screen.
	data := filepath.Join(tmp, "data")
	k, stop := startKith(t, ctx, data)
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "living-room"); err != nil {
		t.Fatal(err)
	}
	res, err := k.Backend.Media.Add(ctx, []string{clip}, func(app.AddProgress) {})
	if err != nil || res.Added != 1 {
		t.Fatalf("adding the clip: %+v, %v", res, err)
	}
	items, err := k.Backend.Library.Items(ctx)
	if err != nil {
		t.Fatal(err)
	}
	title := ""
	for _, it := range items {
		if strings.HasPrefix(it.MediaType, "video/") {
			title = it.Name
		}
	}
	stop()
	if title == "" {
		t.Fatalf("no video title in the library after adding the clip: %+v", items)
	}

	display, xpid := startXvfbPID(t)
	pulse := pulsetest.Start(t)
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DISPLAY="+display, "LANG=en_US.UTF-8", "FYNE_SCALE=1",
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	for k, v := range pulse.Env() { // HOME (ALSA routed to pulse), XDG_RUNTIME_DIR, PULSE_SERVER
		env = append(env, k+"="+v)
	}
	load := func() string {
		b, _ := os.ReadFile("/proc/loadavg")
		return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
	}

	// 1. The whole clip in the window at the priority the test runs with:
	// on a machine shared by many builds the UI goroutine waits for a CPU
	// (logged, not asserted).
	probe := filepath.Join(tmp, "probe-1.json")
	w := startWindow(t, bin, nil, append(env, app.ProbeEnv+"="+probe), data, filepath.Join(tmp, "kith-1.log"), display)
	vs := w.playToEnd(title, app.VideoStats{})
	w.stop()
	pr := readProbe(t, probe)
	t.Logf("1. normal priority, load %s: %s; %s; player: %s", load(), vs.Summary(xvfbClipFrames), pr, w.logLine("video presented"))

	// 2. The same as the only busy program of a desktop would run: kith,
	// its Xvfb and the sound server under SCHED_RR (the lowest real-time
	// priority), so the figures are the app's, not the other builds'.
	// Without the capability the figures are logged only.
	rt := []string{"chrt", "-r", "1"}
	rtErr := exec.Command("chrt", "-r", "-a", "-p", "1", fmt.Sprint(xpid)).Run()
	if rtErr == nil {
		rtErr = exec.Command("chrt", "-r", "-a", "-p", "1", fmt.Sprint(pulse.PID())).Run()
	}
	if rtErr != nil {
		rt = nil
	}
	probe = filepath.Join(tmp, "probe-2.json")
	w = startWindow(t, bin, rt, append(env, app.ProbeEnv+"="+probe), data, filepath.Join(tmp, "kith-2.log"), display)
	vs = w.playToEnd(title, app.VideoStats{})
	t.Logf("2. real-time priority (%v), load %s: %s", rtErr == nil, load(), vs.Summary(xvfbClipFrames))
	for _, l := range w.logLines("video frame dropped") {
		t.Logf("   %s", l)
	}
	if vs.Painted > vs.Shown || vs.Shown > vs.Received {
		t.Errorf("counts out of order: drawn %d, shown %d, received %d", vs.Painted, vs.Shown, vs.Received)
	}
	if vs.FrameWidth > vs.Width || vs.FrameHeight > vs.Height || (vs.FrameWidth != vs.Width && vs.FrameHeight != vs.Height) {
		t.Errorf("frames %dx%d do not fit the view's box %dx%d", vs.FrameWidth, vs.FrameHeight, vs.Width, vs.Height)
	}
	min99 := int64(xvfbClipFrames * 99 / 100)
	switch {
	case rtErr != nil:
		t.Logf("not asserting the frame and UI figures: no real-time priority for kith here (%v)", rtErr)
	case vs.Painted < min99:
		t.Errorf("%d of %d frames drawn, want ≥ %d (99 %%)", vs.Painted, xvfbClipFrames, min99)
	}

	w.stop()
	pr = readProbe(t, probe)
	t.Logf("2. UI probe: %s; player: %s", pr, w.logLine("video presented"))
	if rtErr == nil {
		if pr.VideoSamples < 500 {
			t.Errorf("the probe took %d samples while the video played, want ≥ 500 (every 10 ms for 10 s)", pr.VideoSamples)
		}
		if pr.VideoP99MS > 20 || vs.PresentP99MS > 20 {
			t.Errorf("UI callbacks waited p99 %.1f ms (probe) and %.1f ms (frames) while the video played, want ≤ 20 ms", pr.VideoP99MS, vs.PresentP99MS)
		}
	}

	// 3. Screenshots: the view in the window, full screen after a double
	// click, back on Escape, full screen again on F, back on Escape.
	w = startWindow(t, bin, rt, env, data, filepath.Join(tmp, "kith-3.log"), display)
	w.play(title)
	tr := w.waitTree("frames in the video view", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.View == app.ViewVideo && tr.Video != nil && tr.Video.Painted > 30
	})
	w.shot(filepath.Join(shots, "video-1-window.png"))
	w.doubleClick(tr.Video)
	full := w.waitTree("full screen after a double click", 10*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && tr.Video.FullScreen && tr.Video.Width >= 1200
	})
	before := full.Video.Painted
	w.waitTree("frames at the full-screen size", 10*time.Second, func(tr app.InspectTree) bool {
		return tr.Video.Painted > before+10 && (tr.Video.FrameWidth == full.Video.Width || tr.Video.FrameHeight == full.Video.Height)
	})
	w.shot(filepath.Join(shots, "video-2-full-screen.png"))
	w.key("Escape")
	w.waitTree("the window again after Escape", 10*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && !tr.Video.FullScreen && tr.View == app.ViewVideo
	})
	w.key("f")
	w.waitTree("full screen after F", 10*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && tr.Video.FullScreen
	})
	w.key("Escape")
	w.waitTree("the library after the video", 30*time.Second, func(tr app.InspectTree) bool { return tr.View == app.ViewLibrary })
	w.stop()
	t.Logf("screenshots: %s", filepath.Join(shots, "video-*.png"))
}

// readProbe reads what the UI probe wrote when kith ended.
func readProbe(t *testing.T, file string) app.ProbeResult {
	t.Helper()
	var pr app.ProbeResult
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the UI probe wrote nothing: %v", err)
	}
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	return pr
}

// playToEnd plays title from the library and waits until the video has
// ended (the library is shown again); it returns the view's counts of this
// play (since was the view's counts before it).
func (w *window) playToEnd(title string, since app.VideoStats) app.VideoStats {
	w.t.Helper()
	w.play(title)
	w.waitTree("the video view", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.View == app.ViewVideo && tr.Video != nil && tr.Video.Received > since.Received
	})
	tr := w.waitTree("the video to end", 40*time.Second, func(tr app.InspectTree) bool { return tr.View == app.ViewLibrary })
	vs := *tr.Video
	vs.Received -= since.Received
	vs.Shown -= since.Shown
	vs.Painted -= since.Painted
	vs.Replaced -= since.Replaced
	return vs
}

// window is a kith process under Xvfb, driven with xdotool and read
// through its inspector socket.
type window struct {
	t       *testing.T
	cmd     *exec.Cmd
	done    chan error
	log     string
	display string
	hc      *http.Client
}

// startWindow starts kith (under the command prefix, e.g. chrt) showing
// the library.
func startWindow(t *testing.T, bin string, prefix, env []string, data, logPath, display string) *window {
	t.Helper()
	sock := filepath.Join(filepath.Dir(logPath), strings.TrimSuffix(filepath.Base(logPath), ".log")+".sock")
	w := &window{t: t, log: logPath, display: display, done: make(chan error, 1)}
	w.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	argv := append(append(append([]string(nil), prefix...), bin), "--data", data, "--no-lan", "--household", "127.0.0.1:0", "--name", "living-room", "--view", app.ViewLibrary, "--log-level", "debug")
	w.cmd = exec.Command(argv[0], argv[1:]...)
	w.cmd.Env = append(env, app.InspectEnv+"="+sock)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			<-w.done
		}
	})
	w.waitTree("its window", 60*time.Second, func(tr app.InspectTree) bool { return len(tr.Nodes) > 0 })
	return w
}

func (w *window) tree() (app.InspectTree, error) {
	var tr app.InspectTree
	resp, err := w.hc.Get("http://kith/tree")
	if err != nil {
		return tr, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return tr, fmt.Errorf("inspector: %s: %s", resp.Status, b)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&tr)
	return tr, err
}

// waitTree polls the window until ok holds.
func (w *window) waitTree(what string, timeout time.Duration, ok func(app.InspectTree) bool) app.InspectTree {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tr, err := w.tree()
		if err == nil && ok(tr) {
			return tr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(w.log)
			w.t.Fatalf("no %s after %v (inspector: %v; view %q, video %+v); log:\n%s", what, timeout, err, tr.View, tr.Video, tail(string(b), 3000))
		}
		select {
		case err := <-w.done:
			w.done <- err
			b, _ := os.ReadFile(w.log)
			w.t.Fatalf("kith exited (%v) while waiting for %s; log:\n%s", err, what, tail(string(b), 3000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// node finds a visible node of type typ showing text.
func node(tr app.InspectTree, typ, text string) (app.InspectNode, bool) {
	for _, n := range tr.Nodes {
		if n.Type == typ && n.Text == text && !n.Disabled {
			return n, true
		}
	}
	return app.InspectNode{}, false
}

func (w *window) xdo(args ...string) {
	w.t.Helper()
	c := exec.Command("xdotool", args...)
	c.Env = append(os.Environ(), "DISPLAY="+w.display)
	if b, err := c.CombinedOutput(); err != nil {
		w.t.Fatalf("xdotool %s: %v %s", strings.Join(args, " "), err, b)
	}
}

// clickAt clicks (count times) in the middle of a box given in canvas
// units (FYNE_SCALE=1: pixels).
func (w *window) clickAt(x, y, wd, ht float32, count int) {
	w.t.Helper()
	w.xdo("mousemove", fmt.Sprint(int(x+wd/2)), fmt.Sprint(int(y+ht/2)), "click", "--repeat", fmt.Sprint(count), "--delay", "80", "1")
	time.Sleep(200 * time.Millisecond)
}

// play selects title in the library and taps Play.
func (w *window) play(title string) {
	w.t.Helper()
	var n app.InspectNode
	w.waitTree("the title "+title, 30*time.Second, func(tr app.InspectTree) bool {
		var ok bool
		n, ok = node(tr, "*widget.Label", title)
		return ok
	})
	w.clickAt(n.X, n.Y, n.W, n.H, 1)
	w.waitTree("an enabled Play button", 10*time.Second, func(tr app.InspectTree) bool {
		var ok bool
		n, ok = node(tr, "*widget.Button", "Play")
		return ok
	})
	w.clickAt(n.X, n.Y, n.W, n.H, 1)
}

func (w *window) doubleClick(v *app.VideoStats) {
	w.t.Helper()
	tr, err := w.tree()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		if n.Type == "*app.videoView" {
			w.clickAt(n.X, n.Y, n.W, n.H, 2)
			return
		}
	}
	w.t.Fatalf("no video view in the window (video %+v)", v)
}

func (w *window) key(name string) {
	w.t.Helper()
	w.xdo("key", name)
	time.Sleep(200 * time.Millisecond)
}

func (w *window) shot(file string) {
	w.t.Helper()
	c := exec.Command("import", "-display", w.display, "-window", "root", file)
	if b, err := c.CombinedOutput(); err != nil {
		w.t.Errorf("screenshot %s: %v %s", file, err, b)
	}
}

// logLine is the last line of the log holding msg.
func (w *window) logLine(msg string) string {
	ls := w.logLines(msg)
	if len(ls) == 0 {
		return ""
	}
	return ls[len(ls)-1]
}

// logLines are the lines of the log holding msg.
func (w *window) logLines(msg string) []string {
	b, _ := os.ReadFile(w.log)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, msg) {
			out = append(out, l)
		}
	}
	return out
}

// stop ends kith with SIGTERM; it must exit cleanly.
func (w *window) stop() {
	w.t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		if err != nil {
			b, _ := os.ReadFile(w.log)
			w.t.Errorf("kith did not exit cleanly on SIGTERM: %v\n%s", err, tail(string(b), 3000))
		}
	case <-time.After(20 * time.Second):
		w.t.Errorf("kith still running 20 s after SIGTERM")
	}
}
