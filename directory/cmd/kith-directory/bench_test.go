package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/directory/sqlitestore"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/sealed"
)

// Benchmark sizes: the catalogue of a busy network.
const (
	benchPerDevice = 10 // holdings per device → 1,000,000 holdings
	benchClients   = 64
)

// benchDevices (100,000) and benchContents (20,000) can be shrunk with
// KITH_BENCH_DEVICES for quick profiling runs.
var benchDevices, benchContents = func() (int, int) {
	if n, err := strconv.Atoi(os.Getenv("KITH_BENCH_DEVICES")); err == nil && n >= 100 {
		return n, n / 5
	}
	return 100_000, 20_000
}()

// helloEnv makes the test binary a hello-world HTTPS server (the baseline
// runs in its own process, like the directory).
const helloEnv = "KITH_DIRECTORY_BENCH_HELLO"

// helloAnswerSize is about the bytes of a lookup's answer in
// BenchmarkDirectory (16 suppliers): the hello-answer-size baseline.
const helloAnswerSize = 3100

func init() {
	if os.Getenv(helloEnv) == "" {
		return
	}
	id, err := identity.Generate()
	if err != nil {
		panic(err)
	}
	cert, err := id.Certificate()
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println("https://" + ln.Addr().String())
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	// /answer-size: a static body as long as a 16-supplier lookup's answer
	// (what the HTTP and TLS stack alone cost for that many bytes)
	big := []byte(`{"hello":"` + strings.Repeat("w", helloAnswerSize-13) + `"}` + "\n")
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/answer-size" {
			_, _ = w.Write(big)
			return
		}
		_, _ = io.WriteString(w, `{"hello":"world"}`+"\n")
	})}
	_ = hs.Serve(tls.NewListener(ln, cfg))
	os.Exit(0)
}

// loadDirectory fills a data directory with benchDevices devices (10 per
// account), each announcing benchPerDevice holdings, and returns the
// content IDs.
func loadDirectory(b *testing.B, data string) []sealed.ContentID {
	ctx := context.Background()
	_, ds, _, _, err := openData(ctx, data, "", os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	st := ds.(*sqlitestore.Store)
	contents := make([]sealed.ContentID, benchContents)
	for i := range contents {
		_, _ = rand.Read(contents[i][:])
	}
	hash, _ := directory.HashPassword("bench-password")
	var accounts []string
	devs := make([]directory.Device, benchDevices)
	anns := make([]directory.AnnounceRecord, benchDevices)
	exp := time.Now().Add(24 * time.Hour)
	modes := []directory.Policy{{Mode: "anyone"}, {Mode: "anyone"}, {Mode: "household"}, {Mode: "anyone", Deny: []string{"acct00001"}}}
	for i := range devs {
		if i%10 == 0 {
			accounts = append(accounts, fmt.Sprintf("acct%05d", i/10))
		}
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		box := make([]byte, 32)
		_, _ = rand.Read(box)
		keys := identity.PublicKeys{Sign: pub, Box: box}
		devs[i] = directory.Device{ID: keys.ID(), Name: "dev", Account: accounts[len(accounts)-1], Keys: keys, Created: time.Now()}
		hs := make([]directory.Holding, 0, benchPerDevice)
		seen := map[int]bool{}
		for len(hs) < benchPerDevice {
			c := mrand.IntN(benchContents)
			if seen[c] {
				continue
			}
			seen[c] = true
			hs = append(hs, directory.Holding{Content: contents[c], Complete: true, Policy: modes[mrand.IntN(len(modes))]})
		}
		anns[i] = directory.AnnounceRecord{Device: keys.ID(), PublicIP: fmt.Sprintf("198.51.%d.%d", i/250%250, i%250),
			Announcement: directory.Announcement{Addrs: []string{fmt.Sprintf("198.51.%d.%d:7000", i/250%250, i%250)},
				PrivateAddrs: []string{fmt.Sprintf("192.168.%d.%d", i%200, i%250)}, Holdings: hs, Load: mrand.IntN(5)},
			Expires: exp}
	}
	start := time.Now()
	if err := st.BulkLoad(ctx, hash, accounts, devs, anns); err != nil {
		b.Fatal(err)
	}
	b.Logf("bulk-loaded %d accounts, %d devices, %d holdings in %s", len(accounts), len(devs), len(devs)*benchPerDevice, time.Since(start).Round(time.Millisecond))
	return contents
}

// startHello runs the hello-world baseline process; it returns its URL and pid.
func startHello(b *testing.B) (string, int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helloEnv+"=1")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		b.Fatal("hello server printed nothing")
	}
	return sc.Text(), cmd.Process.Pid
}

// cpuTime is the user+system CPU time used so far by process pid (0 = this one).
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat, in clock ticks (100 Hz)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// hammer runs n calls of fn over benchClients goroutines and reports
// requests/s, latency percentiles and the CPU time per request spent by the
// server process (serverPid) and by this load generator: the CPU figures do
// not depend on how busy the shared machine is.
func hammer(b *testing.B, n, serverPid int, fn func(i int) error) (rps float64, p50, p99 time.Duration) {
	lat := make([]time.Duration, n)
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	srv0, self0 := cpuTime(serverPid), cpuTime(0)
	for w := 0; w < benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	srvCPU, selfCPU := cpuTime(serverPid)-srv0, cpuTime(0)-self0
	b.StopTimer()
	b.ReportMetric(float64(srvCPU.Microseconds())/float64(n), "server-cpu-us/req")
	b.ReportMetric(float64(selfCPU.Microseconds())/float64(n), "client-cpu-us/req")
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d calls failed, first: %v", f, n, firstErr.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rps = float64(n) / el.Seconds()
	p50, p99 = lat[n/2], lat[n*99/100]
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
	return rps, p50, p99
}

// storeWrites reads the store writer's commits and writes from /metrics.
func storeWrites(b *testing.B, p *proc) (commits, writes int64) {
	commits, _ = strconv.ParseInt(metric(b, p, "kith_directory_store_commits_total"), 10, 64)
	writes, _ = strconv.ParseInt(metric(b, p, "kith_directory_store_writes_total"), 10, 64)
	return commits, writes
}

// waitOnline waits until the server has read who is online from its store
// (a one-time start-up cost: the benchmark measures the steady state).
func waitOnline(b *testing.B, p *proc) {
	start := time.Now()
	for time.Since(start) < 2*time.Minute {
		resp, body := rawReq(b, p, "GET", "/healthz", nil, nil, time.Now())
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"online":"loaded"`) {
			b.Logf("online index loaded %s after start-up checks", time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatal("the online index did not load in 2 minutes")
}

// purchaseRuns numbers BenchmarkDirectory/purchases' runs in this test
// process, so every run's buyers are new accounts.
var purchaseRuns atomic.Int64

// BenchmarkDirectory measures, in one run against a real serve process
// holding 100,000 devices and 1,000,000 holdings: a hello-world HTTPS
// handler (baseline), supplier lookups (ranked, filtered) at 64 concurrent
// clients, authenticated by the device's connection and, for comparison,
// signed one by one, and purchases with synchronous=FULL.
//
//	go test -tags libsqlite3 -run '^$' -bench BenchmarkDirectory -benchtime 20000x ./directory/cmd/kith-directory
func BenchmarkDirectory(b *testing.B) {
	ctx := context.Background()
	data := b.TempDir()
	contents := loadDirectory(b, data)
	const titles = 100
	titleIDs := make([]string, titles)
	for i := range titleIDs {
		titleIDs[i], _ = publishInProcess(b, data, fmt.Sprintf("Bench %03d", i), 199)
	}
	// --max-devices -1: the 64 askers are one account's devices.
	p := serve(b, data, "--rate-ip", "-1", "--rate-device", "-1", "--max-devices", "-1")
	// 64 clients: 64 devices, each with its own directory client (and so
	// its own connections, made with its certificate), like hello-world's
	// 64 connections.
	askers := make([]*device, benchClients)
	signers := make([]*directory.Client, benchClients)
	for i := range askers {
		askers[i] = enroll(b, p, "asker", fmt.Sprintf("bench%02d", i))
		c, err := directory.NewClient(directory.ClientOptions{URL: p.url, Device: askers[i].id, SignRequests: true})
		if err != nil {
			b.Fatal(err)
		}
		signers[i] = c
	}
	hello, helloPid := startHello(b)
	waitOnline(b, p)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13},
		MaxIdleConnsPerHost: benchClients, ForceAttemptHTTP2: false}
	hc := &http.Client{Transport: tr}
	var helloRPS, lookRPS float64

	b.Run("hello", func(b *testing.B) {
		helloRPS, _, _ = hammer(b, b.N, helloPid, func(int) error {
			resp, err := hc.Get(hello + "/")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})
	})
	// hello-answer-size: the same server answering a static body the size of
	// a lookup's answer, read and dropped (no decoding)
	b.Run("hello-answer-size", func(b *testing.B) {
		hammer(b, b.N, helloPid, func(int) error {
			resp, err := hc.Get(hello + "/answer-size")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})
	})
	// suppliers: each device's own client, whose connections are made with
	// its certificate (requests authenticated by the connection);
	// suppliers-signed: the same lookups each signed with the device key
	// (what a client that cannot present its certificate does).
	own := make([]*directory.Client, len(askers))
	for i, a := range askers {
		own[i] = a.c
	}
	for _, v := range []struct {
		name string
		cs   []*directory.Client
	}{{"suppliers", own}, {"suppliers-signed", signers}} {
		b.Run(v.name, func(b *testing.B) {
			var total atomic.Int64
			lookRPS, _, _ = hammer(b, b.N, p.cmd.Process.Pid, func(i int) error {
				s, err := v.cs[i%len(v.cs)].Suppliers(ctx, contents[i%len(contents)])
				total.Add(int64(len(s)))
				return err
			})
			b.ReportMetric(float64(total.Load())/float64(b.N), "suppliers/lookup")
			if helloRPS > 0 {
				b.ReportMetric(lookRPS/helloRPS, "x-hello")
			}
		})
	}
	b.Run("purchases", func(b *testing.B) {
		// each purchase is a new (account, title) pair: n/titles buyers,
		// sharing one connection pool (as one busy front end would); the
		// buyers' names are new in every run of this serve process (with
		// -count, a second run's buyers would otherwise be the first's
		// accounts, registering titles they already own on a new device)
		n := b.N
		run := purchaseRuns.Add(1)
		buyers := make([]*device, (n+titles-1)/titles)
		for i := range buyers {
			buyers[i] = enrollWith(b, p, fmt.Sprintf("buyer%dx%05d", run, i), "bench", hc)
		}
		regs := make([]func() error, n)
		for i := range regs {
			d, sr := buyers[i/titles], buyers[i/titles].seal(b, titleIDs[i%titles], goodCard)
			regs[i] = func() error { _, err := d.c.Register(ctx, sr); return err }
		}
		commits0, writes0 := storeWrites(b, p)
		hammer(b, n, p.cmd.Process.Pid, func(i int) error { return regs[i]() })
		commits, writes := storeWrites(b, p)
		if commits > commits0 {
			b.ReportMetric(float64(writes-writes0)/float64(n), "writes/purchase")
			b.ReportMetric(float64(writes-writes0)/float64(commits-commits0), "writes/commit")
		}
	})
}
