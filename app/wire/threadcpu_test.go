package wire

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// threadCPU is the CPU time (user + system, in clock ticks) of a process's
// threads by group: "ui" (the main thread: Fyne's UI goroutine, GLFW and
// the GL calls it makes), "gl-raster" (Mesa llvmpipe's rasterizer threads,
// which shade the window's pixels without a GPU) and "other" (every other
// thread: the player's decoding and conversion, sound, storage).
type threadCPU map[string]int64

// clockTick is the kernel's USER_HZ: /proc times are in 1/100 s on Linux.
const clockTick = 100

// readThreadCPU reads /proc/pid/task/*/stat for "ui" and "gl-raster", and
// counts as "other" the rest of the process's time (/proc/pid/stat, which
// keeps the time of threads that have ended: the player decodes each video
// on a thread that ends with it). Read it while the process runs.
func readThreadCPU(pid int) threadCPU {
	out := threadCPU{}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if total, ok := statCPU(string(b)); ok {
			out["other"] = total
		}
	}
	dirs, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, d := range dirs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, d.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		group := ""
		switch {
		case d.Name() == strconv.Itoa(pid):
			group = "ui"
		case strings.HasPrefix(s[i+1:j], "llvmpipe"):
			group = "gl-raster"
		default:
			continue
		}
		if t, ok := statCPU(s); ok {
			out[group] += t
			out["other"] -= t
		}
	}
	return out
}

// statCPU is utime + stime of a /proc stat file's text, in clock ticks.
func statCPU(s string) (int64, bool) {
	j := strings.LastIndexByte(s, ')')
	if j < 0 || j+2 > len(s) {
		return 0, false
	}
	f := strings.Fields(s[j+2:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, true
}

// msPer is the CPU each group used between a and b, in ms per n frames.
func (b threadCPU) msPer(a threadCPU, n int) map[string]float64 {
	out := map[string]float64{}
	for _, g := range []string{"ui", "gl-raster", "other"} {
		out[g] = float64(b[g]-a[g]) * 1000 / clockTick / float64(max(n, 1))
	}
	return out
}
