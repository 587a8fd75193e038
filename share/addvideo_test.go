package share

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A video added from a device is published with its length and display
// size, and another device of the household lists both.
func TestAddVideoCarriesResolution(t *testing.T) {
	ctx := context.Background()
	d := startPublishingDirectory(t, nil)
	a := startNode(t, d, "home", nil)
	b := startNode(t, d, "home", nil)
	clip := filepath.Join(t.TempDir(), "Harbour Timelapse.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=426x240:r=25:d=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg (scripts/deps.sh test installs it): %v\n%s", err, out)
	}
	ad, err := a.AddFile(ctx, clip, AddOptions{})
	if err != nil {
		t.Fatalf("AddFile: %v", err)
	}
	if ti := ad.Title; ti.MediaType != "video/mp4" || ti.Width != 426 || ti.Height != 240 || ti.DurationMS < 1900 || ti.DurationMS > 2100 {
		t.Errorf("added %s %d×%d %d ms, want video/mp4 426×240 2000 ms", ti.MediaType, ti.Width, ti.Height, ti.DurationMS)
	}
	// The adding device's library keeps them for its Library view.
	held, err := a.Library().HeldContent(ctx)
	if err != nil || len(held) != 1 || len(held[0].Titles) != 1 {
		t.Fatalf("held %+v, %v", held, err)
	}
	if lt := held[0].Titles[0]; lt.Width != 426 || lt.Height != 240 || lt.Duration < 1900*time.Millisecond {
		t.Errorf("library keeps %d×%d %v", lt.Width, lt.Height, lt.Duration)
	}
	ts, n, err := b.dirClient().Titles(ctx, "harbour", 1, 10)
	if err != nil || n != 1 || ts[0].Width != 426 || ts[0].Height != 240 {
		t.Fatalf("household device lists %+v (%d), %v", ts, n, err)
	}
}
