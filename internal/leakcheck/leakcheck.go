// Package leakcheck fails a test binary whose tests leave goroutines
// running: call Main from TestMain.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Grace is how long goroutines get to finish after the last test.
const Grace = 30 * time.Second

// Main runs the tests and, when they pass, checks that every goroutine
// started during them has ended (waiting up to Grace); it exits with the
// tests' code, or 1 after printing the leftover goroutines. ignore lists
// substrings of stacks that are not leaks (a pool of idle connections).
func Main(m *testing.M, ignore ...string) { os.Exit(Run(m, ignore...)) }

// Run is Main for a TestMain with work to do after the tests (stopping a
// server it started): it returns the exit code instead of exiting.
func Run(m *testing.M, ignore ...string) int {
	before := ids(goroutines())
	return After(before, m.Run(), ignore...)
}

// After is the check Run makes, for a TestMain whose tests run inside
// another helper (pgtest.Main): before is Snapshot taken first, code the
// tests' exit code; it returns code, or 1 after printing the goroutines
// started since before that are still running.
func After(before map[string]bool, code int, ignore ...string) int {
	if code == 0 {
		if left := Leftover(before, Grace, ignore...); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutine(s) still running %v after the tests:\n\n%s\n",
				len(left), Grace, strings.Join(left, "\n\n"))
			code = 1
		}
	}
	return code
}

// Leftover waits up to grace for the goroutines not in before (and not
// matching ignore) to end, and returns the stacks of those that did not.
func Leftover(before map[string]bool, grace time.Duration, ignore ...string) []string {
	deadline := time.Now().Add(grace)
	for {
		var left []string
		for _, g := range goroutines() {
			if !before[id(g)] && !benign(g, ignore) {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Snapshot is the set of goroutines running now, for Leftover.
func Snapshot() map[string]bool { return ids(goroutines()) }

// benign: the test runner itself and the runtime's own goroutines.
func benign(g string, ignore []string) bool {
	for _, s := range append([]string{
		"testing.(*M).",
		"testing.tRunner",
		"testing.runTests",
		"runtime.goexit", // a goroutine with no frames left but the exit
		"os/signal.signal_recv",
		"leakcheck.goroutines",
		"runtime.ensureSigM",
		"created by runtime.gc",
		"runtime/trace",
	}, ignore...) {
		if strings.Contains(g, s) {
			if s == "runtime.goexit" && strings.Count(g, "\n") > 2 {
				continue // every goroutine ends in goexit: only a bare one is benign
			}
			return true
		}
	}
	return false
}

func goroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(strings.TrimSpace(string(buf)), "\n\n") {
		if g != "" {
			out = append(out, g)
		}
	}
	return out
}

// id is "goroutine 12" of a stack's first line.
func id(g string) string {
	line, _, _ := strings.Cut(g, "\n")
	f := strings.Fields(line)
	if len(f) < 2 {
		return line
	}
	return f[0] + " " + f[1]
}

func ids(gs []string) map[string]bool {
	m := make(map[string]bool, len(gs))
	for _, g := range gs {
		m[id(g)] = true
	}
	return m
}
