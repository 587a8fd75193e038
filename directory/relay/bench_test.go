package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/share/identity"
)

// helperEnv makes the re-executed test binary run a relay (for benchmarks
// that measure its CPU apart from the two ends): KITH_RELAY_HELPER=serve,
// KITH_RELAY_DIRECTORY=<fingerprint>. It prints "<relay ID> <address>" and
// serves until its stdin closes. KITH_RELAY_HELPER=batch runs
// TestBatchScheduling's child (Linux).
const helperEnv = "KITH_RELAY_HELPER"

// helperBatch is TestBatchScheduling's child, on Linux (sched_linux_test.go).
var helperBatch func() error

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h == "serve" || h == "batch" && helperBatch != nil {
		run := helperServe
		if h == "batch" {
			run = helperBatch
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "relay helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.Main(m) // and fails the tests if they leave goroutines running
}

func helperServe() error {
	// The relay process runs as kith-relay does (see BatchScheduling).
	if err := BatchScheduling(); err != nil {
		return err
	}
	id, err := identity.Generate()
	if err != nil {
		return err
	}
	srv, err := NewServer(Options{Identity: id, Directory: identity.ID(os.Getenv("KITH_RELAY_DIRECTORY")),
		RateTotal: 1 << 40, RatePerDevice: 1 << 40, BytesPerDevice: 1 << 50, Logger: quiet()}) // caps on, far above loopback
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(id.ID(), ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	return srv.Serve(ctx, ln)
}

// childRelay starts a relay in a child process and returns its ID,
// address and a function reading its CPU time so far.
func childRelay(b *testing.B, dir identity.ID) (identity.ID, string, func() time.Duration) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=serve", "KITH_RELAY_DIRECTORY="+string(dir))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("relay helper: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		b.Fatalf("relay helper said %q", line)
	}
	cpu := func() time.Duration {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		// fields after the command name: utime and stime are the 14th and 15th
		rest := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
		ut, _ := strconv.ParseInt(rest[11], 10, 64)
		stt, _ := strconv.ParseInt(rest[12], 10, 64)
		return time.Duration(ut+stt) * time.Second / 100 // USER_HZ
	}
	return identity.ID(f[0]), f[1], cpu
}

// BenchmarkRelayThroughput sends 256 MiB per op over mutual TLS 1.3
// between two device identities: directly over loopback TCP, and through
// a relay in its own process (MB/s; the relayed run also reports the
// relay process's CPU seconds per GB spliced).
func BenchmarkRelayThroughput(b *testing.B) {
	const size = 256 << 20
	dir, sup, asker := newID(b), newID(b), newID(b)
	// cpu-s/GB is the CPU of every process involved (this one, holding
	// both TLS ends, and the relay's) per GB: unlike MB/s it hardly moves
	// with the load of a shared machine, and on a CPU-bound one the
	// throughput ratio follows its inverse.
	run := func(b *testing.B, dial func(context.Context) (net.Conn, error), accept func() (net.Conn, error), relayCPU func() time.Duration) {
		buf := make([]byte, 256<<10)
		b.SetBytes(size)
		cpu0, rcpu0 := selfCPU(b), relayCPU()
		defer func() {
			b.StopTimer()
			gb := float64(b.N) * size / 1e9
			b.ReportMetric(((selfCPU(b)-cpu0)+(relayCPU()-rcpu0)).Seconds()/gb, "cpu-s/GB")
		}()
		b.ResetTimer()
		for range b.N {
			errc := make(chan error, 1)
			go func() {
				c, err := accept()
				if err != nil {
					errc <- err
					return
				}
				tc := tls.Server(c, sup.ServerTLS(nil))
				defer tc.Close()
				for sent := 0; sent < size; sent += len(buf) {
					if _, err := tc.Write(buf); err != nil {
						errc <- err
						return
					}
				}
				errc <- tc.CloseWrite()
			}()
			c, err := dial(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			tc := tls.Client(c, asker.ClientTLS(sup.ID()))
			n, err := io.CopyBuffer(io.Discard, tc, make([]byte, 256<<10))
			tc.Close()
			if err != nil || n != size {
				b.Fatalf("received %d bytes: %v", n, err)
			}
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		var d net.Dialer
		run(b, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", ln.Addr().String()) }, ln.Accept,
			func() time.Duration { return 0 })
	})
	b.Run("relayed", func(b *testing.B) {
		rid, addr, cpu := childRelay(b, dir.ID())
		ln, err := NewListener(ListenerOptions{Identity: sup, Addr: addr, RelayID: rid, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go ln.Serve(ctx)
		for !ln.Connected() {
			time.Sleep(5 * time.Millisecond)
		}
		tk, err := SignTicket(dir, Ticket{Asker: asker.ID(), Supplier: sup.ID(), Expires: time.Now().Add(MaxTicketTTL)})
		if err != nil {
			b.Fatal(err)
		}
		before := cpu()
		run(b, func(ctx context.Context) (net.Conn, error) { return Dial(ctx, addr, tk) }, ln.Accept, cpu)
		b.StopTimer()
		spliced := float64(b.N) * size
		b.ReportMetric((cpu()-before).Seconds()/(spliced/1e9), "relay-cpu-s/GB")
	})
}
