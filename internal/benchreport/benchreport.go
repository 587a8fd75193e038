package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Results maps a benchmark name (without its -N suffix) to its metrics by unit.
type Results map[string]map[string]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads go test -bench output. When a benchmark ran several times
// (-count), the last figure wins.
func Parse(r io.Reader) (Results, error) {
	res := Results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line that happens to start with "Benchmark"
		}
		m := res[name]
		if m == nil {
			m = map[string]float64{}
			res[name] = m
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}
	return res, nil
}

// Pair is one line of a pair file.
type Pair struct {
	Label, Candidate, Baseline, Metric, Target string
}

// ParsePairs reads a pair file; blank lines and lines starting with # are skipped.
func ParsePairs(r io.Reader) ([]Pair, error) {
	var out []Pair
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 5 {
			return nil, fmt.Errorf("pair file line %d: want 5 fields separated by |, got %d", n, len(f))
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		out = append(out, Pair{Label: f[0], Candidate: f[1], Baseline: f[2], Metric: f[3], Target: f[4]})
	}
	return out, sc.Err()
}

// Write prints one row per pair: the candidate's figure, the baseline's, and
// their ratio. Missing benchmarks are shown as "not run", never as zero.
func Write(w io.Writer, res Results, pairs []Pair) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tkith\tbaseline\tratio\ttarget")
	for _, p := range pairs {
		c, cok := res[p.Candidate][p.Metric]
		cs := "not run"
		if cok {
			cs = format(c, p.Metric)
		}
		bs, ratio := "-", "-"
		if p.Baseline != "-" {
			bs = "not run"
			if b, ok := res[p.Baseline][p.Metric]; ok {
				bs = format(b, p.Metric)
				if cok && b != 0 {
					ratio = fmt.Sprintf("%.2f×", c/b)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Label, cs, bs, ratio, p.Target)
	}
	return tw.Flush()
}

func format(v float64, unit string) string {
	return strconv.FormatFloat(v, 'g', 4, 64) + " " + unit
}
