// Package netns builds small virtual LANs out of Linux network namespaces for
// tests that need real multicast between real processes (mDNS discovery,
// peer-to-peer transfers, end-to-end runs of several devices).
//
// New(t, n) creates, for one test:
//
//   - a namespace "kith-<run>-br" holding a bridge "br0" (multicast snooping
//     off, so link-local multicast such as mDNS reaches every port);
//   - n namespaces "kith-<run>-a", "kith-<run>-b", … each with loopback up and
//     one veth interface "eth0" whose peer is enslaved to the bridge;
//   - addresses 10.213.X.1, .2, … /24 on those interfaces (X drawn at random
//     among those no other LAN of the process holds, so two LANs a host is
//     joined to never share a prefix; the range is private to the bridge the
//     test created, so nothing ever leaves it) and a route "224.0.0.0/4 dev
//     eth0" so multicast has a way out.
//
// <run> is "<pid>x<random>": the creator's process ID lets a later run find
// namespaces left behind by a crashed test (their creator is gone) and delete
// them without touching a LAN of a test still running in parallel.
//
// LAN.Join connects a host of one LAN to another LAN's bridge with a second
// interface, for tests of multi-homed machines.
//
// NewInternet builds a public segment (a LAN made by New) with server
// hosts and one home router per HomeSpec; each home is another LAN whose
// hosts route through their router. A router masquerades the home's
// connections (port-preserving, or "fully-random": a symmetric NAT),
// forwards only connections the home started and drops every new one
// from outside, to itself or through it, in nftables counters
// (Home.Dropped); Home.Conntrack lists its tracked connections.
//
// Goroutines cannot safely be pinned to a network namespace, so code is run
// inside a host as a separate process: Host.Command returns an *exec.Cmd for
// "ip netns exec <namespace> <command>". A test usually re-executes its own
// test binary (os.Args[0]) with an environment variable selecting a helper
// mode, the usual "TestMain helper process" pattern. Host.Helper does that
// and returns a Proc: the helper's standard output line by line (Proc.Line
// waits for a line with a given prefix), its standard input, and its
// standard error kept for the test's log. At cleanup the helper gets a
// SIGTERM and must exit 0 (unless the test killed it, Proc.Kill) with no
// race report in its log; a helper mode should therefore keep SIGTERM
// caught until it exits.
//
// Everything is removed in t.Cleanup. Requirements: Linux, root (or
// CAP_SYS_ADMIN+CAP_NET_ADMIN) and the iproute2 "ip" command; otherwise New
// skips the test and says which requirement is missing.
package netns
