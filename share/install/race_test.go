//go:build race

package install

// raceEnabled: the race detector slows compressing a 30 MB binary to minutes,
// so TestSelfPackage packs a small program instead of the test binary.
const raceEnabled = true
