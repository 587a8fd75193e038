// Package clock is the time source of the fetcher and the player: Real
// (the time package) by default, and Fake, which moves only when a test
// advances it, so timing rules (a stalled request, a retry after a busy
// answer, a request timeout, a read slow enough to show "buffering") are
// tested at their exact thresholds instead of against wall-clock sleeps
// that a loaded machine stretches.
//
// Only time that is a rule is taken from a Clock. Time that paces real
// work (an audio device pulling frames, a socket's deadline) stays on the
// wall clock, and so does anything handed to the standard library that
// reads the deadline itself (net.Dialer, TLS handshakes): WithTimeout's
// context therefore does not report its fake deadline through Deadline.
package clock
