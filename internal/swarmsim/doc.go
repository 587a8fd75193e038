// Package swarmsim runs a crowd of devices downloading one title on a
// simulated network with a virtual clock, driving the product's own
// decision code: each device's share/peer/sched.Core (which chunk from
// whom, when to fall back to the origin), the directory's supplier ranking
// (directory.RankSuppliers) and its origin budget (directory.OriginBudget).
// What is simulated is only what those decide over: links (per-device
// upload and download bandwidth, per-link latency, an optional shared
// machine-wide cap for the test harness's one machine, whose cost a byte
// may grow with the devices downloading at once: Config.Contention),
// peers' upload limits
// (MaxUploads, MaxUploadsPerPeer, answered Busy), arrivals (all at once or
// Poisson), churn (devices leaving mid-download, their entries expiring
// from the directory's lookups after the announce TTL; the origin budget
// hears of the leaving at once, as from the announcement without the
// title a device that stops sharing sends: OriginBudget.Announced) and free riders (devices
// that share nothing: not announced, refusing every request) and stalled
// devices (announced, answering every chunk request busy), some of which
// may flood (Config.Flood: asking the origin for every other part every
// 200 ms, to raise their refusal counts and hide the parts they hold
// back from the origin budget's stuck ratio). A peer's
// Have polls are held as peer.Server holds them, and its chunk answers
// carry its Have state as a peer server's do (sched.Core.Carried).
// Resupply follows share.Node.resupply, its hungry rule too: a download
// its peers have not fed for a second (sched.Core.Unfed,
// sched.HungryAfter) has a round at once and takes one more peer there
// (both time their rounds with sched.Rounds); Result counts the rounds
// that found a download unfed and the longest such spell. The fetcher's
// starvation clock runs (Schedule drives it every 100 ms tick, as in
// peer.Fetcher). When the rule waited two rounds (10 s at the product's
// 5 s rounds), it rarely fired here: over 20 ms links a peer gains a chunk
// we need within a Have round or two (N=10,000, seeds 1-3: 12,700-13,400
// unfed rounds, the longest 2.2-11 s; one hungry round in all).
//
// A transfer's rate is fixed when it starts (its share of the sender's
// upload, the receiver's download and the shared cap at that moment), so
// the model is coarse but deterministic for a seed. One Run of 10,000
// devices with an 8 MiB title is about 20 million events (minutes of one
// core). SWARMSIM_DEBUG=1 prints the request outcomes and three devices'
// sources to stderr after a run.
//
// Whom a download connects to is share.Node's rule, run through the same
// code: the answer read as share.Node reads it (directory.ReadCrowd),
// its peers in pairs.Order, its start chosen by pairs.First and its
// resupply rounds' pairs by pairs.Round; from an answer
// listing the whole crowd, its pairs in the crowd's graph first
// (pairs.Match); from one that also carries the order of arrival (the
// directory's v2 ranks, directory.ArrivalRanks over the order of the
// announcements, given while the directory's lookup sees the whole
// crowd), the arrival pair graph (pairs.Arrival, pairs.Start), and its
// resupply, over the graph with the last arrivals paired among
// themselves (pairs.Filled), adopts the later pairs (pairs.Later) and dials
// no other download unless it polls us or our pairs failed us; from a
// sample of a crowd bigger than an answer, half its peers (pairs.Sampled)
// and, in resupply, the devices polling it (share.Node.adoptDialled). A pair is
// counted as one connection (Result.ConnsPerDevice), as peer.WireProto2
// carries it both ways. Not modelled: the moment a download waits for a
// later pair to dial it (pairYield; taken at once here) and LAN or
// hand-added neighbours.
package swarmsim
