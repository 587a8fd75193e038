package share

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// arrivalView is what device j of ids (in order of arrival) is answered
// when the first `known` devices are listed: ranks from 1, its own
// among them, negative before it (directory.Supplier.Arrival).
func arrivalView(ids []identity.ID, j, known int) ([]Neighbour, map[identity.ID]int) {
	var peers []Neighbour
	arrival := map[identity.ID]int{}
	for i := range known {
		if i == j {
			continue
		}
		peers = append(peers, Neighbour{ID: ids[i], Addrs: []string{"x"}})
		if i < j {
			arrival[ids[i]] = -(i + 1)
		} else {
			arrival[ids[i]] = i + 1
		}
	}
	return peers, arrival
}

// TestArrivalPairsAgree: every device of a forming crowd computes the
// same pairs from its first answer (those before it) as any device does
// later from a fuller one, so each pair is picked by both ends: a device's
// pairs among those before it are exactly the pairs those have with it,
// each device dials arrivalPicks(k) (fewer only for the first ones), no
// device has more than arrivalCap(k), and the graph is connected and
// shallow (a chunk crosses it in a few hops).
func TestArrivalPairsAgree(t *testing.T) {
	for _, n := range []int{2, 10, 50} {
		for _, k := range []int{1, 2, 4} {
			for _, cid := range []sealed.ContentID{{1}, {2}} {
				ids := make([]identity.ID, n)
				for i := range ids {
					ids[i] = identity.ID(fmt.Sprintf("dev-%d-%02d", cid[0], i))
				}
				full := make([]map[identity.ID]bool, n) // from an answer naming the whole crowd
				for j := range ids {
					peers, arrival := arrivalView(ids, j, n)
					full[j] = arrivalPairs(cid, ids[j], peers, arrival, k)
					if len(full[j]) > arrivalCap(k) {
						t.Fatalf("n=%d k=%d: %s has %d pairs, more than %d", n, k, ids[j], len(full[j]), arrivalCap(k))
					}
					for i, p := range peers[:len(full[j])] {
						if !full[j][p.ID] {
							t.Fatalf("n=%d k=%d: %s's pair not first: %v at %d", n, k, ids[j], p.ID, i)
						}
					}
				}
				edges := 0
				for j := range ids {
					peers, arrival := arrivalView(ids, j, j+1) // its first answer: those before it
					first := arrivalPairs(cid, ids[j], peers, arrival, k)
					if want := min(j, arrivalPicks(k)); len(first) != want {
						t.Fatalf("n=%d k=%d: %s picks %d, want %d", n, k, ids[j], len(first), want)
					}
					edges += len(first)
					for i := range j {
						if first[ids[i]] != full[j][ids[i]] || full[i][ids[j]] != full[j][ids[i]] {
							t.Fatalf("n=%d k=%d: %s and %s disagree: first %v, full %v, other end %v", n, k, ids[j], ids[i],
								first[ids[i]], full[j][ids[i]], full[i][ids[j]])
						}
					}
				}
				if hops := crossing(ids, full); hops < 0 || n == 50 && k == 4 && hops > 8 {
					t.Errorf("n=%d k=%d: %d hops across (-1: not connected)", n, k, hops)
				}
				if n == 50 && k == 4 && edges > 2*n {
					t.Errorf("n=%d k=%d: %d connections", n, k, edges)
				}
			}
		}
	}
}

// crossing is the most hops between two devices of the graph, -1 when
// it is not connected.
func crossing(ids []identity.ID, pairs []map[identity.ID]bool) int {
	at := map[identity.ID]int{}
	for i, id := range ids {
		at[id] = i
	}
	most := 0
	for s := range ids {
		dist := map[int]int{s: 0}
		q := []int{s}
		for len(q) > 0 {
			u := q[0]
			q = q[1:]
			for id := range pairs[u] {
				if v := at[id]; !hasKey(dist, v) {
					dist[v] = dist[u] + 1
					most = max(most, dist[v])
					q = append(q, v)
				}
			}
		}
		if len(dist) < len(ids) {
			return -1
		}
	}
	return most
}

func hasKey(m map[int]int, k int) bool { _, ok := m[k]; return ok }

// TestFormingCrowdPairsAsOne: devices starting a download one after the
// other within a few tens of milliseconds (a flash crowd, real directory,
// real nodes over real TLS) connect as the arrival pair graph says: each
// pair one connection, each device dialling arrivalPicks(k) of those
// before it, about k/2 connections a device. Before (each start picking
// from its own list, matchFirst): 17-23 connections for 8 devices.
func TestFormingCrowdPairsAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("a crowd of real nodes")
	}
	const n = 8
	nodes, cid := formingCrowd(t, n, func(int, *Options) {})
	m, err := nodes[0].lib.Manifest(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	k := nodes[0].maxPeers(m)
	// The second picks the first, every later one arrivalPicks(k); then
	// in resupply rounds the last ones, below k, pair among themselves
	// (arrivalFilled), as every device computes from the whole crowd.
	ids := arrivedIn(t, nodes, cid)
	first, pairs := 0, 0
	for j := range ids {
		peers, arrival := arrivalView(ids, j, n)
		first += len(arrivalPairs(cid, ids[j], peers, arrival, k))
		pairs += len(arrivalFilled(cid, ids[j], peers, arrival, k))
	}
	first, pairs = first/2, pairs/2
	if want := 1 + (n-2)*arrivalPicks(k); first != want {
		t.Fatalf("the arrival graph has %d pairs, want %d", first, want)
	}
	got := handshakes(nodes)
	t.Logf("%d connections for %d devices (%.2f a device); the arrival graph has %d pairs, filled %d (k=%d)", got, n, float64(got)/n, first, pairs, k)
	if raceEnabled {
		return // slowed ~10x, peers time out and are replaced: counts only without -race
	}
	// One more for a peer dropped and replaced on a loaded machine.
	if got > int64(pairs+1) {
		t.Errorf("the crowd opened %d connections; its arrival graph has %d pairs (k=%d)", got, pairs, k)
	}
}

// arrivedIn is the crowd's devices in the order the directory saw their
// downloads arrive (started 5 ms apart, they may arrive otherwise), as
// the first device's suppliers answer ranks them.
func arrivedIn(t *testing.T, nodes []*Node, cid sealed.ContentID) []identity.ID {
	t.Helper()
	sups, err := nodes[0].dirClient().SuppliersN(context.Background(), cid, len(nodes)+1)
	if err != nil {
		t.Fatal(err)
	}
	rank := map[identity.ID]int{}
	missing := len(nodes) * (len(nodes) + 1) / 2 // the first device's rank: the one no other has
	for _, s := range sups {
		if r := max(s.Arrival, -s.Arrival); r > 0 {
			rank[s.Device] = r
			missing -= r
		}
	}
	rank[nodes[0].ID()] = missing
	ids := make([]identity.ID, len(nodes))
	for i, nd := range nodes {
		ids[i] = nd.ID()
		if rank[ids[i]] == 0 {
			t.Fatalf("%s has no place in the order of arrival: %v", ids[i].Short(), rank)
		}
	}
	slices.SortFunc(ids, func(a, b identity.ID) int { return rank[a] - rank[b] })
	return ids
}

// TestMixedCrowdCompletes: a forming crowd of this version's devices and
// older ones (which ignore the order of arrival and pick by matchFirst)
// completes: each end accepts the other's connections and fills its
// slots as its version does.
func TestMixedCrowdCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("a crowd of real nodes")
	}
	nodes, _ := formingCrowd(t, 8, func(i int, o *Options) { o.noArrivals = i%2 == 1 })
	t.Logf("%d connections for %d devices", handshakes(nodes), len(nodes))
}

// formingCrowd starts n nodes (crowdTune's, then tune's for node i) and
// a download of one 8 MiB title on each 5 ms apart, and waits for all.
func formingCrowd(t *testing.T, n int, tune func(i int, o *Options)) ([]*Node, sealed.ContentID) {
	t.Helper()
	ctx := context.Background()
	d := startDirectory(t)
	title, _ := d.publish(t, "Forming Crowd", 8<<20, 0)
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = startNode(t, d, "crowd", func(o *Options) { crowdTune(o); tune(i, o) })
		if _, err := nodes[i].Register(ctx, title.ID); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range nodes {
		wg.Go(func() { errs[i] = nd.Fetch(ctx, title.ContentID) })
		time.Sleep(5 * time.Millisecond) // one after the other, as a crowd's announcements reach the directory
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	return nodes, title.ContentID
}

// TestSampledCrowdAdopts: in a crowd bigger than the directory's answer
// (here answers of 4, a crowd of 12: each device is told its own sample),
// a download dials only arrivalPicks(k) downloads of its sample
// (pairs.Sampled) and takes the devices that dialled it as sources over
// their connections (adoptDialled), though its answers may never list
// them: the crowd completes, and some of its sources are devices it
// knows no address of.
func TestSampledCrowdAdopts(t *testing.T) {
	if testing.Short() {
		t.Skip("a crowd of real nodes")
	}
	const n, answer = 12, 4
	nodes, cid := formingCrowd(t, n, func(_ int, o *Options) { o.answerSize = answer })
	m, err := nodes[0].lib.Manifest(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	k := nodes[0].maxPeers(m)
	adopted := sumClients(nodes, func(c *peer.Client) int64 {
		if len(c.Addrs()) == 0 {
			return 1
		}
		return 0
	})
	got := handshakes(nodes)
	t.Logf("%d connections for %d devices (%.2f a device), %d sources adopted with no address (k=%d)", got, n, float64(got)/n, adopted, k)
	if adopted == 0 {
		t.Error("no device took a device that dialled it, unlisted, as a source")
	}
	if raceEnabled {
		return // slowed ~10x, peers time out and are replaced: counts only without -race
	}
	// Dialling k from every sample opened 26-36 here, adopting 18-33
	// (devices left below k by those that dialled them still fill from
	// their answers): the figures overlap, so the bound is only the
	// most a crowd dialling k each could open.
	if limit := int64(n * k); got > limit {
		t.Errorf("the crowd opened %d connections, more than %d (k=%d a device)", got, limit, k)
	}
}
