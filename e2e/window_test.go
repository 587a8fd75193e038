package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/app"
	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/internal/pulsetest"
)

// machine is one computer of the driven household: a network namespace
// with its own Xvfb display, its own PulseAudio null sink and a real kith
// process, driven with synthetic mouse and keyboard events (xdotool) and
// read through kith's inspector socket (app.InspectEnv).
type machine struct {
	t         *testing.T
	name      string // also the device name kith shows to others
	host      netns.Host
	display   string
	pulse     *pulsetest.Server
	sock      string // the inspector socket
	proc      *proc
	shots     string // the screenshots folder
	step      *int   // shared step counter, for screenshot names
	inspector *app.InspectClient
	win       string // the X window ID of the Kith window
}

// requireDesktop skips the test when the programs a driven window needs
// are missing.
func requireDesktop(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"Xvfb", "xdotool", "import", "xwininfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (scripts/deps.sh test installs xvfb, xdotool, imagemagick, x11-utils): %v", tool, err)
		}
	}
	if err := pulsetest.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// buildKith builds the desktop binary the way `make build` does.
func buildKith(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kith")
	cmd := exec.Command(goBinary(), "build", "-tags", "libsqlite3,migrated_fynedo", "-o", bin, ".")
	cmd.Dir = repoRoot(t)
	cmd.Env = goEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kith: %v\n%s", err, out)
	}
	return bin
}

func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// firstNetnsDisplay is where startXvfb's display numbers start: far above
// those Xvfb -displayfd picks on the host (from :0 up, app/wire's tests).
const firstNetnsDisplay = 100

// startXvfb starts a display inside h's namespace (X clients there reach it
// by its abstract socket, which is per namespace) and returns its name.
//
// Its number is claimed with X's lock file (/tmp/.X<n>-lock), not picked
// with -displayfd: -displayfd takes no lock and counts a number free when
// its abstract socket is, and abstract sockets are per network namespace,
// so a display in here got :0 while a test on the host had :0 too. Two
// servers of one number share /tmp/.X11-unix/X<n> (each unlinks and binds
// it) and /var/lib/xkb/server-<n>.xkm (each compiles its keymap into it and
// deletes it): the host's clients then failed "Failed to open display :0"
// or hung (TestScreenshots failed so beside this package's window tests).
// It listens on its abstract socket only (-nolisten unix): a client in
// another namespace finding no abstract socket of that number falls back
// to the file socket, which would reach this display from there. And it
// does not reset when its last client leaves (-noreset, as app/wire's).
func startXvfb(t *testing.T, h netns.Host) string {
	t.Helper()
displays:
	for n := firstNetnsDisplay; n < firstNetnsDisplay+200; n++ {
		display := fmt.Sprintf(":%d", n)
		var stderr bytes.Buffer
		x := h.Command(context.Background(), "Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-nolisten", "unix",
			"-noreset") // no reset when the last client leaves: a client connecting then fails
		x.Stderr = &stderr // read once it exited
		if err := x.Start(); err != nil {
			t.Fatalf("starting Xvfb: %v", err)
		}
		exited := make(chan struct{})
		go func() { x.Wait(); close(exited) }()
		stop := func() {
			x.Process.Signal(syscall.SIGTERM) // removes its lock file and socket
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				x.Process.Kill()
				<-exited
			}
		}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				msg := stderr.String()
				if strings.Contains(msg, "already active") || strings.Contains(msg, "Cannot establish any listening sockets") {
					continue displays // another server has this number
				}
				t.Fatalf("Xvfb %s in %s exited: %s", display, h.Name, msg)
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a client stuck on a display is not waited for
			err := h.Command(ctx, "xwininfo", "-display", display, "-root").Run()
			cancel()
			if err == nil {
				t.Cleanup(stop)
				return display
			}
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("Xvfb %s in %s not answering after 60 s: %s", display, h.Name, stderr.String())
			}
		}
	}
	t.Fatalf("no free display from :%d to :%d for Xvfb in %s", firstNetnsDisplay, firstNetnsDisplay+199, h.Name)
	return ""
}

// startMachine starts Xvfb, a PulseAudio null sink and kith on h.
func startMachine(t *testing.T, h netns.Host, name, bin, dir, shots string, step *int, args ...string) *machine {
	t.Helper()
	m := &machine{t: t, name: name, host: h, shots: shots, step: step}
	m.display = startXvfb(t, h)
	var err error
	if m.pulse, err = pulsetest.StartIn(filepath.Join(dir, name+"-home")); err != nil {
		t.Fatalf("%s: starting pulseaudio: %v", name, err)
	}
	t.Cleanup(m.pulse.Stop)
	m.sock = filepath.Join(dir, name+"-ui.sock")
	m.inspector = app.NewInspectClient(m.sock)
	env := []string{"DISPLAY=" + m.display, "LANG=en_US.UTF-8", "FYNE_SCALE=1", app.InspectEnv + "=" + m.sock,
		"XDG_CONFIG_HOME=" + filepath.Join(m.pulse.Dir, "config"), "XDG_DATA_HOME=" + filepath.Join(m.pulse.Dir, "data")}
	for k, v := range m.pulse.Env() { // HOME (with the .asoundrc routing ALSA to pulse), XDG_RUNTIME_DIR, PULSE_SERVER
		env = append(env, k+"="+v)
	}
	argv := append(env, bin, "--data", filepath.Join(dir, name+"-data"), "--name", name)
	m.proc = start(t, h, name, filepath.Join(dir, name+".log"), nil, "env", append(argv, args...)...)
	m.waitTree("its window", 60*time.Second, func(tr app.InspectTree) bool { return len(tr.Nodes) > 0 })
	out, err := m.cmd("xdotool", "search", "--onlyvisible", "--name", "^Kith$").Output()
	if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
		m.win = ids[0]
	} else {
		t.Fatalf("%s: no Kith window on %s: %v %s", name, m.display, err, out)
	}
	return m
}

// cmd runs an X client on the machine's display, inside its namespace.
func (m *machine) cmd(name string, args ...string) *exec.Cmd {
	c := m.host.Command(context.Background(), name, args...)
	c.Env = append(os.Environ(), "DISPLAY="+m.display)
	return c
}

// tree reads what the window shows now.
func (m *machine) tree() (app.InspectTree, error) { return m.inspector.Tree() }

// waitTree polls the window until ok holds, failing the test (with the
// window's texts and a screenshot) after timeout.
func (m *machine) waitTree(what string, timeout time.Duration, ok func(app.InspectTree) bool) app.InspectTree {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	var tr app.InspectTree
	var err error
	for {
		tr, err = m.tree()
		if err == nil && ok(tr) {
			return tr
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case e := <-m.proc.done:
			m.proc.done <- e
			m.t.Fatalf("%s: kith exited (%v) while waiting for %s", m.name, e, what)
		case <-time.After(150 * time.Millisecond):
		}
	}
	m.shot("failed")
	m.t.Fatalf("%s: no %s after %v (err %v); window shows %q", m.name, what, timeout, err, visibleTexts(tr))
	return tr
}

// waitText waits until a node of type typ (any type when "") shows text.
func (m *machine) waitText(typ, text string, timeout time.Duration) app.InspectNode {
	m.t.Helper()
	var n app.InspectNode
	m.waitTree(fmt.Sprintf("%s %q", typ, text), timeout, func(tr app.InspectTree) bool {
		var ok bool
		n, ok = find(tr, typ, text)
		return ok
	})
	return n
}

// find is the first node of type typ (any when "") whose text is text.
// Overlays (dialogs) come last in a tree, so it prefers them: a dialog
// covers what is behind it.
func find(tr app.InspectTree, typ, text string) (app.InspectNode, bool) {
	var got app.InspectNode
	ok := false
	for _, n := range tr.Nodes {
		if (typ == "" || n.Type == typ) && n.Text == text && (!ok || n.Overlay) {
			got, ok = n, true
		}
	}
	return got, ok
}

func visibleTexts(tr app.InspectTree) []string {
	var out []string
	for _, n := range tr.Nodes {
		if n.Type == "*canvas.Text" && n.Text != "" {
			out = append(out, n.Text)
		}
	}
	return out
}

// click moves the pointer to the middle of n and clicks the left button.
func (m *machine) click(n app.InspectNode) {
	m.t.Helper()
	if n.Disabled {
		m.t.Fatalf("%s: %s %q is disabled", m.name, n.Type, n.Text)
	}
	x, y := int((n.X+n.W/2)*m.scale()), int((n.Y+n.H/2)*m.scale())
	m.xdo("mousemove", "--window", m.win, fmt.Sprint(x), fmt.Sprint(y), "click", "1")
	time.Sleep(150 * time.Millisecond) // let the tap land before the next event
}

// clickText waits for an enabled node with text and clicks it (a button
// enables once the selection it needs has landed, later on a loaded
// machine).
func (m *machine) clickText(typ, text string) {
	m.t.Helper()
	var n app.InspectNode
	m.waitTree(fmt.Sprintf("an enabled %s %q", typ, text), 60*time.Second, func(tr app.InspectTree) bool {
		var ok bool
		n, ok = find(tr, typ, text)
		return ok && !n.Disabled
	})
	m.click(n)
}

// typeInto clicks the entry whose placeholder is hint and types s.
func (m *machine) typeInto(hint, s string) {
	m.t.Helper()
	var n app.InspectNode
	m.waitTree("an entry for "+hint, 60*time.Second, func(tr app.InspectTree) bool {
		for _, x := range tr.Nodes {
			if x.Hint == hint && (strings.HasSuffix(x.Type, "Entry") || strings.HasSuffix(x.Type, "dialogEntry")) {
				n = x
				return true
			}
		}
		return false
	})
	m.click(n)
	// Type only once the click has given it the focus: on a loaded machine
	// the keys would otherwise land in whatever had it before.
	m.waitTree("the focus in the entry for "+hint, 30*time.Second, func(tr app.InspectTree) bool {
		for _, x := range tr.Nodes {
			if x.Hint == hint && x.Focused {
				return true
			}
		}
		return false
	})
	m.typeText(s)
}

// typeText types s with the keyboard into whatever has the focus.
func (m *machine) typeText(s string) {
	m.t.Helper()
	m.xdo("type", "--delay", "15", s)
}

// key presses one key (xdotool names: Return, Escape, Tab).
func (m *machine) key(name string) {
	m.t.Helper()
	m.xdo("key", name)
	time.Sleep(150 * time.Millisecond)
}

func (m *machine) xdo(args ...string) {
	m.t.Helper()
	if out, err := m.cmd("xdotool", args...).CombinedOutput(); err != nil {
		m.t.Fatalf("%s: xdotool %s: %v %s", m.name, strings.Join(args, " "), err, out)
	}
}

func (m *machine) scale() float32 {
	tr, err := m.tree()
	if err != nil || tr.Scale <= 0 {
		return 1
	}
	return tr.Scale
}

// nav shows one of the main screens by clicking its name in the side bar.
func (m *machine) nav(title, view string) {
	m.t.Helper()
	var n app.InspectNode
	m.waitTree("the side bar", 60*time.Second, func(tr app.InspectTree) bool {
		ok := false
		for _, x := range tr.Nodes {
			if x.Type == "*widget.Label" && x.Text == title && !x.Overlay && (!ok || x.X < n.X) {
				n, ok = x, true
			}
		}
		return ok
	})
	m.click(n)
	m.waitTree("the "+view+" screen", 30*time.Second, func(tr app.InspectTree) bool { return tr.View == view })
}

// shot saves a screenshot of the display, named by the step.
func (m *machine) shot(step string) {
	m.t.Helper()
	time.Sleep(300 * time.Millisecond) // the last event's frame drawn
	if tr, err := m.tree(); err == nil {
		for _, o := range overflows(tr) {
			m.t.Errorf("%s, %s: text cut off: %s", m.name, step, o)
		}
	}
	*m.step++
	file := filepath.Join(m.shots, fmt.Sprintf("driven-%02d-%s-%s.png", *m.step, m.name, step))
	if out, err := m.cmd("import", "-window", "root", file).CombinedOutput(); err != nil {
		m.t.Errorf("%s: screenshot %s: %v %s", m.name, file, err, bytes.TrimSpace(out))
	}
}

// waitContains waits until a node of type typ (any when "") has a text
// containing s.
func (m *machine) waitContains(typ, s string, timeout time.Duration) app.InspectNode {
	m.t.Helper()
	var n app.InspectNode
	m.waitTree(fmt.Sprintf("%s containing %q", typ, s), timeout, func(tr app.InspectTree) bool {
		for _, x := range tr.Nodes {
			if (typ == "" || x.Type == typ) && strings.Contains(x.Text, s) {
				n = x
				return true
			}
		}
		return false
	})
	return n
}

// hasOverlay reports whether a dialog (or pop-up) is open.
func hasOverlay(tr app.InspectTree) bool {
	for _, n := range tr.Nodes {
		if n.Overlay {
			return true
		}
	}
	return false
}

// logHas checks that the machine's log has a line matching re (within
// 10 s: the log is written as things happen).
func (m *machine) logHas(what, re string) {
	m.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(m.proc.log)
		if rx.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: no %s in its log (want a line matching %s)", m.name, what, re)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// overflows lists the texts a person cannot read whole: drawn wider than
// the box they were given (running into the next column — a truncating
// label shortens its text instead), or cut at the side by a scroller that
// only scrolls up and down. Cut at the top or bottom is fine: scrolling
// shows it.
func overflows(tr app.InspectTree) []string {
	var out []string
	for _, n := range tr.Nodes {
		if n.Type != "*canvas.Text" || strings.TrimSpace(n.Text) == "" {
			continue
		}
		if n.Spill > 1 {
			out = append(out, fmt.Sprintf("%q at (%.0f,%.0f) runs %.0f past its widget's right edge", n.Text, n.X, n.Y, n.Spill))
		} else if n.CutX {
			out = append(out, fmt.Sprintf("%q at (%.0f,%.0f), %.0f wide, is cut at the side by its scroller", n.Text, n.X, n.Y, n.W))
		}
	}
	return out
}

// logLacks checks that the machine's log has no line matching re.
func (m *machine) logLacks(what, re string) {
	m.t.Helper()
	b, _ := os.ReadFile(m.proc.log)
	if l := regexp.MustCompile(`.*` + re + `.*`).Find(b); l != nil {
		m.t.Errorf("%s: %s in its log: %s", m.name, what, l)
	}
}
