// Package benchreport reads `go test -bench` output and prints each figure an
// issue asks for beside its baseline, so the numbers in the issue notes can be
// reproduced with one command (`make bench`).
//
// A pair file has one line per comparison, fields separated by "|":
//
//	label | candidate benchmark | baseline benchmark (or "-") | metric | target
//
// The metric is a unit as go test prints it ("MB/s", "ns/op", or a custom
// b.ReportMetric unit). The target is free text, printed as written. Benchmark
// names are matched without the "-N" GOMAXPROCS suffix.
package benchreport
