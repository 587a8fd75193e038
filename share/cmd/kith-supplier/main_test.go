package main

import (
	"context"
	"strings"
	"testing"
)

func TestRunRejectsBadArguments(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "--data and --directory are required"},                                              // nothing to do
		{"no directory", []string{"-data", dir}, "--directory is required"},                                   // data alone
		{"no data", []string{"-directory", "https://x:1#A"}, "--data DIR is required"},                        // directory alone
		{"directory without fingerprint", []string{"-data", dir, "-directory", "https://x:1"}, "fingerprint"}, // unpinned
		{"short fingerprint", []string{"-data", dir, "-directory", "https://x:1#AAAA"}, "kith-directory fingerprint"},
		{"plain http", []string{"-data", dir, "-directory", "http://x:1#AAAA"}, "https"},
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"}, // typo
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}
