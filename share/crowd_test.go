package share

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// A flash crowd of hundreds of devices does not fit in one process: each
// node holds TLS connections to its peers (both ends in the same process
// when every node is), pollers and SQLite files, and the file-descriptor
// limit here is 20,000. The benchmark therefore runs its nodes in groups,
// each group in a child process (this test binary re-executed with
// KITH_CROWD_CONFIG set, running TestCrowdHelper), and keeps the directory
// and its origin in the parent. The children are real nodes (real TLS,
// real directory, real fetcher); parent and children speak JSON lines:
//
//	child → parent (stdout)  crowd {"ready":true}            every node enrolled, registered and serving
//	parent → child (stdin)   go                              start the downloads (each after its delay)
//	child → parent           crowd {"id":…,"ms":…,"origin":…} one line per finished download
//	parent → child           done                            the crowd's last download finished
//	child → parent           crowd {"finished":true,"cpu_ms":…,"max_fds":…}
//	parent → child           stdin closed                     stop serving
//
// A child keeps serving the others after its own downloads: its CPU (and
// its profile) run from "go" to "done", the crowd's last download, so that
// cpu_s covers the same span as s_all in every process.
//
// Lines without the "crowd " prefix (the test runner's own) are ignored.

// crowdEnv names the child's configuration (JSON of crowdConfig).
const crowdEnv = "KITH_CROWD_CONFIG"

// crowdConfig is what a child process of the flash crowd runs.
type crowdConfig struct {
	Dir      string  `json:"dir"` // directory URL with #fingerprint
	Account  string  `json:"account"`
	Password string  `json:"password"`
	Title    string  `json:"title"`
	Content  string  `json:"content"`
	DelaysMs []int64 `json:"delays_ms"` // one per node: when it starts after "go"
	Group    int     `json:"group"`
}

// crowdReport is one line from a child.
type crowdReport struct {
	Ready    bool   `json:"ready,omitempty"`
	ID       string `json:"id,omitempty"`
	Ms       int64  `json:"ms,omitempty"`     // download finished this long after "go"
	Origin   int64  `json:"origin,omitempty"` // bytes this node took from the origin
	Down     int64  `json:"down,omitempty"`   // bytes this node took from anyone (its ledger: chunks received whole, a chunk twice when two sources both answered)
	Err      string `json:"err,omitempty"`
	Finished bool   `json:"finished,omitempty"`
	CPUMs    int64  `json:"cpu_ms,omitempty"`  // the child's user+system CPU from "go" to "done"
	MaxFDs   int    `json:"max_fds,omitempty"` // most open file descriptors seen
	Conns    int64  `json:"conns,omitempty"`   // connections the group's nodes opened to peers (peer.Client.Handshakes)
	Polls    int64  `json:"polls,omitempty"`   // Have polls the group's nodes sent to peers (peer.Client.HavePolls)
	Faults   int64  `json:"faults,omitempty"`  // the child's minor page faults from "go" to "done"
}

// TestCrowdHelper is a child process of BenchmarkFlashCrowd (a group of
// its nodes); it does nothing unless KITH_CROWD_CONFIG is set.
func TestCrowdHelper(t *testing.T) {
	raw := os.Getenv(crowdEnv)
	if raw == "" {
		t.Skip("child process of BenchmarkFlashCrowd")
	}
	if err := crowdChild(t, raw, os.Stdin, os.Stdout); err != nil {
		crowdSay(os.Stdout, crowdReport{Err: err.Error()})
		t.Fatal(err)
	}
}

var crowdOut sync.Mutex

func crowdSay(w io.Writer, r crowdReport) {
	b, _ := json.Marshal(r)
	crowdOut.Lock()
	defer crowdOut.Unlock()
	fmt.Fprintf(w, "crowd %s\n", b)
}

func crowdChild(t *testing.T, raw string, in io.Reader, out io.Writer) error {
	var cfg crowdConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return fmt.Errorf("crowd config: %w", err)
	}
	cid, err := sealed.ParseContentID(cfg.Content)
	if err != nil {
		return fmt.Errorf("crowd config: %w", err)
	}
	base, fp, err := directory.ParseURL(cfg.Dir)
	if err != nil {
		return fmt.Errorf("crowd config: %w", err)
	}
	ctx := context.Background()
	nodes := make([]*Node, len(cfg.DelaysMs))
	for i := range nodes {
		dev, err := identity.Generate()
		if err != nil {
			return err
		}
		c, err := directory.NewClient(directory.ClientOptions{URL: base, Fingerprint: fp, Device: dev, Logger: quiet})
		if err != nil {
			return err
		}
		// Twenty children enrolling at once queue the directory's password
		// checks: it answers busy, and the start is asked again.
		if err := retryBusy(ctx, func() error {
			return c.EnrollDevice(ctx, cfg.Account, cfg.Password, fmt.Sprintf("crowd-%d-%d", cfg.Group, i))
		}); err != nil {
			return fmt.Errorf("enrolling node %d: %w", i, err)
		}
		nodes[i] = serveNode(t, c, dev, cfg.Account, crowdTune)
		if err := retryBusy(ctx, func() error { _, err := nodes[i].Register(ctx, cfg.Title); return err }); err != nil {
			return fmt.Errorf("registering node %d: %w", i, err)
		}
	}
	crowdSay(out, crowdReport{Ready: true})
	lines := bufio.NewScanner(in)
	if !lines.Scan() || lines.Text() != "go" {
		return errors.New("no go from the parent")
	}
	if dir := os.Getenv("KITH_CROWD_PROFILE"); dir != "" { // a CPU profile per group, from "go" to "done"
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("group-%d.pprof", cfg.Group)))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fds := &fdWatch{}
	fds.sample()
	cpu0, flt0 := cpuTime(), minorFaults()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(cfg.DelaysMs[i]) * time.Millisecond)
			r := crowdReport{ID: string(nd.ID())}
			if os.Getenv("KITH_CROWD_TRACE") != "" {
				defer traceFetch(nd, cid, t0)()
			}
			if err := nd.Fetch(ctx, cid); err != nil {
				r.Err = err.Error()
			}
			r.Ms = max(1, time.Since(t0).Milliseconds())
			// Not downloadedFrom: t.Fatal is for the test's own goroutine.
			es, err := nd.lib.Ledger(ctx, "", 1<<20) // every peer's row: a download has at most a few hundred
			if err != nil && r.Err == "" {
				r.Err = fmt.Sprintf("reading the ledger: %v", err)
			}
			for _, e := range es {
				if e.Direction == "down" {
					r.Down += e.Bytes
					if e.Peer == fp {
						r.Origin += e.Bytes
					}
				}
			}
			crowdSay(out, r)
		}()
	}
	stop := make(chan struct{})
	go reportStalls(nodes, cid, stop)
	go fds.watch(stop)
	wg.Wait()
	// Serve the others until the crowd's last download.
	for lines.Scan() && lines.Text() != "done" {
	}
	close(stop)
	// CPU and faults before the profile is written: encoding it is the
	// harness's work, not the crowd's.
	cpu, faults := cpuTime()-cpu0, minorFaults()-flt0
	fds.sample()
	pprof.StopCPUProfile()
	if dir := os.Getenv("KITH_CROWD_PROFILE"); dir != "" { // and its allocations (since the process started)
		if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("group-%d.allocs.pprof", cfg.Group))); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	crowdSay(out, crowdReport{Finished: true, CPUMs: cpu.Milliseconds(), MaxFDs: fds.max(), Conns: handshakes(nodes), Polls: havePolls(nodes), Faults: faults})
	// Keep serving until the parent closes stdin.
	for lines.Scan() {
	}
	return nil
}

// traceFetch samples nd's download of cid every 10 ms until the returned
// stop is called, then prints to stderr (KITH_CROWD_TRACE) one line: when
// it had a first chunk, a quarter, half, 90 % and all of them (ms since
// t0), how long its longest spell without a new chunk was and when it
// ended, and its sources (bytes, state) and faults at the last sample: what
// a crowd's slowest download waited for.
func traceFetch(nd *Node, cid sealed.ContentID, t0 time.Time) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var (
			marks              [5]int64 // first, 25 %, 50 %, 90 %, all
			last               peer.Progress
			faults             []peer.Fault
			have, lastGain     = 0, int64(0)
			longest, longestAt int64
			missing, stalledOn []int // chunks missing at the last gain, and at the longest spell's start
		)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				now := time.Since(t0).Milliseconds()
				if now-lastGain > longest {
					longest, longestAt, stalledOn = now-lastGain, now, missing
				}
				// A mark the download passed between its last sample and its
				// end (the fetcher gone before the next tick) is its end.
				for k := range marks {
					if marks[k] == 0 {
						marks[k] = now
					}
				}
				var srcs []string
				for _, s := range last.Sources {
					kind := s.ID.Short()
					if s.Origin {
						kind = "origin"
					}
					srcs = append(srcs, fmt.Sprintf("%s:%dKiB:%s", kind, s.Bytes>>10, s.State))
				}
				var fs []string
				for _, f := range faults {
					fs = append(fs, fmt.Sprintf("%s#%d:%v", f.Source.Short(), f.Chunk, f.Err))
				}
				fmt.Fprintf(os.Stderr, "trace t0=%d %s done=%d first/25/50/90/all=%v stall=%dms(ended %d, missing %v) sources=%v faults=%q\n",
					t0.UnixMilli(), nd.ID().Short(), now, marks, longest, longestAt, stalledOn, srcs, fs)
				return
			case <-tick.C:
			}
			ft := runningFetcher(nd, cid)
			if ft == nil {
				continue
			}
			p := ft.Progress()
			now := time.Since(t0).Milliseconds()
			if p.Have > have {
				if now-lastGain > longest {
					longest, longestAt, stalledOn = now-lastGain, now, missing
				}
				have, lastGain = p.Have, now
				missing = nil
				if bm, err := nd.lib.Have(context.Background(), cid); err == nil && p.Total-p.Have <= 4 {
					for i := range p.Total {
						if !bm.Has(i) {
							missing = append(missing, i)
						}
					}
				}
				for k, frac := range []float64{0, 0.25, 0.5, 0.9} {
					if marks[k] == 0 && float64(p.Have) > frac*float64(p.Total) {
						marks[k] = now
					}
				}
			}
			last, faults = p, ft.Faults()
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// handshakes is how many connections nodes opened to their peers so far
// (those of a client replaced when a peer's addresses changed are not
// counted: in the crowd, whose addresses do not change, there are none).
func handshakes(nodes []*Node) int64 { return sumClients(nodes, (*peer.Client).Handshakes) }

// havePolls is how many Have polls nodes sent to their peers so far
// (counted as handshakes is).
func havePolls(nodes []*Node) int64 { return sumClients(nodes, (*peer.Client).HavePolls) }

// sumClients adds up count over the peer clients nodes hold.
func sumClients(nodes []*Node, count func(*peer.Client) int64) int64 {
	var n int64
	for _, nd := range nodes {
		nd.mu.Lock()
		for _, c := range nd.clients {
			n += count(c)
		}
		nd.mu.Unlock()
	}
	return n
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// minorFaults is how many minor page faults this process has taken so far:
// each a first touch of a page of fresh memory (a heap that grows, pages
// the Go runtime gave back and takes again, a new goroutine stack), which
// the kernel zeroes and maps: on the development machine's virtual
// machine 1.5–1.9 µs each while the host backs its memory, and about
// 11–13 µs on a page the VM had handed back to its host (more than
// hashing 4 KiB; see pauseReporting, which the crowd runs under), and so
// a cost of its own in cpu_s that a CPU profile spreads over whatever
// touched them.
func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

// fdWatch samples this process's open file descriptors: at the start, every
// fdEvery and at "done". Listing /proc/self/fd is a getdents over every
// descriptor, and it runs in the crowd's CPU: every 500 ms it was 0.9 % of
// the 500-device crowd's profile.
type fdWatch struct {
	mu sync.Mutex
	n  int
}

func (w *fdWatch) sample() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	w.mu.Lock()
	w.n = max(w.n, len(ents))
	w.mu.Unlock()
}

func (w *fdWatch) watch(stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(fdEvery):
			w.sample()
		}
	}
}

// fdEvery is how often fdWatch samples.
const fdEvery = 2 * time.Second

func (w *fdWatch) max() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// crowdGroup is how many nodes one child process runs (KITH_CROWD_GROUP,
// default 25): 25 nodes with 16–32 peers each stay far below the
// descriptor limit.
func crowdGroup() int {
	if g, err := strconv.Atoi(os.Getenv("KITH_CROWD_GROUP")); err == nil && g > 0 {
		return g
	}
	return 25
}

// childProcs is the GOMAXPROCS each of groups child processes runs with:
// its share of the machine's cores (at least one), so that the children
// together run as many Go schedulers' Ps as there are cores. Each child
// stands for devices that would each have a machine of their own; with
// every child at the default (all cores), 8 children on 2 cores ran 16 Ps,
// whose idle Ps' spinning threads and work stealing cost CPU no device of
// a real crowd pays for its neighbours: 8 MiB N=200, 3 rounds alternated,
// cpu_s 9.35/9.01/9.12 (2 Ps each) against 8.10/7.94/8.56 (1 P each),
// s_all 4.81/4.63/4.68 against 4.18/4.11/4.43 (all processes at 1 P); with
// the parent (the directory and origin) left at 2 Ps, cpu_s 8.73/8.74/8.61
// against 7.95/8.03/8.38, x_bound 2.73/2.64/2.76 against 2.33/2.38/2.62;
// N=50 (2 children) and N=500 (20) no different. 0 leaves the child at the
// default: a GOMAXPROCS set for the benchmark, or one child (it has the
// machine, as its devices would).
func childProcs(groups int) int {
	if os.Getenv("GOMAXPROCS") != "" || groups <= 1 {
		return 0
	}
	return max(1, runtime.NumCPU()/groups)
}

// batchCommand is the command that runs a crowd child: under SCHED_BATCH
// (chrt -b 0, util-linux), unless KITH_CROWD_SCHED=other or there is no
// chrt, when batch is false. A child stands for devices that would each
// have a machine of their own; on this one, every wakeup of one child's
// device (a chunk or a poll arriving) preempted another child's running
// device under the default policy, and the caches each switch empties are
// CPU no device of a real crowd pays for its neighbours. A batch task is
// not preempted on a wakeup; it runs out its slice. The parent (the
// directory and its origin, on a machine of their own in a real crowd)
// keeps the default policy, so it still answers at once. 8 MiB, once, 5
// rounds alternated (docs/notes/2026-12-01/session24/ab/batch2.txt): the
// machine's context switches a device fell from 768 to 500 at N=200 and
// from 1,349 to 815 at N=500; N=500 cpu_s median 34.8 against 42.5 s
// (lower in 4 rounds of 5), x_bound 3.84 against 4.97; N=200 cpu_s 8.91
// against 8.99, x_bound 2.44 against 2.68 (lower in all 5). N=50 (2
// children on 2 cores) is no different (batch.txt, every process batch:
// cpu_s 1.98 against 1.95). The figures say which policy ran (sched_batch).
// A chrt that cannot set the policy here (a sandbox that forbids it) is
// found by one trial run, not by children that never start.
func batchCommand(name string, args ...string) (cmd *exec.Cmd, batch bool) {
	if chrt := batchChrt(); chrt != "" {
		return exec.Command(chrt, append([]string{"-b", "0", name}, args...)...), true
	}
	return exec.Command(name, args...), false
}

// batchChrt is chrt's path when it can run a command under SCHED_BATCH
// here, else "" (and always "" with KITH_CROWD_SCHED=other).
var batchChrt = sync.OnceValue(func() string {
	if os.Getenv("KITH_CROWD_SCHED") == "other" {
		return ""
	}
	chrt, err := exec.LookPath("chrt")
	if err != nil || exec.Command(chrt, "-b", "0", "true").Run() != nil {
		return ""
	}
	return chrt
})

// crowdResult sums what the children reported.
type crowdResult struct {
	all    time.Duration // "go" to the last download finished
	origin int64         // bytes the crowd took from the origin
	down   int64         // bytes the crowd took from anyone (the origin too)
	cpu    time.Duration // every process's CPU from "go" to the crowd's last download: the children's and the parent's (the directory)
	maxFDs int           // most descriptors one child held
	conns  int64         // connections the crowd's nodes opened to each other
	polls  int64         // Have polls the crowd's nodes sent each other
	faults int64         // minor page faults, counted as cpu is
	procs  int
	batch  bool // the children ran under SCHED_BATCH (batchCommand)
	// the VM's free page reporting was paused and the crowd's memory
	// warmed (pauseReporting)
	vmPaused bool
	// a getppid's CPU and a minor fault's, measured before "go"
	// (kernelCost)
	perSyscall, perFault time.Duration
}

// runCrowd starts the nodes of a flash crowd in child processes of at most
// crowdGroup nodes (node i, with start delay delays[i], in group
// i mod groups, so every group has early and late arrivals), waits until
// all are ready, starts them together and waits until every download
// finished; then it stops the children.
func runCrowd(b *testing.B, d *testDirectory, title *directory.Title, delays []time.Duration) crowdResult {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	n := len(delays)
	groups := (n + crowdGroup() - 1) / crowdGroup()
	cfgs := make([]crowdConfig, groups)
	for g := range cfgs {
		cfgs[g] = crowdConfig{Dir: directory.FormatURL(d.url, d.ident.ID()), Account: "crowd", Password: "correct horse battery",
			Title: title.ID, Content: title.ContentID.String(), Group: g}
	}
	for i, dl := range delays {
		cfgs[i%groups].DelaysMs = append(cfgs[i%groups].DelaysMs, dl.Milliseconds())
	}
	reports := make(chan crowdReport, n+2*groups)
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		done  chan struct{}
	}
	kids := make([]*child, groups)
	batch := false
	defer func() {
		for _, k := range kids {
			if k == nil {
				continue
			}
			k.stdin.Close()
			select {
			case <-k.done:
			case <-time.After(30 * time.Second):
				k.cmd.Process.Kill()
				<-k.done
			}
		}
	}()
	for g, cfg := range cfgs {
		raw, _ := json.Marshal(cfg)
		cmd, isBatch := batchCommand(exe, "-test.run=^TestCrowdHelper$", "-test.timeout=0", "-test.count=1")
		batch = isBatch
		cmd.Env = append(os.Environ(), crowdEnv+"="+string(raw))
		if procs := childProcs(groups); procs > 0 {
			cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(procs))
		}
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		k := &child{cmd: cmd, stdin: stdin, done: make(chan struct{})}
		kids[g] = k
		go func() {
			defer close(k.done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line, ok := strings.CutPrefix(sc.Text(), "crowd ")
				if !ok {
					continue
				}
				var r crowdReport
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					r = crowdReport{Err: fmt.Sprintf("group %d: bad line %q: %v", g, line, err)}
				}
				reports <- r
			}
			if err := cmd.Wait(); err != nil {
				reports <- crowdReport{Err: fmt.Sprintf("group %d: %v", g, err)}
			}
		}()
	}
	for ready := 0; ready < groups; {
		select {
		case r := <-reports:
			switch {
			case r.Err != "":
				b.Fatalf("crowd child before the start: %s", r.Err)
			case r.Ready:
				ready++
			}
		case <-time.After(5 * time.Minute):
			b.Fatalf("only %d of %d crowd processes ready after 5 min", ready, groups)
		}
	}
	var res crowdResult
	res.procs, res.batch = groups, batch
	// The host backs the memory the crowd's page caches take before the
	// clock starts (pauseReporting): their libraries, and a quarter more;
	// then the huge pages of every process's buffer arenas (the parent's
	// origin too), twice over for the blocks the kernel splits meanwhile.
	if restore := pauseReporting(b); restore != nil {
		defer restore()
		warmMemory(b, int64(n)*title.Size*5/4)
		warmHuge(b, int64(groups+1)*peer.ArenaBytes*2)
		res.vmPaused = true
	}
	// What a kernel entry costs here, under the memory the crowd runs in
	// (kernelCost): the figures that tell one machine from another.
	res.perSyscall, res.perFault = kernelCost(b)
	if dir := os.Getenv("KITH_CROWD_PROFILE"); dir != "" { // the directory's share of cpu_s
		f, err := os.Create(filepath.Join(dir, "directory.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err == nil { // not when -test.cpuprofile runs
			defer pprof.StopCPUProfile()
		}
	}
	b.ResetTimer()
	cpu0, flt0 := cpuTime(), minorFaults()
	t0 := time.Now()
	for _, k := range kids {
		if _, err := io.WriteString(k.stdin, "go\n"); err != nil {
			b.Fatal(err)
		}
	}
	var errs []string
	done := false // "done" sent: every download finished
	for got, finished := 0, 0; got < n || finished < groups; {
		if got == n && !done {
			done = true
			b.StopTimer()
			res.cpu += cpuTime() - cpu0 // the parent's: the directory and the origin
			res.faults += minorFaults() - flt0
			for _, k := range kids {
				if _, err := io.WriteString(k.stdin, "done\n"); err != nil {
					b.Fatal(err)
				}
			}
		}
		r := <-reports
		switch {
		case r.Finished:
			finished++
			res.cpu += time.Duration(r.CPUMs) * time.Millisecond
			res.maxFDs = max(res.maxFDs, r.MaxFDs)
			res.conns += r.Conns
			res.polls += r.Polls
			res.faults += r.Faults
		case r.Ms > 0:
			got++
			res.origin += r.Origin
			res.down += r.Down
			res.all = time.Since(t0) // the parent's clock: from the first "go" sent
			if r.Err != "" {
				errs = append(errs, r.Err)
			}
		case r.Err != "":
			b.Fatalf("crowd child: %s", r.Err)
		}
	}
	if len(errs) > 0 {
		b.Fatalf("%d of %d downloads failed; first: %s", len(errs), n, errs[0])
	}
	return res
}
