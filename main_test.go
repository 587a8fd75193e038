package main

import (
	"io"
	"strings"
	"testing"
	"time"
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
