//go:build race

package install

// raceEnabled: the race detector slows the pure-Go xz encoder about eight
// times, so TestSelfPackage packs a small program instead of the test binary.
const raceEnabled = true
