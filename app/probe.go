package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"fyne.io/fyne/v2"
)

// ProbeEnv names the environment variable that turns the UI probe on: a
// file path to which Serve writes, when it ends, how long no-op callbacks
// posted every 10 ms with fyne.Do waited for the UI goroutine. Under the
// real (GLFW) driver that wait includes drawing frames and every other
// callback, so its maximum is the longest the UI was unresponsive.
const ProbeEnv = "KITH_UI_PROBE"

// ProbeResult is what the probe writes (JSON).
type ProbeResult struct {
	Samples  int     `json:"samples"`
	MaxMS    float64 `json:"max_ms"`
	P99MS    float64 `json:"p99_ms"`
	P50MS    float64 `json:"p50_ms"`
	Over100  int     `json:"over_100ms"`
	Seconds  float64 `json:"seconds"`
	Callback float64 `json:"max_callback_ms"` // longest callback of ours (Stats.MaxRun)
	// SteadyMaxMS and SteadyOver100 count only waits from 1 s after the
	// library was first shown: steady use, without start-up's first frames.
	SteadyMaxMS   float64 `json:"steady_max_ms"`
	SteadyP99MS   float64 `json:"steady_p99_ms"`
	SteadyOver100 int     `json:"steady_over_100ms"`
	// VideoSamples, VideoP99MS and VideoMaxMS count only waits queued
	// while a video played (the video view shown and fed).
	VideoSamples int     `json:"video_samples"`
	VideoP99MS   float64 `json:"video_p99_ms"`
	VideoMaxMS   float64 `json:"video_max_ms"`
}

func (u *UI) probe(ctx context.Context, file string) {
	var mu sync.Mutex
	var waits, steady, video []time.Duration
	start := time.Now()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			mu.Lock()
			r := summarize(waits, time.Since(start))
			st := summarize(steady, 0)
			vt := summarize(video, 0)
			mu.Unlock()
			r.SteadyMaxMS, r.SteadyP99MS, r.SteadyOver100 = st.MaxMS, st.P99MS, st.Over100
			r.VideoSamples, r.VideoP99MS, r.VideoMaxMS = vt.Samples, vt.P99MS, vt.MaxMS
			r.Callback = float64(u.stats.Snapshot().MaxRun.Microseconds()) / 1000
			b, _ := json.MarshalIndent(r, "", "  ")
			if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
				u.log.Warn("writing the UI probe", "err", err)
			}
			return
		case <-t.C:
		}
		queued := time.Now()
		playing := u.videoPlaying.Load()
		fyne.Do(func() {
			d := time.Since(queued)
			settled := !u.libShownAt.IsZero() && queued.After(u.libShownAt.Add(time.Second))
			mu.Lock()
			waits = append(waits, d)
			if settled {
				steady = append(steady, d)
			}
			if playing {
				video = append(video, d)
			}
			mu.Unlock()
		})
	}
}

func summarize(waits []time.Duration, total time.Duration) ProbeResult {
	r := ProbeResult{Samples: len(waits), Seconds: total.Seconds()}
	if len(waits) == 0 {
		return r
	}
	s := slices.Clone(waits)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.MaxMS, r.P99MS, r.P50MS = ms(s[len(s)-1]), ms(s[len(s)*99/100]), ms(s[len(s)/2])
	for _, d := range s {
		if d > 100*time.Millisecond {
			r.Over100++
		}
	}
	return r
}

// String is a one-line summary.
func (r ProbeResult) String() string {
	return fmt.Sprintf("%d samples over %.1f s: fyne.Do wait p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d over 100 ms; "+
		"steady (from 1 s after the library showed): p99 %.1f ms, max %.1f ms, %d over 100 ms; longest callback %.1f ms; "+
		"while a video played: %d samples, p99 %.1f ms, max %.1f ms",
		r.Samples, r.Seconds, r.P50MS, r.P99MS, r.MaxMS, r.Over100, r.SteadyP99MS, r.SteadyMaxMS, r.SteadyOver100, r.Callback,
		r.VideoSamples, r.VideoP99MS, r.VideoMaxMS)
}
