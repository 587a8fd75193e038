package sched

import (
	"time"

	"github.com/kith-media/kith/share/identity"
)

// CrowdView is a download's view of its crowd (Core.SetCrowd) across the
// directory's suppliers answers. An answer lists at most a limit of
// holders (directory.MaxSuppliers); a bigger crowd is answered a new
// weighted random sample each time. Origin ownership is rendezvous over
// the crowd a device knows, so over one sample of 50 from 200 each chunk
// had about four devices that each thought they owned it (200 ÷ 50),
// and each asked the origin for it: the origin answers all but the first
// "busy", spends its small repeat budget on some (a copy more of those
// chunks), and the others wait for Retry-After. So a member of a full
// answer is remembered for Memory after the last answer that named it
// downloading: after a few rounds the view is most of the crowd and a
// chunk mostly has one owner. An answer that names a member complete
// drops it at once (it takes no share: it will not ask the origin). An
// answer below the limit is the whole crowd, and the view is that
// answer alone, as without a memory: a device that left is forgotten at
// the next answer that does not name it, where the directory stopped
// listing it.
type CrowdView struct {
	// Memory is how long a member of a full answer is kept after the
	// last answer that named it downloading. 0: only the last answer.
	Memory time.Duration
	last   map[identity.ID]time.Time
}

// Update folds one answer in at now: downloading are the devices it names
// downloading (incomplete holders), complete those it names complete, and
// full whether it listed as many holders as asked for (the crowd may be
// bigger). It returns the crowd to pass to SetCrowd: every member kept,
// in no particular order.
func (v *CrowdView) Update(now time.Time, downloading, complete []identity.ID, full bool) []identity.ID {
	if !full || v.Memory <= 0 {
		clear(v.last)
		out := make([]identity.ID, len(downloading))
		copy(out, downloading)
		for _, id := range downloading {
			v.remember(id, now)
		}
		return out
	}
	for _, id := range complete {
		delete(v.last, id)
	}
	out := make([]identity.ID, 0, len(v.last)+len(downloading))
	for id, t := range v.last {
		if now.Sub(t) > v.Memory {
			delete(v.last, id)
		}
	}
	for _, id := range downloading {
		v.remember(id, now)
	}
	for id := range v.last {
		out = append(out, id) // in map order: ownership does not depend on the order
	}
	return out
}

// CrowdMemoryRounds is CrowdView.Memory in a download's resupply
// intervals: a member of a crowd four times the answer's limit is named
// in a given answer with a chance of about one in four, and missed by
// all of 6 in a row by about one in six.
const CrowdMemoryRounds = 6

// MaxCrowdView bounds a CrowdView: a member beyond it is not remembered
// (the ones named since stay), so a crowd of thousands costs each
// download at most this many entries and ownership hashes per chunk.
const MaxCrowdView = 512

func (v *CrowdView) remember(id identity.ID, now time.Time) {
	if v.last == nil {
		v.last = map[identity.ID]time.Time{}
	}
	if _, ok := v.last[id]; ok || len(v.last) < MaxCrowdView {
		v.last[id] = now
	}
}
