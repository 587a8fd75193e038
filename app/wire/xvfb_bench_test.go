package wire

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/app"
)

// BenchmarkBinaryUnderXvfb runs the real kith binary (GLFW driver) under
// Xvfb on a data folder with a 10,000-title library and four 64 MiB
// downloads left unfinished by a previous run, which it resumes at start.
// It reports the time from exec to the library list shown with 10,000
// titles, and what the UI probe (app.ProbeEnv) measured while the four
// downloads ran: how long fyne.Do callbacks waited for the UI goroutine.
// Targets: ≤ 1.5 s to the library; no wait over 100 ms.
//
//	go test -tags migrated_fynedo,libsqlite3 -run '^$' -bench BinaryUnderXvfb -benchtime 1x ./app/wire
func BenchmarkBinaryUnderXvfb(b *testing.B) {
	for _, tool := range []string{"Xvfb", "xwininfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed: %v", tool, err)
		}
	}
	ctx := context.Background()
	tmp := b.TempDir()
	bin := filepath.Join(tmp, "kith")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo,libsqlite3", "-o", bin, ".")
	build.Dir = moduleRoot(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kith: %v\n%s", err, out)
	}
	display := startXvfb(b)
	for b.Loop() {
		b.StopTimer()
		data := seeded(b)
		publishBig(b, data, 4, 64<<20)
		// A previous run bought the four titles and stopped mid-download.
		k, stop := startKith(b, ctx, data)
		ts, _, err := k.Backend.Catalog.Titles(ctx, "Big Title", 1, 10)
		if err != nil || len(ts) != 4 {
			b.Fatalf("big titles: %d, %v", len(ts), err)
		}
		for _, t := range ts {
			if _, err := k.Backend.Catalog.Buy(ctx, t, nil); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, "the manifests of the big titles", 30*time.Second, func() bool {
			items, _ := k.Backend.Library.Items(ctx)
			return len(items) == 10_004
		})
		stop()

		home := filepath.Join(tmp, "home")
		os.MkdirAll(filepath.Join(home, "run"), 0o700)
		probe := filepath.Join(tmp, "probe.json")
		logPath := filepath.Join(tmp, "kith.log")
		logf, err := os.Create(logPath)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "--data", data, "--no-lan", "--household", "127.0.0.1:0", "--view", app.ViewLibrary)
		cmd.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_RUNTIME_DIR="+filepath.Join(home, "run"),
			"LANG=en_US.UTF-8", "XDG_CONFIG_HOME="+filepath.Join(home, "config"), app.ProbeEnv+"="+probe)
		cmd.Stdout, cmd.Stderr = logf, logf
		b.StartTimer()
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		killed := false
		b.Cleanup(func() { // also when b.Fatal stops the loop
			if !killed {
				cmd.Process.Kill()
				<-exited
			}
		})
		var shown time.Duration
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, _ := os.ReadFile(logPath)
			s := string(out)
			if shown == 0 && strings.Contains(s, `msg="library shown" titles=10004`) {
				shown = time.Since(t0)
			}
			if shown > 0 && strings.Count(s, `msg="download finished"`) >= 4 && strings.Count(s, `msg="resuming download"`) == 4 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("library not shown or downloads not finished in 60 s:\n%s", tail(s, 3000))
			}
			time.Sleep(20 * time.Millisecond)
		}
		total := time.Since(t0)
		b.StopTimer()
		cmd.Process.Signal(syscall.SIGTERM)
		killed = true
		select {
		case err := <-exited:
			if err != nil {
				b.Errorf("kith exited with %v", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			b.Error("kith still running 20 s after SIGTERM")
			<-exited
		}
		logf.Close()
		raw, err := os.ReadFile(probe)
		if err != nil {
			b.Fatalf("no probe results: %v", err)
		}
		var r app.ProbeResult
		if err := json.Unmarshal(raw, &r); err != nil {
			b.Fatal(err)
		}
		out, _ := os.ReadFile(logPath)
		b.Logf("resumed %d downloads; %s", strings.Count(string(out), `msg="resuming download"`), r)
		idle := idleProbe(b, bin, cmd.Env, data, filepath.Join(tmp, "idle.json"))
		b.Logf("idle baseline, same library, no downloads: %s", idle)
		b.ReportMetric(idle.MaxMS, "ms-max-wait-idle")
		b.ReportMetric(idle.P99MS, "ms-p99-wait-idle")
		b.ReportMetric(float64(shown.Microseconds())/1000, "ms-to-library-10k")
		b.ReportMetric(total.Seconds(), "s-until-4-downloads-done")
		b.ReportMetric(r.MaxMS, "ms-max-fyne.Do-wait")
		b.ReportMetric(r.P99MS, "ms-p99-fyne.Do-wait")
		b.ReportMetric(float64(r.Over100), "waits-over-100ms")
		b.ReportMetric(r.SteadyMaxMS, "ms-max-wait-steady")
		b.ReportMetric(float64(r.SteadyOver100), "steady-waits-over-100ms")
		b.StartTimer()
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// idleProbe runs kith on data for 6 s with nothing downloading and returns
// what the UI probe measured: the baseline of frame drawing under Xvfb.
func idleProbe(b *testing.B, bin string, env []string, data, file string) app.ProbeResult {
	b.Helper()
	env = append(slicesWithout(env, app.ProbeEnv+"="), app.ProbeEnv+"="+file)
	cmd := exec.Command(bin, "--data", data, "--no-lan", "--household", "127.0.0.1:0", "--view", app.ViewLibrary)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatalf("no idle probe results: %v", err)
	}
	var r app.ProbeResult
	if err := json.Unmarshal(raw, &r); err != nil {
		b.Fatal(err)
	}
	return r
}

func slicesWithout(env []string, prefix string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}
