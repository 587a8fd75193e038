// Command benchreport prints benchmark figures beside their baselines.
//
//	go test -run '^$' -bench . ./... | benchreport -pairs scripts/bench-pairs.txt
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kith-media/kith/internal/benchreport"
)

func main() {
	pairsPath := flag.String("pairs", "scripts/bench-pairs.txt", "pair file: label | candidate | baseline | metric | target")
	flag.Parse()
	f, err := os.Open(*pairsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	defer f.Close()
	pairs, err := benchreport.ParsePairs(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	res, err := benchreport.Parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	if err := benchreport.Write(os.Stdout, res, pairs); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}
