package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Prefix starts the name of every namespace this package creates.
const Prefix = "kith-"

// MaxHosts is the largest LAN New builds (one letter per host).
const MaxHosts = 26

// Iface is the name of the interface onto the LAN of each host made by New.
const Iface = "eth0"

// errNoNetns marks the failure of the very first namespace: the environment
// (a container without CAP_SYS_ADMIN, no /run/netns) does not allow them.
var errNoNetns = errors.New("cannot create network namespaces here")

// LAN is a bridge in its own namespace with hosts attached by veth pairs.
type LAN struct {
	// Run is the "<pid>x<random>" part shared by all namespace names.
	Run string
	// BridgeNS is the namespace holding the bridge "br0".
	BridgeNS string
	// Prefix is the LAN's IPv4 /24 (10.213.X.0/24).
	Prefix netip.Prefix
	// Hosts are the machines on the LAN, in creation order (a, b, c, …).
	Hosts []Host
	// Joined are hosts of other LANs connected to this one by Join.
	Joined []Host
}

// Host is one namespace on a LAN.
type Host struct {
	// Name is the network namespace name, usable with "ip netns exec".
	Name string
	// IP is the host's address on Iface.
	IP netip.Addr
	// Iface is the name of the host's interface onto the LAN: "eth0" for
	// hosts made by New, another name for hosts added by Join.
	Iface string
}

// Command returns a command that runs name with args inside the host's
// namespace ("ip netns exec"). ip execs the command in place, so the
// process's PID and Process.Kill refer to the command itself.
func (h Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Available reports why network namespaces cannot be used here, or nil.
func Available() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces need Linux, this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("creating network namespaces needs root (run the test as root or in a privileged container)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the iproute2 'ip' command is not installed: %w", err)
	}
	return nil
}

// New builds a LAN of n hosts for the test and removes it in t.Cleanup.
// It skips the test when namespaces are unavailable (see Available) and
// fails it when building the LAN goes wrong.
func New(t testing.TB, n int) *LAN {
	t.Helper()
	if n < 1 || n > MaxHosts {
		t.Fatalf("netns.New: %d hosts, want 1..%d", n, MaxHosts)
	}
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	RemoveStale(t.Logf)
	lan, err := build(n)
	if lan != nil {
		t.Cleanup(func() {
			if err := lan.remove(); err != nil {
				t.Errorf("removing test LAN: %v", err)
			}
		})
	}
	if errors.Is(err, errNoNetns) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("building test LAN: %v", err)
	}
	return lan
}

// build creates the namespaces; on error it returns what exists so far so
// the caller can remove it.
func build(n int) (*LAN, error) {
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("random LAN name: %w", err)
	}
	run := strconv.Itoa(os.Getpid()) + "x" + hex.EncodeToString(rnd[:])
	third, ok := takeThird(int(rnd[0]))
	if !ok {
		return nil, errors.New("netns: every 10.213.X.0/24 prefix is in use by this process's LANs")
	}
	lan := &LAN{
		Run:      run,
		BridgeNS: Prefix + run + "-br",
		Prefix:   netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(third), 0}), 24),
	}
	if err := ip("netns", "add", lan.BridgeNS); err != nil {
		releaseThird(third)
		return nil, fmt.Errorf("%w: %w", errNoNetns, err)
	}
	steps := [][]string{
		{"-n", lan.BridgeNS, "link", "set", "lo", "up"},
		{"-n", lan.BridgeNS, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"},
		{"-n", lan.BridgeNS, "link", "set", "br0", "up"},
	}
	if err := ipAll(steps); err != nil {
		return lan, err
	}
	for i := range n {
		h := Host{
			Name:  Prefix + run + "-" + string(rune('a'+i)),
			IP:    netip.AddrFrom4([4]byte{10, 213, byte(third), byte(i + 1)}),
			Iface: Iface,
		}
		if err := ip("netns", "add", h.Name); err != nil {
			return lan, err
		}
		lan.Hosts = append(lan.Hosts, h)
		port := "vh" + strconv.Itoa(i)
		steps := [][]string{
			{"-n", h.Name, "link", "set", "lo", "up"},
			{"-n", lan.BridgeNS, "link", "add", port, "type", "veth", "peer", "name", Iface, "netns", h.Name},
			{"-n", lan.BridgeNS, "link", "set", port, "master", "br0"},
			{"-n", lan.BridgeNS, "link", "set", port, "up"},
			{"-n", h.Name, "addr", "add", h.IP.String() + "/24", "dev", Iface},
			{"-n", h.Name, "link", "set", Iface, "up"},
			{"-n", h.Name, "route", "add", "224.0.0.0/4", "dev", Iface},
		}
		if err := ipAll(steps); err != nil {
			return lan, err
		}
	}
	return lan, nil
}

// Join connects host h of another LAN to this LAN's bridge with a second
// interface and returns h as seen on this LAN: same namespace, an address
// in this LAN's prefix. It makes a multi-homed host for tests of code that
// must work across several interfaces. The extra interface is removed with
// this LAN. The returned Host's Iface is the new interface's name.
func (l *LAN) Join(t testing.TB, h Host) Host {
	t.Helper()
	i := len(l.Hosts) + len(l.Joined)
	if i >= 250 {
		t.Fatalf("netns: LAN %s is full", l.Run)
	}
	third := l.Prefix.Addr().As4()[2]
	j := Host{Name: h.Name, IP: netip.AddrFrom4([4]byte{10, 213, third, byte(i + 1)}),
		Iface: "k" + l.Run[strings.IndexByte(l.Run, 'x')+1:]}
	port := "vj" + strconv.Itoa(i)
	err := ipAll([][]string{
		{"-n", l.BridgeNS, "link", "add", port, "type", "veth", "peer", "name", j.Iface, "netns", j.Name},
		{"-n", l.BridgeNS, "link", "set", port, "master", "br0"},
		{"-n", l.BridgeNS, "link", "set", port, "up"},
		{"-n", j.Name, "addr", "add", j.IP.String() + "/24", "dev", j.Iface},
		{"-n", j.Name, "link", "set", j.Iface, "up"},
		{"-n", j.Name, "route", "add", "224.0.0.0/4", "dev", j.Iface, "metric", strconv.Itoa(100 + i)},
	})
	if err != nil {
		t.Fatalf("joining %s to LAN %s: %v", h.Name, l.Run, err)
	}
	l.Joined = append(l.Joined, j)
	return j
}

// Namespaces lists every namespace of the LAN, bridge first.
func (l *LAN) Namespaces() []string {
	names := []string{l.BridgeNS}
	for _, h := range l.Hosts {
		names = append(names, h.Name)
	}
	return names
}

func (l *LAN) remove() error {
	var errs []error
	for _, name := range l.Namespaces() {
		if err := ip("netns", "del", name); err != nil {
			errs = append(errs, err)
		}
	}
	releaseThird(l.Prefix.Addr().As4()[2])
	return errors.Join(errs...)
}

// thirds are the X of the 10.213.X.0/24 prefixes of this process's LANs.
// Each LAN gets its own, so a host joined to a second LAN (Join) never has
// two interfaces in one prefix, nor a neighbour with its own address: with
// a random X per LAN, two LANs of one test shared it one time in 254
// (share/lan's TestNetnsMultiHomed then saw a host of LAN 2 at the
// address of one of LAN 1). LANs of different processes never meet.
var thirds struct {
	sync.Mutex
	used [256]bool
}

// takeThird reserves a free X in 1..254, trying from 1+start%254 on.
func takeThird(start int) (byte, bool) {
	thirds.Lock()
	defer thirds.Unlock()
	for k := range 254 {
		x := 1 + (start+k)%254
		if !thirds.used[x] {
			thirds.used[x] = true
			return byte(x), true
		}
	}
	return 0, false
}

func releaseThird(x byte) {
	thirds.Lock()
	thirds.used[x] = false
	thirds.Unlock()
}

// RemoveStale deletes namespaces named Prefix+"<pid>x…" whose creating
// process no longer exists: leftovers of a test that crashed before its
// cleanup ran. logf (may be nil) is told about each one removed.
func RemoveStale(logf func(format string, args ...any)) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !stale(name) {
			continue
		}
		if err := ip("netns", "del", name); err == nil && logf != nil {
			logf("netns: removed leftover namespace %s", name)
		}
	}
}

// stale reports whether name is one of ours whose creator is gone.
func stale(name string) bool {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "x")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	_, err = os.Stat("/proc/" + strconv.Itoa(pid))
	return errors.Is(err, os.ErrNotExist)
}

func ipAll(steps [][]string) error {
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// ip runs the ip command with a time limit and returns its stderr on error.
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
