//go:build race

package share

// raceEnabled: the race detector slows a crowd ~10x; tests that count its
// connections count only without it.
const raceEnabled = true
