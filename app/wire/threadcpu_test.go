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

// readThreadCPU reads /proc/pid/task/*/stat; a thread ended since is missing
// from the sum (its time is lost), so read it while the process runs.
func readThreadCPU(pid int) threadCPU {
	out := threadCPU{}
	dirs, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, d := range dirs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, d.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i || j+2 > len(s) {
			continue
		}
		f := strings.Fields(s[j+2:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		group := "other"
		switch {
		case d.Name() == strconv.Itoa(pid):
			group = "ui"
		case strings.HasPrefix(s[i+1:j], "llvmpipe"):
			group = "gl-raster"
		}
		out[group] += ut + st
	}
	return out
}

// msPer is the CPU each group used between a and b, in ms per n frames.
func (b threadCPU) msPer(a threadCPU, n int) map[string]float64 {
	out := map[string]float64{}
	for _, g := range []string{"ui", "gl-raster", "other"} {
		out[g] = float64(b[g]-a[g]) * 1000 / clockTick / float64(max(n, 1))
	}
	return out
}
