package benchreport

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkSealedRead64MiB-2   	      20	  50000000 ns/op	1342.18 MB/s
BenchmarkBareAEAD64MiB-2     	      25	  40000000 ns/op	1677.72 MB/s
BenchmarkFlash/N=50-2        	       1	 900000000 ns/op	         1.20 origin/size
BenchmarkLogLine says hello
PASS
`

func TestParse(t *testing.T) {
	res, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := res["BenchmarkSealedRead64MiB"]["MB/s"]; got != 1342.18 {
		t.Errorf("SealedRead MB/s = %v, want 1342.18", got)
	}
	if got := res["BenchmarkFlash/N=50"]["origin/size"]; got != 1.2 {
		t.Errorf("Flash origin/size = %v, want 1.2", got)
	}
	if _, ok := res["BenchmarkLogLine"]; ok {
		t.Error("a log line was parsed as a benchmark")
	}
}

func TestWrite(t *testing.T) {
	res, _ := Parse(strings.NewReader(sample))
	pairs, err := ParsePairs(strings.NewReader(`
# comment
sealed read | BenchmarkSealedRead64MiB | BenchmarkBareAEAD64MiB | MB/s | >= 0.8×
missing | BenchmarkNope | - | ns/op | n/a
`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Write(&b, res, pairs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"0.80×", "1342 MB/s", "1678 MB/s", "not run"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestParsePairsRejectsShortLine(t *testing.T) {
	if _, err := ParsePairs(strings.NewReader("a | b | c\n")); err == nil {
		t.Error("a line with 3 fields was accepted")
	}
}
