// Package e2e holds the end-to-end test of Kith: a household on one
// machine, built from Linux network namespaces on one bridge, with real
// processes, real TLS, real mDNS, real SQLite files and real audio output
// (a PulseAudio null sink, recorded and analysed).
//
// # The LAN
//
//	dir   10.213.X.1   kith-directory serve (the directory and origin store)
//	A     10.213.X.2   kithctl serve  — alice's laptop
//	B     10.213.X.3   kithctl serve  — bob's machine (another account)
//	C     10.213.X.4   kithctl serve  — alice's second machine (her household)
//
// Each device is its own process with its own data folder; the test drives
// them with kithctl commands over their control sockets (unix sockets work
// across network namespaces) and reads the directory's billing outbox with
// "kith-directory billing export --csv" and its /metrics page.
//
// # The story (each step asserted)
//
//  1. the directory starts; three tone titles are published (Low Hum free,
//     A440 1.99, Evening Bells 0.99 — the larger one, for step 6);
//  2. A signs up (alice), buys A440, downloads it from the origin, plays it
//     (the recording's dominant frequency must be 440 Hz) and becomes a
//     supplier; it also registers the free title;
//  3. B (bob) finds A by mDNS and registers A440 through A; the billing
//     outbox credits A; B's ciphertext is byte-identical, its license its own;
//  4. C (alice) copies A440 from B with no key, cannot play it, gets its key
//     from the directory and plays it (440 Hz again);
//  5. A buys Evening Bells and restricts it to its household: B is refused
//     by A and the directory stops naming A to B; B buys it from the origin;
//  6. with uploads slowed by tc, A is killed mid-transfer of Evening Bells to
//     C; C finishes from B and the origin; all copies hash alike, A restarts
//     with its library intact, and every purchase is in the outbox;
//  7. the origin's uploaded bytes per title (directory /metrics) are below
//     title size × devices that got it.
//
// The test skips with the reason when it is not root, when "ip" or
// PulseAudio are missing, or with -short. e2e/demo.sh runs the same story
// with narration for a person (make demo).
package e2e
