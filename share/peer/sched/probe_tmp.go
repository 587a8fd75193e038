package sched

import "sync/atomic"

// Temporary probe counters (not for landing).
var ProbeLaunch, ProbeSteal, ProbeOrigin, ProbePoll, ProbeWasted atomic.Int64
