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
// "kith-directory billing export --csv" and its /metrics page (on its admin listener).
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
//
// # The story through the windows (TestDrivenHousehold)
//
// Two real kith desktop processes on a two-host LAN, each with its own Xvfb
// display (started inside its namespace) and its own PulseAudio null sink,
// driven only with synthetic mouse and keyboard events (xdotool: clicks at
// the middle of a widget, typed text, Return and Escape). Where a widget is
// and what the window shows come from kith's inspector socket
// (app.InspectEnv, set only by this test). The steps, each asserted on what
// the windows show:
//
//  1. living-room finds no directory, starts the household's (the welcome
//     screen says so and shows its fingerprint) and creates the account;
//  2. bedroom finds it on the LAN and pairs with it (joinHousehold: its
//     welcome screen names the directory and shows the same fingerprint;
//     living-room's Settings shows a join code, typed into bedroom's welcome
//     screen, which then says "Paired with");
//  3. bedroom signs in to the account;
//  4. living-room buys Evening Bells with the test card in the payment
//     form (Enter pays; the receipt says "Paid €1.99 with Visa ending
//     4242"; Escape closes it; the Store then says the title is owned) and
//     gets Concert A (free);
//  5. bedroom registers Concert A through living-room from its Neighbours
//     screen and its Library shows it owned;
//  6. bedroom plays it from the Library: the bar shows it and the
//     recording of its null sink is 440 Hz;
//  7. living-room's Sharing screen lists the transfer to bedroom, the
//     title drawn inside its column.
//
// Both apps must exit cleanly on SIGTERM with no ALSA noise in their logs.
// A screenshot per step goes to KITH_SCREENSHOTS as
// driven-NN-MACHINE-STEP.png. It skips without root, ip, Xvfb, xdotool,
// ImageMagick or PulseAudio, or with -short.
//
// # The other stories
//
// Each in its own test, with its steps in the test's comment:
// TestNATRelay (issue 16: players behind home routers in namespaces with
// NAT, served through the relay, hole punching, copy restrictions and the
// relay's caps), TestOwnMedia (issue 14: a device publishes a folder with
// kithctl publish, its household gets the titles from it, the origin
// uploads nothing, another account sees none), TestKithctlPlayVideo
// (issue 17: an MP4 published and played headless into a null sink, with
// the presenter's frame and A/V figures) and TestNeighboursAddedByHand (a
// LAN with multicast off: a device added by its address with kithctl
// neighbours add, a title copied from it, an unknown device refused, kept
// across a restart).
package e2e
