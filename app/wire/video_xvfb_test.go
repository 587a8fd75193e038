package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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

// videoRig is a kith binary, a data folder holding a 720p30 clip added
// through the own-media path the Music screen uses, an Xvfb display and a
// PulseAudio null sink: what TestVideoUnderXvfb and
// BenchmarkVideoUnderXvfb play the clip in.
type videoRig struct {
	tmp, bin, data, title, display string
	env                            []string
	rt                             []string // command prefix for real-time priority; nil when not allowed
	rtErr                          error
}

func newVideoRig(tb testing.TB) *videoRig {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping: builds kith and plays a 720p video under Xvfb (run without -short)")
	}
	for _, tool := range []string{"Xvfb", "import", "xdotool", "ffmpeg", "chrt"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("skipping: %s not installed (scripts/deps.sh test installs xvfb, imagemagick, xdotool, ffmpeg): %v", tool, err)
		}
	}
	if err := pulsetest.Available(); err != nil {
		tb.Skipf("skipping: %v", err)
	}
	ctx := context.Background()
	r := &videoRig{tmp: tb.TempDir()}
	r.bin = filepath.Join(r.tmp, "kith")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo,libsqlite3", "-o", r.bin, ".")
	build.Dir = moduleRoot(tb)
	if b, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building kith: %v\n%s", err, b)
	}

	// A 720p30 clip: ffmpeg's test pattern (a frame counter and a moving
	// sweep) with a tone, tagged with its title.
	clip := filepath.Join(r.tmp, "Test Pattern.mp4")
	ff := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=1280x720:r=%d:d=%d", xvfbClipFPS, xvfbClipSeconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%d", xvfbClipSeconds),
		"-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart",
		"-metadata", "title=Test Pattern 720p", "-metadata", "artist=Kith Test Card", clip)
	if b, err := ff.CombinedOutput(); err != nil {
		tb.Fatalf("making the 720p clip: %v\n%s", err, b)
	}

	// Sign up and add the clip as a person does from the Music screen.
	r.data = filepath.Join(r.tmp, "data")
	k, stop := startKith(tb, ctx, r.data)
	if err := k.Backend.Session.SignUp(ctx, "household", "correct horse battery", "living-room"); err != nil {
		tb.Fatal(err)
	}
	res, err := k.Backend.Media.Add(ctx, []string{clip}, func(app.AddProgress) {})
	if err != nil || res.Added != 1 {
		tb.Fatalf("adding the clip: %+v, %v", res, err)
	}
	items, err := k.Backend.Library.Items(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range items {
		if strings.HasPrefix(it.MediaType, "video/") {
			r.title = it.Name
		}
	}
	stop()
	if r.title == "" {
		tb.Fatalf("no video title in the library after adding the clip: %+v", items)
	}

	display, xpid := startXvfbPID(tb)
	r.display = display
	pulse := pulsetest.Start(tb)
	home := filepath.Join(r.tmp, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		tb.Fatal(err)
	}
	r.env = append(os.Environ(), "DISPLAY="+display, "LANG=en_US.UTF-8", "FYNE_SCALE=1",
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	for k, v := range pulse.Env() { // HOME (ALSA routed to pulse), XDG_RUNTIME_DIR, PULSE_SERVER
		r.env = append(r.env, k+"="+v)
	}
	// The player as the only busy program of a desktop would run: kith,
	// its Xvfb and the sound server under SCHED_RR (the lowest real-time
	// priority), so the figures are the app's, not the other builds' on a
	// shared machine. Without the capability, at the test's own priority.
	r.rt = []string{"chrt", "-r", "1"}
	r.rtErr = exec.Command("chrt", "-r", "-a", "-p", "1", fmt.Sprint(xpid)).Run()
	if r.rtErr == nil {
		r.rtErr = exec.Command("chrt", "-r", "-a", "-p", "1", fmt.Sprint(pulse.PID())).Run()
	}
	if r.rtErr != nil {
		r.rt = nil
	}
	return r
}

// videoRun is what one play of the whole clip measured.
type videoRun struct {
	view   app.VideoStats  // the video view's counts
	probe  app.ProbeResult // the UI probe's waits
	player string          // the player's log line for the video
	drops  []string        // the player's log lines of dropped frames
	// cpu is kith's CPU per frame of the clip (ms) by thread group
	// (threadCPU), from the play's start to the library shown again.
	cpu map[string]float64
}

// measure starts kith (under prefix), plays the clip to its end in the
// window and stops kith.
func (r *videoRig) measure(tb testing.TB, name string, prefix []string) videoRun {
	tb.Helper()
	probe := filepath.Join(r.tmp, name+"-probe.json")
	w := startWindow(tb, r.bin, prefix, append(r.env, app.ProbeEnv+"="+probe), r.data, filepath.Join(r.tmp, name+".log"), r.display)
	cpu0 := readThreadCPU(w.cmd.Process.Pid)
	vr := videoRun{view: w.playToEnd(r.title, app.VideoStats{})}
	vr.cpu = readThreadCPU(w.cmd.Process.Pid).msPer(cpu0, xvfbClipFrames)
	w.stop()
	vr.probe = readProbe(tb, probe)
	vr.player = w.logLine("video presented")
	vr.drops = w.logLines("video frame dropped")
	return vr
}

func (vr videoRun) String() string {
	s := fmt.Sprintf("%s; UI probe: %s; kith CPU per frame: UI thread %.1f ms, llvmpipe %.1f ms, others %.1f ms; player: %s",
		vr.view.Summary(xvfbClipFrames), vr.probe, vr.cpu["ui"], vr.cpu["gl-raster"], vr.cpu["other"], vr.player)
	if len(vr.drops) > 0 {
		// With KITH_LOG_LEVEL=debug: which frames the presenter dropped as
		// late, and by how much (a clock that jumps drops at one instant).
		var d []string
		for _, l := range vr.drops {
			d = append(d, logField(l, "pts")+" late "+logField(l, "late"))
		}
		s += "; dropped (pts late): " + strings.Join(d, ", ")
	}
	return s
}

// logField is the value of key in a slog text line ("" if absent).
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// TestVideoUnderXvfb plays a 720p30 H.264 + AAC video, added through the
// own-media path the Music screen uses, in the real kith binary (GLFW
// driver) under Xvfb with a PulseAudio null sink, started with synthetic
// clicks (xdotool) in the library and checked through the inspector
// (app.InspectEnv): the video view shows itself, gets frames converted to
// its size, and the painter draws them (the inspector's count is read back
// from a raster the painter generates with each frame drawn); a double
// click and F show it full screen, where frames come at the screen's
// size, and Escape leaves. Screenshots of the view in the window and full
// screen go to KITH_SCREENSHOTS (make test: screenshots/) as video-*.png.
// How many frames are drawn and how long the UI goroutine waits are
// measured by BenchmarkVideoUnderXvfb (speed is not asserted in tests); this
// test logs its one play's figures.
//
//	go test -tags migrated_fynedo,libsqlite3 -run VideoUnderXvfb ./app/wire
func TestVideoUnderXvfb(t *testing.T) {
	r := newVideoRig(t)
	shots := os.Getenv("KITH_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(r.tmp, "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// 1. The whole clip in the window.
	vr := r.measure(t, "kith-1", r.rt)
	t.Logf("1. whole clip (real-time priority: %v), load %s: %s", r.rtErr == nil, loadAverage(), vr)
	vs := vr.view
	if vs.Painted == 0 || vs.Painted > vs.Shown || vs.Shown > vs.Received || vs.Received > xvfbClipFrames {
		t.Errorf("counts: drawn %d, shown %d, received %d of %d frames; want some drawn and each no more than the one before", vs.Painted, vs.Shown, vs.Received, xvfbClipFrames)
	}
	if vs.FrameWidth > vs.Width || vs.FrameHeight > vs.Height || (vs.FrameWidth != vs.Width && vs.FrameHeight != vs.Height) {
		t.Errorf("frames %dx%d do not fit the view's box %dx%d", vs.FrameWidth, vs.FrameHeight, vs.Width, vs.Height)
	}

	// 2. Screenshots: the view in the window, full screen after a double
	// click, back on Escape, full screen again on F, back on Escape. The
	// video is paused (Space) while nothing needs new frames, so a loaded
	// machine's slow screenshots do not reach its end.
	w := startWindow(t, r.bin, r.rt, r.env, r.data, filepath.Join(r.tmp, "kith-2.log"), r.display)
	w.play(r.title)
	tr := w.waitTree("frames in the video view", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.View == app.ViewVideo && tr.Video != nil && tr.Video.Painted > 20
	})
	w.key("space")
	w.shot(filepath.Join(shots, "video-1-window.png"))
	w.doubleClick(tr.Video)
	full := w.waitTree("full screen after a double click", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && tr.Video.FullScreen && tr.Video.Width >= 1200
	})
	w.key("space")
	before := full.Video.Painted
	w.waitTree("frames drawn at the full-screen size", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.Video.Painted > before+5 && (tr.Video.FrameWidth == full.Video.Width || tr.Video.FrameHeight == full.Video.Height)
	})
	w.key("space")
	w.shot(filepath.Join(shots, "video-2-full-screen.png"))
	w.key("Escape")
	w.waitTree("the window again after Escape", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && !tr.Video.FullScreen && tr.View == app.ViewVideo
	})
	w.key("f")
	w.waitTree("full screen after F", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && tr.Video.FullScreen
	})
	w.key("Escape")
	w.waitTree("the window after Escape", 30*time.Second, func(tr app.InspectTree) bool {
		return tr.Video != nil && !tr.Video.FullScreen
	})
	w.stop()
	t.Logf("screenshots: %s", filepath.Join(shots, "video-*.png"))
}

// BenchmarkVideoUnderXvfb plays the 720p30 clip of TestVideoUnderXvfb in
// the real window under Xvfb, twice per iteration: at the benchmark's own
// priority (on a shared machine, mostly a measure of the machine's load)
// and with kith, its Xvfb and the sound server at real-time priority (the
// app's own figures; issue 17 wants ≥ 99 % of frames presented and UI
// callbacks p99 ≤ 20 ms). drawn-% is the clip's frames the GL painter
// drew; ui-p99-ms the p99 of fyne.Do no-ops posted every 10 ms while the
// video played, from submit to run; frame-wait-p99-ms the same for the
// callbacks showing frames; normal-* the first play's. Where the time goes:
// kith's CPU per frame of the clip, by thread — ui-cpu-ms (the UI thread:
// Fyne walking the window and the GL calls, texture uploads included),
// raster-cpu-ms (Mesa llvmpipe's threads shading the window's pixels: under
// Xvfb Fyne's full repaint of the window for each frame is done on the CPU)
// and other-cpu-ms (decoding, conversion, sound, reading the title).
//
//	go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench VideoUnderXvfb -benchtime 1x ./app/wire
func BenchmarkVideoUnderXvfb(b *testing.B) {
	r := newVideoRig(b)
	if r.rtErr != nil {
		b.Logf("no real-time priority here (%v): both plays at the benchmark's priority", r.rtErr)
	}
	var normal, rt []videoRun
	for i := 0; b.Loop(); i++ {
		normal = append(normal, r.measure(b, fmt.Sprintf("normal-%d", i), nil))
		rt = append(rt, r.measure(b, fmt.Sprintf("rt-%d", i), r.rt))
		b.Logf("load %s; normal priority: %s", loadAverage(), normal[len(normal)-1])
		b.Logf("real-time priority: %s", rt[len(rt)-1])
	}
	report := func(prefix string, runs []videoRun) {
		var drawn, ui, fw, uic, rc, oc []float64
		for _, v := range runs {
			drawn = append(drawn, 100*float64(v.view.Painted)/xvfbClipFrames)
			ui = append(ui, v.probe.VideoP99MS)
			fw = append(fw, v.view.PresentP99MS)
			uic, rc, oc = append(uic, v.cpu["ui"]), append(rc, v.cpu["gl-raster"]), append(oc, v.cpu["other"])
		}
		b.ReportMetric(median(drawn), prefix+"drawn-%")
		b.ReportMetric(median(ui), prefix+"ui-p99-ms")
		b.ReportMetric(median(fw), prefix+"frame-wait-p99-ms")
		b.ReportMetric(median(uic), prefix+"ui-cpu-ms")
		b.ReportMetric(median(rc), prefix+"raster-cpu-ms")
		b.ReportMetric(median(oc), prefix+"other-cpu-ms")
	}
	report("", rt)
	report("normal-", normal)
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// readProbe reads what the UI probe wrote when kith ended.
func readProbe(t testing.TB, file string) app.ProbeResult {
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
	t         testing.TB
	cmd       *exec.Cmd
	done      chan error
	log       string
	display   string
	inspector *app.InspectClient
}

// startWindow starts kith (under the command prefix, e.g. chrt) showing
// the library.
func startWindow(t testing.TB, bin string, prefix, env []string, data, logPath, display string) *window {
	t.Helper()
	sock := filepath.Join(filepath.Dir(logPath), strings.TrimSuffix(filepath.Base(logPath), ".log")+".sock")
	w := &window{t: t, log: logPath, display: display, done: make(chan error, 1)}
	w.inspector = app.NewInspectClient(sock)
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

func (w *window) tree() (app.InspectTree, error) { return w.inspector.Tree() }

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
	w.waitTree("an enabled Play button", 30*time.Second, func(tr app.InspectTree) bool {
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
