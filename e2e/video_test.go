package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/internal/pulsetest"
)

// TestKithctlPlayVideo (issue 17): a headless device publishes an MP4
// (H.264 + AAC, player/av's clips.sh: 100 frames at 25 fps) with `kithctl
// publish` and plays it to its end with `kithctl --json play`, into a
// PulseAudio null sink; the last line holds the video object a headless
// device is checked with (just before the stream's done line): frames_presented, frames_dropped and the A/V
// offset p50/p95/max on the audio clock.
func TestKithctlPlayVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds kithctl and kith-directory and plays a video (run without -short)")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skipf("skipping: ffmpeg not installed: %v", err)
	}
	pulse := pulsetest.Start(t) // the device plays into its null sink
	tmp := t.TempDir()
	kd, kc := buildBinaries(t)
	lan := netns.New(t, 2)
	dirHost, hA := lan.Hosts[0], lan.Hosts[1]

	clips := filepath.Join(tmp, "clips")
	if out, err := exec.Command("sh", filepath.Join(repoRoot(t), "player", "av", "testdata", "clips.sh"), clips).CombinedOutput(); err != nil {
		t.Fatalf("clips.sh: %v: %s", err, out)
	}
	video := filepath.Join(tmp, "Flash Clip.mp4")
	if err := os.Rename(filepath.Join(clips, "h264-aac.mp4"), video); err != nil {
		t.Fatal(err)
	}

	_, dirURL := startDirectory(t, dirHost, kd, filepath.Join(tmp, "directory"), filepath.Join(tmp, "directory.log"),
		"--name", "Video test directory", "--device-publish", "accounts", "--metrics-addr", metricsAddr)
	A := &device{t: t, name: "A", host: hA, data: filepath.Join(tmp, "A"), kithctl: kc, dirURL: dirURL}
	A.serve()
	A.signup("home", "home-password")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	pub := exec.CommandContext(ctx, kc, "--data", A.data, "publish", video)
	pub.Stdout, pub.Stderr = &out, &errb
	if err := pub.Run(); err != nil {
		t.Fatalf("kithctl publish: %v\n%s", err, errb.String())
	}
	var published struct{ ID, Name string }
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &published); err != nil || published.ID == "" {
		t.Fatalf("publish printed %q: %v", out.String(), err)
	}

	// Up to three plays: the frames presented in time (≥ 90 of 100) are
	// real time on a machine CI loads with every package at once, as in
	// player's TestPulseAVSync; the other checks fail the first play.
	var last string
	for attempt := 1; ; attempt++ {
		var presented int
		last, presented = playVideo(ctx, t, pulse, tmp, kc, A.data, published.ID, published.Name, attempt)
		if presented >= 90 {
			break
		}
		if attempt == 3 {
			t.Errorf("video line %s: %d of 100 frames presented in each of 3 plays, want ≥ 90", last, presented)
			break
		}
		t.Logf("play %d: %d of 100 frames presented (want ≥ 90); playing again: %s", attempt, presented, last)
	}
	t.Logf("kithctl --json play ended with: %s", last)
}

// playVideo plays id once with `kithctl --json play` into the null sink,
// checks the stream's end, the video object and the recording, and returns
// the last line and the frames presented.
func playVideo(ctx context.Context, t *testing.T, pulse *pulsetest.Server, tmp, kc, data, id, name string, attempt int) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rec := pulse.Record(t, filepath.Join(tmp, fmt.Sprintf("A-%d.wav", attempt)))
	play := exec.CommandContext(ctx, kc, "--data", data, "--json", "play", id)
	play.Stdout, play.Stderr = &out, &errb
	if err := play.Run(); err != nil {
		t.Fatalf("kithctl --json play: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	// The stream ends with {"done":true}; the line before it is the last
	// the player sent.
	ls := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(ls) < 2 || ls[len(ls)-1] != `{"done":true}` {
		t.Fatalf("kithctl --json play did not end with {\"done\":true}:\n%s", out.String())
	}
	last := ls[len(ls)-2]
	var got struct {
		Title string                     `json:"title"`
		Video map[string]json.RawMessage `json:"video"`
	}
	if err := json.Unmarshal([]byte(last), &got); err != nil || got.Video == nil {
		t.Fatalf("last line of kithctl --json play is %q (%v), want one with a video object; all lines:\n%s", last, err, out.String())
	}
	var st struct {
		Presented int     `json:"frames_presented"`
		Dropped   int     `json:"frames_dropped"`
		P50       float64 `json:"av_offset_p50_ms"`
		P95       float64 `json:"av_offset_p95_ms"`
		Max       float64 `json:"av_offset_max_ms"`
	}
	for _, k := range []string{"frames_presented", "frames_dropped", "av_offset_p50_ms", "av_offset_p95_ms", "av_offset_max_ms"} {
		if _, ok := got.Video[k]; !ok {
			t.Fatalf("the video object lacks %q: %s", k, last)
		}
	}
	if err := json.Unmarshal([]byte(last), &struct {
		Video any `json:"video"`
	}{Video: &st}); err != nil {
		t.Fatal(err)
	}
	if got.Title != name || st.Presented+st.Dropped != 100 || st.P50 > st.P95 || st.P95 > st.Max || st.Max <= 0 {
		t.Fatalf("video line %s: want the title %q and its 100 frames counted, p50 ≤ p95 ≤ max", last, name)
	}
	x, rate, err := pulsetest.ReadWAV(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	if on := pulsetest.FirstSound(x, rate, 0.05); on < 0 {
		t.Fatal("the null sink heard no beep while the video played")
	}
	return last, st.Presented
}
