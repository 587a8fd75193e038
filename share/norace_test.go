//go:build !race

package share

// raceEnabled: see race_test.go.
const raceEnabled = false
