package netns

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/leakcheck"
)

// helperEnv makes the re-executed test binary act as a UDP helper instead
// of running tests: "echo" answers one datagram, "send" sends one to
// KITH_NETNS_PEER and prints the answer.
const helperEnv = "KITH_NETNS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.Main(m)
}

func helper(mode string) error {
	switch mode {
	case "echo":
		c, err := net.ListenPacket("udp4", ":7777")
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Println("listening")
		buf := make([]byte, 100)
		_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // the sender is a process still to start
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		_, err = c.WriteTo(append([]byte("echo "), buf[:n]...), from)
		return err
	case "send":
		c, err := net.Dial("udp4", os.Getenv("KITH_NETNS_PEER")+":7777")
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 100)
		for range 20 { // the echo side may still be starting
			if _, err := c.Write([]byte("hello")); err != nil {
				return err
			}
			_ = c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				fmt.Println(string(buf[:n]))
				return nil
			}
		}
		return fmt.Errorf("no answer from %s", c.RemoteAddr())
	case "tcp-serve": // accept one connection and tell it the address it came from
		ln, err := net.Listen("tcp4", ":7000")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println("listening")
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = fmt.Fprintln(c, c.RemoteAddr())
		return err
	case "tcp-dial": // print what the tcp-serve helper at KITH_NETNS_PEER says
		c, err := net.DialTimeout("tcp4", os.Getenv("KITH_NETNS_PEER")+":7000", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		fmt.Print(string(b))
		return err
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// TestLAN builds a two-host LAN, checks addresses and the multicast route,
// and sends a UDP datagram from a to b and back over the bridge.
func TestLAN(t *testing.T) {
	lan := New(t, 2)
	if len(lan.Hosts) != 2 {
		t.Fatalf("got %d hosts, want 2", len(lan.Hosts))
	}
	a, b := lan.Hosts[0], lan.Hosts[1]
	if !lan.Prefix.Contains(a.IP) || !lan.Prefix.Contains(b.IP) || a.Iface != Iface {
		t.Fatalf("hosts %+v, %+v outside %v", a, b, lan.Prefix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // two test binaries to start
	defer cancel()
	out, err := b.Command(ctx, "ip", "route", "show", "224.0.0.0/4").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev "+Iface) {
		t.Fatalf("multicast route in %s: %v %q", b.Name, err, out)
	}

	echo := b.Command(ctx, os.Args[0], "-test.run=^$")
	echo.Env = append(os.Environ(), helperEnv+"=echo")
	echo.Stderr = os.Stderr
	echoOut, err := echo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := echo.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = echo.Process.Kill(); _ = echo.Wait() }()
	// The sender starts once the echo side listens: sent earlier, its
	// datagrams are refused (ICMP port unreachable), and its 20 tries could
	// all end before a test binary started on a loaded machine.
	if line, err := bufio.NewReader(echoOut).ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("echo side in %s: %q, %v", b.Name, line, err)
	}
	send := a.Command(ctx, os.Args[0], "-test.run=^$")
	send.Env = append(os.Environ(), helperEnv+"=send", "KITH_NETNS_PEER="+b.IP.String())
	got, err := send.Output()
	if err != nil || strings.TrimSpace(string(got)) != "echo hello" {
		t.Fatalf("UDP from %s to %s: %v, got %q", a.Name, b.IP, err, got)
	}
}

// TestJoin makes a host multi-homed and checks its second interface.
func TestJoin(t *testing.T) {
	lan1, lan2 := New(t, 1), New(t, 1)
	if lan1.Prefix == lan2.Prefix { // one time in 254 when each LAN drew its own
		t.Fatalf("two LANs of one process share the prefix %v", lan1.Prefix)
	}
	h := lan2.Join(t, lan1.Hosts[0])
	if h.Name != lan1.Hosts[0].Name || !lan2.Prefix.Contains(h.IP) || h.Iface == Iface {
		t.Fatalf("joined host %+v", h)
	}
	out, err := h.Command(context.Background(), "ip", "-o", "addr", "show", "dev", h.Iface).CombinedOutput()
	if err != nil || !strings.Contains(string(out), h.IP.String()+"/24") {
		t.Fatalf("address of %s in %s: %v %s", h.Iface, h.Name, err, out)
	}
}

// TestCleanup checks that a LAN's namespaces are gone after its test.
func TestCleanup(t *testing.T) {
	var names []string
	t.Run("build", func(t *testing.T) { names = New(t, 2).Namespaces() })
	if len(names) == 0 {
		t.Skip("LAN not built")
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s still exists after cleanup", n)
		}
	}
}

// TestStale checks which namespace names count as leftovers.
func TestStale(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"kith-1x00aa-a", false},           // pid 1 always exists
		{"kith-2147483646x00aa-a", true},   // no such process
		{"other-2147483646x00aa-a", false}, // not ours
		{"kith-probe", false},              // no pid part
		{"kith-abcx00-a", false},           // pid not a number
	} {
		if got := stale(c.name); got != c.want {
			t.Errorf("stale(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRemoveStale leaves a namespace as a crashed run would and checks that
// RemoveStale deletes it.
func TestRemoveStale(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	name := fmt.Sprintf("%s2147483646x%06x-a", Prefix, time.Now().UnixNano()&0xffffff)
	if err := ip("netns", "add", name); err != nil {
		t.Skipf("skipping: %v", err)
	}
	t.Cleanup(func() { _ = ip("netns", "del", name) })
	var removed []string
	RemoveStale(func(format string, args ...any) { removed = append(removed, fmt.Sprintf(format, args...)) })
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), name) {
		t.Fatalf("stale namespace %s not removed; log %q", name, removed)
	}
}

// TestNATInternet: a home host reaches a public server through its
// router, which the server sees as the connection's source (masquerade);
// the server cannot open a connection to the router (dropped, and
// counted) nor to the home host (no route).
func TestNATInternet(t *testing.T) {
	in := NewInternet(t, 1, HomeSpec{Hosts: 1}, HomeSpec{Hosts: 1, NAT: NATSymmetric})
	srv := in.Servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, home := range in.Homes {
		l := srv.Command(ctx, os.Args[0], "-test.run=^$")
		l.Env = append(os.Environ(), helperEnv+"=tcp-serve")
		out, err := l.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "listening" {
			t.Fatalf("tcp-serve did not start: %q", sc.Text())
		}
		d := home.LAN.Hosts[0].Command(ctx, os.Args[0], "-test.run=^$")
		d.Env = append(os.Environ(), helperEnv+"=tcp-dial", "KITH_NETNS_PEER="+srv.IP.String())
		got, err := d.CombinedOutput()
		if err != nil {
			t.Fatalf("home host (%s NAT) could not connect out: %v: %s", home.NAT, err, got)
		}
		l.Wait()
		if seen := strings.TrimSpace(string(got)); !strings.HasPrefix(seen, home.Router.IP.String()+":") {
			t.Errorf("%s NAT: the server saw the connection from %s, want the router %s", home.NAT, seen, home.Router.IP)
		}
		for _, target := range []string{home.Router.IP.String(), home.LAN.Hosts[0].IP.String()} {
			d := srv.Command(ctx, os.Args[0], "-test.run=^$")
			d.Env = append(os.Environ(), helperEnv+"=tcp-dial", "KITH_NETNS_PEER="+target)
			if out, err := d.CombinedOutput(); err == nil {
				t.Errorf("the public host opened a connection to %s behind the router: %s", target, out)
			}
		}
		if n, err := home.Dropped(ctx); err != nil || n == 0 {
			t.Errorf("router dropped %d connections (%v), want the attempt counted", n, err)
		}
	}
}
