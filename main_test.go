package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fyneapp "fyne.io/fyne/v2/app"
)

// The app's settings come from one table: every flag is in the usage
// text, an environment variable sets a value, and a flag overrides it.
func TestSettings(t *testing.T) {
	t.Setenv("KITH_DATA", "/from/env")
	t.Setenv("KITH_HOUSEHOLD", "127.0.0.1:7450")
	c, err := parseFlags([]string{"--household", ":7444", "--lan-wait", "1s", "--view", "music"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.wire.DataDir != "/from/env" || c.wire.HouseholdAddr != ":7444" || c.wire.LANWait != time.Second ||
		c.view != "music" || c.wire.Listen != ":0" || c.logLevel != "info" {
		t.Errorf("config %+v", c)
	}
	var b strings.Builder
	if _, err := parseFlags([]string{"--help"}, &b); err == nil {
		t.Fatal("--help parsed")
	}
	for _, s := range settingsTable(&config{}) {
		if !strings.Contains(b.String(), "--"+s.Flag) {
			t.Errorf("usage lacks --%s:\n%s", s.Flag, b.String())
		}
	}
	for _, bad := range []struct{ dir, want string }{
		{"http://x:1#" + strings.Repeat("A", 56), "https"}, // in clear, unpinned
		{"https://x:1", "no fingerprint"},                  // unpinned
		{"https://x:1#AAAA", "kith-directory fingerprint"}, // cut short
	} {
		if _, err := parseFlags([]string{"--directory", bad.dir}, io.Discard); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("--directory %s: %v, want it to mention %q", bad.dir, err, bad.want)
		}
	}
	t.Setenv("KITH_NO_LAN", "maybe")
	if _, err := parseFlags(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "KITH_NO_LAN") {
		t.Errorf("a bad KITH_NO_LAN: %v", err)
	}
}

// Kith takes the stopped hooks out of Fyne's lifecycle and runs them itself
// after the window's loop (stopped.go): Fyne's loop, left to queue them as it
// ends, can panic (kith exited 2 on SIGTERM), hang or drop them. Checked on
// the real Fyne app (its real preferences file) in a child process, since a
// Fyne app that never runs its loop leaves its goroutines behind: this
// Fyne's lifecycle must still have the hooks where Kith takes them from (an
// upgrade that moved them would bring the race back unseen), nothing may be
// left for the loop to queue, and running what was taken must run the app's
// hook and write a preference set too soon after the one before to have
// been written yet.
func TestStoppedHooksTaken(t *testing.T) {
	if dir := os.Getenv("KITH_TEST_STOPPED_HOOKS"); dir != "" {
		stoppedHooksChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestStoppedHooksTaken$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "KITH_TEST_STOPPED_HOOKS="+dir, "XDG_CONFIG_HOME="+dir, "HOME="+dir)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "stopped hooks: ok") {
		t.Fatalf("child did not check the hooks:\n%s", b)
	}
}

// stoppedHooksChild is TestStoppedHooksTaken's child: it prints what is
// wrong and exits 1, or prints "stopped hooks: ok" and exits 0 (before the
// leak check, which would count Fyne's goroutines).
func stoppedHooksChild(dir string) {
	fail := func(format string, a ...any) {
		fmt.Printf(format+"\n", a...)
		os.Exit(1)
	}
	a := fyneapp.NewWithID(appID + ".test")
	ran := false
	a.Lifecycle().SetOnStopped(func() { ran = true })
	a.Preferences().SetFloat("window.width", 1000) // written at once
	a.Preferences().SetFloat("window.height", 700) // within Fyne's 100 ms: left for the stopped hook
	stopped := takeStoppedHooks(a)
	if stopped == nil {
		fail("no stopped hooks taken from %T: Fyne's loop still queues them", a.Lifecycle())
	}
	if left := a.Lifecycle().(interface{ OnStopped() func() }).OnStopped(); left != nil {
		fail("a stopped hook is left in the lifecycle for Fyne's loop to queue")
	}
	stopped()
	if !ran {
		fail("the app's own stopped hook did not run")
	}
	b, err := os.ReadFile(filepath.Join(dir, "fyne", appID+".test", "preferences.json"))
	if err != nil {
		fail("preferences: %v", err)
	}
	var prefs map[string]float64
	if err := json.Unmarshal(b, &prefs); err != nil || prefs["window.width"] != 1000 || prefs["window.height"] != 700 {
		fail("preferences written: %s (%v), want both the width and the height", b, err)
	}
	fmt.Println("stopped hooks: ok")
	os.Exit(0)
}
