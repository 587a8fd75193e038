package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelp: --help explains every subcommand with examples, and each
// subcommand's help lists its flags.
func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, want := range []string{"serve", "publish", "withdraw", "billing export --csv", "accounts", "Examples:", "KITH_DIRECTORY_DATA",
		"KITH_DIRECTORY_CPUPROFILE", "KITH_DIRECTORY_MEMPROFILE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	cases := []struct {
		cmd   string
		flags []string
	}{
		{"serve", []string{"-addr", "-data", "-name", "-webhook", "-webhook-secret-file", "-metrics-addr", "-metrics-token-file", "-rate-ip"}},
		{"publish", []string{"-title", "-artist", "-price", "-rights", "-media-type"}},
		{"withdraw", []string{"-data"}},
		{"billing", []string{"-csv"}},
		{"accounts", []string{"-json"}},
	}
	for _, c := range cases {
		out.Reset()
		if code := run(context.Background(), []string{"help", c.cmd}, &out, &out); code != 0 {
			t.Errorf("help %s exited %d", c.cmd, code)
		}
		for _, f := range c.flags {
			if !strings.Contains(out.String(), f) {
				t.Errorf("help %s lacks %s:\n%s", c.cmd, f, out.String())
			}
		}
	}
}

// TestUsageErrors: wrong invocations exit 2 with a message, not a panic.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		last string // the last line of the output says what was wrong
	}{
		{"no command", nil, 2, "KITH_DIRECTORY_LOG_LEVEL"},
		{"unknown command", []string{"frobnicate"}, 2, "KITH_DIRECTORY_LOG_LEVEL"},
		{"publish without file", []string{"publish", "--title", "x"}, 2, "name the files or folders to publish"},
		{"publish --title for a folder", []string{"publish", ".", "--title", "x"}, 2, "--title names a single file"},
		{"billing without --csv", []string{"billing", "export"}, 2, "billing export --csv"},
		{"withdraw without title", []string{"withdraw"}, 2, "name one title ID"},
		{"bad flag", []string{"serve", "--nope"}, 2, "flag provided but not defined: -nope"},
		{"webhook without secret", []string{"serve", "--data", "", "--webhook", "http://127.0.0.1:1"}, 1, "secret"},
		{"bad price", []string{"publish", "x.mp3", "--title", "t", "--price", "abc"}, 1, "price"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if code := run(context.Background(), c.args, &out, &out); code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, c.code, out.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, c.last) {
			t.Errorf("%s: last line %q, want it to mention %q", c.name, last, c.last)
		}
	}
}
