package directory

import "github.com/kith-media/kith/share/identity"

// Crowd is what one suppliers answer says of a title's crowd, as the
// asking download reads it: who is downloading the title with it and who
// holds it whole, in the answer's order; each listed device's place in
// the order of arrival, where the answer gives it; and whether the crowd
// may be bigger than the answer. share.Node reads its answers so, and the
// crowd simulator (internal/swarmsim) reads its directory's the same way.
type Crowd struct {
	// Downloading: the listed holders still downloading (incomplete);
	// Complete: those that hold every chunk. Neither holds the asker
	// or the origin.
	Downloading, Complete []identity.ID
	// Arrival is Supplier.Arrival of the listed devices that have one
	// (negative: before the asker); Unordered counts the downloading
	// ones without (a v1 answer, a sample of a big crowd).
	Arrival   map[identity.ID]int
	Unordered int
	// Full: the answer lists as many holders as were asked for, so the
	// crowd may be bigger than the answer.
	Full bool
}

// ReadCrowd reads sups, the directory's answer to self's lookup for asked
// suppliers. The asker, when listed, counts as a holder toward Full; the
// origin does not.
func ReadCrowd(sups []Supplier, self identity.ID, asked int) Crowd {
	c := Crowd{Downloading: make([]identity.ID, 0, len(sups))}
	holders := 0
	for _, s := range sups {
		if s.Origin {
			continue
		}
		holders++
		if s.Device == self {
			continue
		}
		if s.Complete {
			c.Complete = append(c.Complete, s.Device)
		} else {
			c.Downloading = append(c.Downloading, s.Device)
			if s.Arrival == 0 {
				c.Unordered++
			}
		}
		if s.Arrival != 0 {
			if c.Arrival == nil {
				c.Arrival = make(map[identity.ID]int, len(sups))
			}
			c.Arrival[s.Device] = s.Arrival
		}
	}
	c.Full = holders >= asked
	return c
}

// Ordered reports whether the answer lists the whole crowd of downloads,
// each with its place in the order of arrival: every device that got
// such an answer can then agree on the same pairs (share/pairs.Arrival).
func (c *Crowd) Ordered() bool {
	return len(c.Downloading) > 0 && c.Unordered == 0 && !c.Full
}

// Downloads is Downloading as a set.
func (c *Crowd) Downloads() map[identity.ID]bool {
	m := make(map[identity.ID]bool, len(c.Downloading))
	for _, id := range c.Downloading {
		m[id] = true
	}
	return m
}
