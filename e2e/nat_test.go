package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-media/kith/directory/relay"
	"github.com/kith-media/kith/internal/datadir"
	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/share/identity"
	"github.com/kith-media/kith/share/peer"
	"github.com/kith-media/kith/share/sealed"
)

// helperTicket loads the relay helpers' asker key (KITH_E2E_KEY) and
// supplier (KITH_E2E_SUPPLIER) and signs them a ticket valid for ttl with
// KITH_E2E_SIGNER, as the directory (or a forger) would.
func helperTicket(ttl time.Duration) (self *identity.Identity, sup identity.ID, ticket []byte, err error) {
	if self, err = identity.Load(os.Getenv("KITH_E2E_KEY")); err != nil {
		return nil, sup, nil, err
	}
	signer, err := identity.Load(os.Getenv("KITH_E2E_SIGNER"))
	if err != nil {
		return nil, sup, nil, err
	}
	if sup, err = identity.ParseID(os.Getenv("KITH_E2E_SUPPLIER")); err != nil {
		return nil, sup, nil, err
	}
	ticket, err = relay.SignTicket(signer, relay.Ticket{Asker: self.ID(), Supplier: sup, Expires: time.Now().Add(ttl)})
	return self, sup, ticket, err
}

// helperRelayOffer runs in an asker's namespace: it signs a relay ticket
// with KITH_E2E_SIGNER (a key file: the directory's, or any other to
// forge one) for the device of KITH_E2E_KEY to reach KITH_E2E_SUPPLIER,
// expiring KITH_E2E_TTL from now, dials the relay KITH_E2E_RELAY and asks
// the supplier for its offer over the end-to-end TLS. It prints "offers
// N", "status S" or "refused: REASON".
func helperRelayOffer() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	ttl, err := time.ParseDuration(os.Getenv("KITH_E2E_TTL"))
	if err != nil {
		return fail(err)
	}
	self, sup, tk, err := helperTicket(ttl)
	if err != nil {
		return fail(err)
	}
	dial := func(ctx context.Context) (net.Conn, error) { return relay.Dial(ctx, os.Getenv("KITH_E2E_RELAY"), tk) }
	c, err := peer.NewClient(self, sup, nil, peer.ClientOptions{Relay: dial})
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offers, err := c.Offer(ctx)
	var re *relay.RefusedError
	var se *peer.StatusError
	switch {
	case errors.As(err, &re):
		fmt.Println("refused:", re.Code)
	case errors.As(err, &se):
		fmt.Println("status", se.Status)
	case err != nil:
		return fail(err)
	default:
		fmt.Println("offers", len(offers))
	}
	return 0
}

// helperRelayHold opens KITH_E2E_N relay sessions one after the other
// (as helperRelayOffer signs its ticket) and keeps them all open, printing
// "ok" or "refused: REASON" for each: the relay's session caps at work.
func helperRelayHold() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	n, err := strconv.Atoi(os.Getenv("KITH_E2E_N"))
	if err != nil {
		return fail(err)
	}
	_, _, tk, err := helperTicket(time.Minute)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range n {
		c, err := relay.Dial(ctx, os.Getenv("KITH_E2E_RELAY"), tk)
		var re *relay.RefusedError
		switch {
		case errors.As(err, &re):
			fmt.Println("refused:", re.Code)
		case err != nil:
			return fail(err)
		default:
			defer c.Close()
			fmt.Println("ok")
		}
	}
	return 0
}

// helperTamperProxy is a relay gone bad: it listens on KITH_E2E_LISTEN,
// forwards each connection to the relay at KITH_E2E_RELAY and flips one
// bit 40 KiB into what comes back (past the TLS handshake, inside the
// supplier's records). It prints "listening" and runs until killed.
func helperTamperProxy() int {
	ln, err := net.Listen("tcp", os.Getenv("KITH_E2E_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", os.Getenv("KITH_E2E_RELAY"))
			if err != nil {
				return
			}
			defer up.Close()
			go func() { io.Copy(up, c); up.Close() }()
			buf := make([]byte, 32<<10)
			var n int64
			for {
				k, err := up.Read(buf)
				if k > 0 {
					if at := int64(40 << 10); n <= at && n+int64(k) > at {
						buf[at-n] ^= 0x01
					}
					n += int64(k)
					if _, err := c.Write(buf[:k]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// helperRelayFetch fetches content KITH_E2E_CID from KITH_E2E_SUPPLIER
// through the relay at KITH_E2E_RELAY (a ticket signed as
// helperRelayOffer does) and prints what the client blames: "relay" for
// a failure of the relayed path (peer.ErrRelay), "supplier" for proof
// against the supplier (peer.ErrMisbehaving), "ok" if every chunk came.
func helperRelayFetch() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	cid, err := sealed.ParseContentID(os.Getenv("KITH_E2E_CID"))
	if err != nil {
		return fail(err)
	}
	self, sup, tk, err := helperTicket(time.Minute)
	if err != nil {
		return fail(err)
	}
	dial := func(ctx context.Context) (net.Conn, error) { return relay.Dial(ctx, os.Getenv("KITH_E2E_RELAY"), tk) }
	c, err := peer.NewClient(self, sup, nil, peer.ClientOptions{Relay: dial})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := c.Manifest(ctx, cid)
	for i := 0; err == nil && i < m.NumChunks(); i++ {
		var ch []byte
		if ch, err = c.Chunk(ctx, m, i, nil); err == nil {
			err = m.VerifyChunk(i, ch)
		}
	}
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.Is(err, peer.ErrMisbehaving):
		fmt.Println("supplier")
	case errors.Is(err, peer.ErrRelay):
		fmt.Println("relay")
	default:
		fmt.Println("other:", err)
	}
	return 0
}

// TestNATRelay (issue 16): A, behind home router 1, serves B, behind home
// router 2 (a symmetric NAT), with the directory and the relay on a
// public segment; neither router lets a connection in.
//
//  1. The relay is down: A cannot be reached and serves 0 bytes; B's
//     download completes from the origin.
//  2. The relay runs: A keeps a connection to it; B downloads every byte
//     from A through it (conntrack on router 2 shows only the relay), the
//     origin sends 0, and the relay's counters carry the bytes.
//     2b. D, behind a port-preserving NAT: its download starts through the
//     relay, a hole punch opens a direct connection meanwhile, and the
//     rest of the transfer moves to it: the relay carried part of it and
//     its sessions for D end, router 3's conntrack counts the rest on the
//     direct connection, A's ledger credits D with every byte.
//  3. A's copy restriction refuses E through the relay, even with a ticket
//     (forged here with the directory's key: the directory itself issues
//     none to E); expired and foreign tickets are refused by the relay; a
//     relay that flips a bit makes B's TLS fail, and B blames the relay, not A.
//  4. The relay killed mid-transfer: B's download completes from the origin.
//  5. The relay restarted with at most 2 sessions per device: a third
//     session to A is refused "relay busy". With a byte budget of 1 MiB
//     for A: B's fetch through it is cut, the relay having carried at
//     most the budget (counted exactly), and the next session is refused.
//     With at most 6 connections per address: home 2's public address
//     gets no more, home 3's still does.
func TestNATRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the end-to-end run takes a minute (run without -short)")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	tmp := t.TempDir()
	say(t, "== NAT: building kith-directory, kithctl and kith-relay")
	kd, kc := buildBinaries(t)
	kr := buildRelay(t, tmp)
	in := netns.NewInternet(t, 2, netns.HomeSpec{Hosts: 1}, netns.HomeSpec{Hosts: 2, NAT: netns.NATSymmetric}, netns.HomeSpec{Hosts: 1})
	dirHost, relayHost := in.Servers[0], in.Servers[1]
	home1, home2, home3 := in.Homes[0], in.Homes[1], in.Homes[2]
	relayAddr := relayHost.IP.String() + ":7400"

	// The relay's key exists before it first runs, so the directory can
	// name it while it is still down (phase 1).
	relayData := filepath.Join(tmp, "relay")
	rid, _, err := identity.LoadOrCreate(filepath.Join(relayData, "relay.key"))
	if err != nil {
		t.Fatal(err)
	}

	say(t, "== 0. kith-directory serve --relay-at %s@%s", rid.ID().Short(), relayAddr)
	dirData := filepath.Join(tmp, "directory")
	_, dirURL := startDirectory(t, dirHost, kd, dirData, filepath.Join(tmp, "directory.log"),
		"--name", "NAT directory", "--announce-ttl", "30s",
		"--relay-at", string(rid.ID())+"@"+relayAddr, "--metrics-addr", metricsAddr)
	base, dirFP, _ := strings.Cut(dirURL, "#")

	titles := map[string]title{}
	for _, m := range []struct {
		name string
		secs time.Duration
	}{{"Origin Only", 10 * time.Second}, {"Far Away", 20 * time.Second}, {"Punch Through", 60 * time.Second}, {"Cut Cable", 60 * time.Second}} {
		p := filepath.Join(tmp, m.name+".wav")
		writeTone(t, p, 330, m.secs)
		out, err := dirHost.Command(context.Background(), kd, "publish", p, "--data", dirData, "--title", m.name,
			"--artist", "NAT Tones", "--price", "0", "--rights", "reshare").Output()
		if err != nil {
			t.Fatalf("publishing %s: %v", m.name, err)
		}
		var ti title
		if err := json.Unmarshal(out, &ti); err != nil {
			t.Fatalf("publish output %q: %v", out, err)
		}
		titles[m.name] = ti
	}
	first, far, punch, cut := titles["Origin Only"], titles["Far Away"], titles["Punch Through"], titles["Cut Cable"]

	dev := func(name string, h netns.Host) *device {
		d := &device{t: t, name: name, host: h, data: filepath.Join(tmp, name), kithctl: kc, dirURL: dirURL}
		d.serve()
		return d
	}
	A, B, E := dev("A", home1.LAN.Hosts[0]), dev("B", home2.LAN.Hosts[0]), dev("E", home2.LAN.Hosts[1])
	D := dev("D", home3.LAN.Hosts[0])
	A.signup("alice", "alice-password")
	B.signup("bob", "bob-password")
	E.signup("eve", "eve-password")
	D.signup("dora", "dora-password")
	A.run(nil, "policy", "default", "anyone", "--deny", "eve")
	for _, ti := range []title{first, far, punch, cut} {
		A.run(nil, "buy", ti.ID)
		A.run(nil, "policy", ti.ID, "anyone", "--deny", "eve")
		if _, err := A.lines("fetch", ti.ID); err != nil {
			t.Fatal(err)
		}
	}

	say(t, "== 1. relay down: A is unreachable and serves nothing; B gets %q from the origin", first.Name)
	eventually(t, 30*time.Second, "the directory lists A as unreachable", func() error {
		return reachOf(B, first.ID, A.id, "unreachable")
	})
	if n, err := home1.Dropped(context.Background()); err != nil || n == 0 {
		t.Errorf("router 1 dropped %d connections from outside (%v): the directory's check should be one", n, err)
	}
	B.run(nil, "buy", first.ID)
	ls, err := B.lines("fetch", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	src := lastSources(ls)
	if src[A.id] != 0 || src["origin"] == 0 {
		t.Fatalf("B's sources %v, want the origin only", src)
	}
	say(t, "   B took %d bytes from the origin, 0 from A", src["origin"])

	say(t, "== 2. kith-relay runs: B gets %q from A through it", far.Name)
	relayProc := start(t, relayHost, "relay", filepath.Join(tmp, "relay.log"), nil, kr, "--data", relayData,
		"--addr", relayAddr, "--directory", dirFP, "--metrics-addr", "127.0.0.1:9465", "--rate-per-device", strconv.Itoa(relayRate))
	eventually(t, 90*time.Second, "the directory lists A as relayed", func() error {
		return reachOf(B, far.ID, A.id, "relayed")
	})
	B.run(nil, "buy", far.ID)
	originBefore := originBytes(t, dirHost, base)[far.Content] // A's own download of it
	relayedBefore, fetchStart := relayCounter(t, relayHost, "kith_relay_bytes_total"), time.Now()
	fb := B.startFetch(t, far.ID)
	var firstFromA time.Duration // B's first bytes from A: through the splice at once, not after a failed punch
	ls = nil
	for l := range fb.lines {
		ls = append(ls, l)
		for _, s := range l.Sources {
			if firstFromA == 0 && s.ID == A.id && s.Bytes > 0 {
				firstFromA = time.Since(fetchStart)
			}
		}
	}
	if err := <-fb.done; err != nil {
		t.Fatal(err)
	}
	fetchTook := time.Since(fetchStart)
	src = lastSources(ls)
	others := int64(0)
	for id, n := range src {
		if id != A.id {
			others += n
		}
	}
	if src[A.id] == 0 || others != 0 {
		t.Fatalf("B's sources %v, want A only", src)
	}
	if n := originBytes(t, dirHost, base)[far.Content] - originBefore; n != 0 {
		t.Errorf("the origin sent %d bytes of %q", n, far.Name)
	}
	if a, b := fileHash(t, A.sealedPath(far.Content)), fileHash(t, B.sealedPath(far.Content)); a != b {
		t.Error("B's sealed file differs from A's")
	}
	eventually(t, 60*time.Second, "A's ledger credits B with every relayed byte", func() error {
		return ledgerUp(A, B.id, far.Content, src[A.id])
	})
	relayed := relayCounter(t, relayHost, "kith_relay_bytes_total") - relayedBefore
	if relayed < src[A.id] {
		t.Errorf("the relay spliced %d bytes, fewer than the %d B took from A", relayed, src[A.id])
	}
	// A's rate cap holds between the namespaces: past the bucket's burst
	// (a quarter second's worth), the relay cannot have carried the bytes
	// faster than relayRate (a floor on the time: load only adds to it).
	if least := time.Duration(float64(relayed-relayRate/4) / relayRate * float64(time.Second)); fetchTook < least {
		t.Errorf("B's fetch of %d relayed bytes took %v, under the %v A's rate cap of %d B/s allows", relayed, fetchTook, least, relayRate)
	}
	ct, err := home2.Conntrack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// B's punch attempts (its symmetric NAT gives them other ports than
	// the relay saw) stay UNREPLIED: nothing to A's router is established.
	if !strings.Contains(ct, "dst="+relayHost.IP.String()) || establishedTo(ct, home1.Router.IP.String()) {
		t.Errorf("router 2's established connections do not go (only) to the relay:\n%s", ct)
	}
	say(t, "   B took %d bytes from A through the relay (symmetric NAT on B's side), 0 from the origin, in %v (relay cap %d B/s); first bytes from A after %v",
		src[A.id], fetchTook.Round(time.Millisecond), relayRate, firstFromA.Round(time.Millisecond))

	say(t, "== 2b. D, behind a port-preserving NAT like A's: %q starts through the relay and moves to a punched hole", punch.Name)
	spliced, punches := relayCounter(t, relayHost, "kith_relay_bytes_total"), relayCounter(t, relayHost, "kith_relay_punches_total")
	sessionsBefore := relayCounter(t, relayHost, "kith_relay_sessions")
	// The relay's rate cap (relayRate) keeps the spliced start slow enough
	// for the punch (200 ms after the relay's word, plus its round trips)
	// to land mid-transfer: uncapped, the relay carried all 10.5 MB first.
	D.run(nil, "buy", punch.ID)
	originBefore = originBytes(t, dirHost, base)[punch.Content]
	fd := D.startFetch(t, punch.ID)
	for range fd.lines {
	}
	if err := <-fd.done; err != nil {
		t.Fatal(err)
	}
	src = map[string]int64{}
	for _, s := range fd.last.Sources {
		if s.Origin {
			src["origin"] += s.Bytes
		} else {
			src[s.ID] += s.Bytes
		}
	}
	if src[A.id] == 0 || src["origin"] != 0 {
		t.Fatalf("D's sources %v, want A only", src)
	}
	if n := originBytes(t, dirHost, base)[punch.Content] - originBefore; n != 0 {
		t.Errorf("the origin sent %d bytes of %q", n, punch.Name)
	}
	eventually(t, 60*time.Second, "A's ledger credits D with every byte, relayed and punched", func() error {
		return ledgerUp(A, D.id, punch.Content, src[A.id])
	})
	// D's spliced sessions end (retired after the move) while D keeps
	// running: the relay's counters stop (then read, with the TLS
	// close_notify of the retired connections counted).
	eventually(t, 60*time.Second, "D's relay sessions end after the move", func() error {
		if n := relayCounterTry(relayHost, "kith_relay_sessions"); n < 0 || n > sessionsBefore {
			return fmt.Errorf("%d relay sessions, %d before D's download", n, sessionsBefore)
		}
		return nil
	})
	final := relayCounter(t, relayHost, "kith_relay_bytes_total")
	if final-spliced == 0 {
		t.Error("the relay spliced nothing: D's transfer should start through it")
	}
	// The relay counts both directions of the TLS stream; what it carried
	// of A's answers is less. So at least this much came some other way,
	// and the sources say all of it came from A: directly.
	if direct := src[A.id] - (final - spliced); direct < 1<<20 {
		t.Errorf("the relay spliced %d bytes of D's %d from A: less than 1 MiB can have come directly", final-spliced, src[A.id])
	}
	if got := relayCounter(t, relayHost, "kith_relay_punches_total") - punches; got == 0 {
		t.Error("the relay coordinated no hole punch")
	}
	// Router 3's conntrack: the direct connection(s) to A's router carried
	// what the relay did not (A's answers: the reply direction).
	ct, err = home3.Conntrack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	direct := replyBytesFrom(ct, home1.Router.IP.String())
	if direct < 1<<20 || direct+(final-spliced) < src[A.id] {
		t.Errorf("router 3 counted %d bytes from A's router directly and the relay %d, for D's %d bytes from A:\n%s",
			direct, final-spliced, src[A.id], ct)
	}
	say(t, "   D took %d bytes from A: the relay spliced %d (both ways), then its sessions ended; router 3 counted %d bytes directly from A's router (%s)",
		src[A.id], final-spliced, direct, home1.Router.IP)

	say(t, "== 3. A's restriction holds through the relay; bad tickets are refused")
	if err := hasSupplier(E, far.ID, A.id, false); err != nil {
		t.Error(err)
	}
	dirKey, eKey := filepath.Join(dirData, "directory.key"), datadir.Dir(E.data).DeviceKey()
	for _, c := range []struct {
		what, signer, ttl, want string
	}{
		{"E with a directory-signed ticket", dirKey, "1m", "status 403"},
		{"an expired ticket", dirKey, "-1s", "refused: ticket expired"},
		{"a ticket signed by E itself", eKey, "1m", "refused: bad ticket"},
	} {
		cmd := E.host.Command(context.Background(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=relay-offer", "KITH_E2E_KEY="+eKey, "KITH_E2E_SIGNER="+c.signer,
			"KITH_E2E_SUPPLIER="+A.id, "KITH_E2E_RELAY="+relayAddr, "KITH_E2E_TTL="+c.ttl)
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("%s: %q (%v), want %q", c.what, got, err, c.want)
		}
	}

	say(t, "== 3b. a relay that flips a bit: B's TLS fails and the relay is blamed, not A")
	tamperAddr := relayHost.IP.String() + ":7401"
	tp := relayHost.Command(context.Background(), os.Args[0], "-test.run=^$")
	tp.Env = append(os.Environ(), helperEnv+"=tamper-proxy", "KITH_E2E_LISTEN="+tamperAddr, "KITH_E2E_RELAY="+relayAddr)
	tpOut, err := tp.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Process.Kill(); tp.Wait() })
	if l, _ := bufio.NewReader(tpOut).ReadString('\n'); strings.TrimSpace(l) != "listening" {
		t.Fatalf("tamper proxy said %q", l)
	}
	bKey := datadir.Dir(B.data).DeviceKey()
	for _, c := range []struct{ via, want string }{{relayAddr, "ok"}, {tamperAddr, "relay"}} {
		cmd := B.host.Command(context.Background(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=relay-fetch", "KITH_E2E_KEY="+bKey, "KITH_E2E_SIGNER="+dirKey,
			"KITH_E2E_SUPPLIER="+A.id, "KITH_E2E_RELAY="+c.via, "KITH_E2E_CID="+far.Content)
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != c.want {
			t.Errorf("fetching %q from A via %s: %q (%v), want %q", far.Name, c.via, got, err, c.want)
		}
	}

	say(t, "== 4. the relay is killed while B gets %q: the download completes from the origin", cut.Name)
	B.run(nil, "buy", cut.ID)
	f := B.startFetch(t, cut.ID)
	killed := false
	for l := range f.lines {
		for _, s := range l.Sources {
			if !killed && s.ID == A.id && s.Bytes > 0 {
				relayProc.kill()
				killed = true
			}
		}
	}
	if err := <-f.done; err != nil {
		t.Fatal(err)
	}
	src = map[string]int64{}
	for _, s := range f.last.Sources {
		if s.Origin {
			src["origin"] += s.Bytes
		} else {
			src[s.ID] += s.Bytes
		}
	}
	if !killed || src[A.id] == 0 || src["origin"] == 0 {
		t.Fatalf("killed %v; B's sources %v: want some from A, the rest from the origin", killed, src)
	}
	if h, ok := B.holding(cut.Content); !ok || !h.Complete {
		t.Fatalf("B's holding %+v", h)
	}
	say(t, "   B took %d bytes from A before the relay died and %d from the origin", src[A.id], src["origin"])

	say(t, "== 5. kith-relay restarted with --max-sessions-per-device 2 --bytes-per-device %d: the third session to A is refused", relayBudget)
	start(t, relayHost, "relay-capped", filepath.Join(tmp, "relay-capped.log"), nil, kr, "--data", relayData,
		"--addr", relayAddr, "--directory", dirFP, "--metrics-addr", "127.0.0.1:9465", "--max-sessions-per-device", "2",
		"--bytes-per-device", strconv.Itoa(relayBudget), "--max-conns-per-ip", strconv.Itoa(relayConnsPerIP))
	eventually(t, 90*time.Second, "A reconnects to the restarted relay", func() error {
		if err := reachOf(B, far.ID, A.id, "relayed"); err != nil {
			return err
		}
		if n := relayCounterTry(relayHost, "kith_relay_suppliers"); n < 1 {
			return fmt.Errorf("%d suppliers connected", n)
		}
		return nil
	})
	cmd := E.host.Command(context.Background(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=relay-hold", "KITH_E2E_KEY="+eKey, "KITH_E2E_SIGNER="+dirKey,
		"KITH_E2E_SUPPLIER="+A.id, "KITH_E2E_RELAY="+relayAddr, "KITH_E2E_N=4")
	out, err := cmd.Output()
	want := "ok\nok\nrefused: relay busy\nrefused: relay busy"
	if got := strings.TrimSpace(string(out)); err != nil || got != want {
		t.Errorf("four sessions under a cap of two: %q (%v), want %q", got, err, want)
	}
	if n := relayCounter(t, relayHost, `kith_relay_refused_total{reason="busy"}`); n != 2 {
		t.Errorf("the relay counted %d busy refusals, want 2", n)
	}

	say(t, "== 5b. the same relay's byte budget for A: B's fetch through it is cut at %d bytes, the next session refused", relayBudget)
	eventually(t, 60*time.Second, "E's held sessions end", func() error {
		if n := relayCounterTry(relayHost, "kith_relay_sessions"); n != 0 {
			return fmt.Errorf("%d relay sessions", n)
		}
		return nil
	})
	before := relayCounter(t, relayHost, "kith_relay_bytes_total")
	helper := func(mode string, env ...string) string {
		cmd := B.host.Command(context.Background(), os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), helperEnv+"="+mode, "KITH_E2E_KEY="+bKey, "KITH_E2E_SIGNER="+dirKey,
			"KITH_E2E_SUPPLIER="+A.id, "KITH_E2E_RELAY="+relayAddr), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s helper: %v", mode, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := helper("relay-fetch", "KITH_E2E_CID="+far.Content); !strings.HasPrefix(got, "other:") {
		t.Errorf("fetching %q (3.5 MB) through a relay with a %d-byte budget: %q, want cut (other: …)", far.Name, relayBudget, got)
	}
	spent := relayCounter(t, relayHost, "kith_relay_bytes_total") - before
	if spent <= 0 || spent > relayBudget {
		t.Errorf("the relay carried %d bytes for A under a %d-byte budget", spent, relayBudget)
	}
	if n := relayCounter(t, relayHost, `kith_relay_refused_total{reason="bytes"}`); n != 1 {
		t.Errorf("the relay counted %d sessions cut for bytes, want 1", n)
	}
	if got := helper("relay-offer", "KITH_E2E_TTL=1m"); got != "refused: relay busy" {
		t.Errorf("a session to A with its budget spent: %q, want %q", got, "refused: relay busy")
	}
	say(t, "   cut after %d bytes (counted exactly, never past the budget); the next session refused", spent)

	say(t, "== 5c. the same relay admits at most %d connections from one address: home 2's public one is full, home 3's is not", relayConnsPerIP)
	refusedBefore := max(relayCounterTry(relayHost, `kith_relay_refused_total{reason="connections_per_ip"}`), 0) // absent until the first
	hold := func(h netns.Host, n int) (opened, closed int) {
		cmd := h.Command(context.Background(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=conns", "KITH_E2E_RELAY="+relayAddr, "KITH_E2E_N="+strconv.Itoa(n))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("conns helper: %v", err)
		}
		for _, w := range strings.Fields(string(out)) {
			switch w {
			case "open":
				opened++
			case "closed":
				closed++
			}
		}
		return opened, closed
	}
	// B's and E's control connections (home 2) may already count.
	opened, closed := hold(E.host, 2*relayConnsPerIP)
	refused := relayCounter(t, relayHost, `kith_relay_refused_total{reason="connections_per_ip"}`) - refusedBefore
	// (The counter may also hold a reconnecting control connection of B or E.)
	if opened == 0 || opened > relayConnsPerIP || closed < relayConnsPerIP || refused < int64(closed) {
		t.Errorf("from home 2: %d connections held, %d closed at once, %d refused per address; want at most %d held, the rest refused",
			opened, closed, refused, relayConnsPerIP)
	}
	if o, c := hold(D.host, 1); o != 1 || c != 0 {
		t.Errorf("from home 3 meanwhile: %d held, %d closed; want the one held", o, c)
	}
	say(t, "   home 2: %d held, %d refused (per address); home 3: admitted", opened, closed)
}

// helperConns opens KITH_E2E_N plain TCP connections to the relay at
// KITH_E2E_RELAY, all at once, and prints for each "open" if the relay
// holds it (waiting for its first message) or "closed" if it closed it
// at once (a per-address cap).
func helperConns() int {
	n, err := strconv.Atoi(os.Getenv("KITH_E2E_N"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// The relay waits 10 s from its accept (after our dial) for a first
	// message, so until 9 s after the first dial a close is the cap's: all
	// connections are read at once until then, the whole window given to a
	// loaded machine (reads of 1 s each, one after another, could miss a
	// late close or run into the relay's 10 s).
	until := time.Now().Add(9 * time.Second)
	for range n {
		c, err := net.DialTimeout("tcp", os.Getenv("KITH_E2E_RELAY"), 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		conns = append(conns, c)
	}
	open := make([]bool, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(until)
			_, err := c.Read(make([]byte, 1))
			open[i] = errors.Is(err, os.ErrDeadlineExceeded)
		})
	}
	wg.Wait()
	for _, o := range open {
		if o {
			fmt.Println("open")
		} else {
			fmt.Println("closed")
		}
	}
	return 0
}

// relayRate is the relay's rate cap per supplier in phases 2-4 (bytes/s).
const relayRate = 2 << 20

// relayConnsPerIP is the relay's cap on connections per address in phase 5
// (above home 2's two control connections and phase 5's held sessions).
const relayConnsPerIP = 6

// relayBudget is the byte budget per supplier of the relay in phase 5.
const relayBudget = 1 << 20

// buildRelay builds kith-relay into dir.
func buildRelay(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "kith-relay")
	cmd := exec.Command("go", "build", "-o", out, "./directory/cmd/kith-relay")
	if _, err := exec.LookPath("go"); err != nil {
		cmd.Path = "/usr/local/go/bin/go"
	}
	cmd.Dir = repoRoot(t)
	cmd.Env = goEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kith-relay: %v\n%s", err, b)
	}
	return out
}

// reachOf checks how the directory tells d it can reach device id.
func reachOf(d *device, title, id, want string) error {
	var sups []struct {
		Device string `json:"device"`
		Reach  string `json:"reach"`
		Relay  string `json:"relay"`
	}
	if err := d.try(&sups, "suppliers", title); err != nil {
		return err
	}
	for _, s := range sups {
		if s.Device == id {
			if s.Reach != want {
				return fmt.Errorf("supplier %s reach %q, want %q", id, s.Reach, want)
			}
			return nil
		}
	}
	return fmt.Errorf("supplier %s not listed (%v)", id, sups)
}

// relayCounter reads one counter from the relay's /metrics.
func relayCounter(t *testing.T, h netns.Host, name string) int64 {
	t.Helper()
	n := relayCounterTry(h, name)
	if n < 0 {
		t.Fatalf("the relay's /metrics has no %s (or does not answer)", name)
	}
	return n
}

// relayCounterTry is relayCounter answering -1 when it cannot read it.
func relayCounterTry(h netns.Host, name string) int64 {
	exe, err := os.Executable()
	if err != nil {
		return -1
	}
	cmd := h.Command(context.Background(), exe)
	cmd.Env = append(os.Environ(), helperEnv+"=get", "KITH_E2E_URL=http://127.0.0.1:9465/metrics")
	out, err := cmd.Output()
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return -1
}

// establishedTo reports whether conntrack -L output has an established
// TCP connection to ip.
func establishedTo(conntrack, ip string) bool {
	for _, l := range strings.Split(conntrack, "\n") {
		if strings.Contains(l, " ESTABLISHED ") && strings.Contains(l, " dst="+ip+" ") {
			return true
		}
	}
	return false
}

// replyBytesFrom sums the reply-direction byte counts (conntrack -L with
// accounting on) of the established TCP connections to ip: what ip sent.
func replyBytesFrom(conntrack, ip string) int64 {
	var total int64
	for _, l := range strings.Split(conntrack, "\n") {
		if !strings.Contains(l, " ESTABLISHED ") || !strings.Contains(l, " dst="+ip+" ") {
			continue
		}
		var seen int
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "bytes="); ok {
				if seen++; seen == 2 { // the first is the original direction
					n, _ := strconv.ParseInt(v, 10, 64)
					total += n
				}
			}
		}
	}
	return total
}

// ledgerUp checks the bytes device d's own ledger (its library's SQLite
// index, read-only while it runs) credits as uploaded to peer for cid.
func ledgerUp(d *device, peer, cid string, want int64) error {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(datadir.Dir(d.data).Library(), "index.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	var got int64
	err = db.QueryRow(`SELECT coalesce(sum(bytes), 0) FROM ledger WHERE peer = ? AND content_id = ? AND direction = 'up'`,
		peer, cid).Scan(&got)
	if err != nil {
		return fmt.Errorf("reading %s's ledger: %w", d.name, err)
	}
	if got != want {
		return fmt.Errorf("%s's ledger credits %d bytes up to %s, want %d", d.name, got, peer[:7], want)
	}
	return nil
}
