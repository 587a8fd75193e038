// Package sched is the Fetcher's decision core: which chunk to ask of which
// source, when the origin may be asked, when a slow request is duplicated,
// and how a source's errors back it off, ban it or drop it. It does no I/O
// and reads no clock: the caller passes the time to every call, launches
// the requests Schedule returns, and reports how each ended (Result) and
// what partial sources hold (HaveResult). share/peer's Fetcher drives it
// with goroutines and the wall clock; internal/swarmsim drives the same
// code on a simulated network with a virtual clock.
//
// It also holds what a download's resupply rounds (share.Node's, and the
// simulator's) decide alike: when the next round is due (Rounds: by the
// clock, or at once for a download its peers have not fed for
// HungryAfter) and the crowd across the directory's answers (CrowdView).
//
// A Core is not safe for concurrent use; its driver serializes calls.
package sched
