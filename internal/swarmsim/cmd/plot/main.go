// Command plot draws origin bytes ÷ title size against crowd size N, for
// the real flash-crowd harness (BenchmarkFlashCrowd output, read from a
// file) and for the simulator (run now, old and new algorithm), as SVG:
//
//	go run ./internal/swarmsim/cmd/plot -bench docs/swarm-bench.txt > docs/swarm.svg
//
// Harness lines before a line "# new" are the old algorithm's, after it
// the new one's. The simulated crowds are 8 MiB titles, all arriving at
// once, with the harness's tuning (one origin request in flight; the old
// algorithm with its resupply rounds of 500 ms, the new one with the
// product's, as the harness now runs it); the new one's N = 10,000 took
// 25 s on the development machine (2026-12-04), the old algorithm runs up
// to -legacy-max (its origin traffic makes it slow).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kith-media/kith/internal/swarmsim"
)

type point struct{ n, x float64 }

type series struct {
	name, color string
	dash        bool
	pts         []point
}

func main() {
	bench := flag.String("bench", "docs/swarm-bench.txt", "BenchmarkFlashCrowd output (old, then \"# new\", then new)")
	ns := flag.String("n", "10,50,200,1000,10000", "simulated crowd sizes")
	seed := flag.Uint64("seed", 1, "simulator seed")
	cached := flag.String("cached", "", "cmd/swarmsim output lines to use instead of running those simulations (same settings)")
	legacyMax := flag.Int("legacy-max", 1000, "largest N simulated with the old algorithm (N = 1,000 takes it 10 minutes)")
	flag.Parse()
	oldH, newH, err := readBench(*bench)
	if err != nil {
		log.Fatal(err)
	}
	have := map[string]float64{}
	if *cached != "" {
		if have, err = readCached(*cached); err != nil {
			log.Fatal(err)
		}
	}
	var oldS, newS []point
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatalf("-n: %v", err)
		}
		for _, legacy := range []bool{true, false} {
			if legacy && n > *legacyMax {
				continue
			}
			x, ok := have[fmt.Sprintf("%d/%v", n, legacy)]
			if !ok {
				c := swarmsim.Config{N: n, Size: 8 << 20, OriginInFlight: 1, Legacy: legacy, Seed: *seed}
				if legacy {
					c.ResupplyInterval = 500 * time.Millisecond
				}
				r := swarmsim.Run(c)
				fmt.Fprintln(os.Stderr, r)
				x = r.OriginX
			}
			p := point{float64(n), x}
			if legacy {
				oldS = append(oldS, p)
			} else {
				newS = append(newS, p)
			}
		}
	}
	draw(os.Stdout, []series{
		{"harness, before", "#c0392b", false, oldH},
		{"harness, after", "#27ae60", false, newH},
		{"simulator, before", "#c0392b", true, oldS},
		{"simulator, after", "#27ae60", true, newS},
	})
}

var simLine = regexp.MustCompile(`^N=(\d+) size=8MiB churn=0% free=0% legacy=(true|false): origin ([\d.]+)x`)

// readCached reads cmd/swarmsim result lines: "N/legacy" → origin ÷ size.
func readCached(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := simLine.FindStringSubmatch(line); m != nil {
			x, _ := strconv.ParseFloat(m[3], 64)
			out[m[1]+"/"+m[2]] = x
		}
	}
	return out, nil
}

var benchLine = regexp.MustCompile(`^BenchmarkFlashCrowd/size=8MiB/N=(\d+)/arrive=once\S*\s.*?([\d.]+) origin_x\b`)

// readBench returns the 8 MiB simultaneous cells' origin_x, before and
// after the "# new" line.
func readBench(path string) (before, after []point, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	isNew := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# new") {
			isNew = true
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		x, _ := strconv.ParseFloat(m[2], 64)
		if isNew {
			after = append(after, point{n, x})
		} else {
			before = append(before, point{n, x})
		}
	}
	return before, after, sc.Err()
}

// draw writes a log-log chart: N from 10 to 10,000 across, origin ÷ size
// from 0.5 to 500 up.
func draw(w io.Writer, ss []series) {
	const W, H, L, R, T, B = 720, 440, 70, 190, 40, 60
	x := func(n float64) float64 { return L + (math.Log10(n)-1)/3*float64(W-L-R) }
	y := func(v float64) float64 {
		v = min(max(v, 0.5), 500)
		return float64(H-B) - (math.Log10(v)-math.Log10(0.5))/3*float64(H-T-B)
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(w, `<text x="%d" y="22" font-size="15">Origin bytes ÷ title size against crowd size (8 MiB title, all at once)</text>`+"\n", L)
	for _, n := range []float64{10, 100, 1000, 10000} {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x(n), T, x(n), H-B, x(n), H-B+16, n)
	}
	for _, v := range []float64{0.5, 1, 1.2, 5, 50, 500} {
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", L, y(v), W-R, y(v), L-6, y(v)+4, v)
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">devices N (log)</text>`+"\n", (L+W-R)/2, H-B+36)
	fmt.Fprintf(w, `<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">origin ÷ size (log)</text>`+"\n", (T+H-B)/2)
	for k, s := range ss {
		sort.Slice(s.pts, func(a, b int) bool { return s.pts[a].n < s.pts[b].n })
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.n), y(p.x)))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		for _, p := range s.pts {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s N=%g: %.2f</title></circle>`+"\n", x(p.n), y(p.x), s.color, s.name, p.n, p.x)
		}
		ly := T + 20 + k*22
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d">%s</text>`+"\n", W-R+12, ly, W-R+40, ly, s.color, dash, W-R+46, ly+4, s.name)
	}
	fmt.Fprintln(w, `</svg>`)
}
