//go:build race

package player

// raceEnabled: the race detector slows decoding and oto's mixer several
// times over, which on a busy 2-core machine drops real-time audio.
const raceEnabled = true
