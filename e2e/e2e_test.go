package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
	"github.com/kith-media/kith/internal/pulsetest"
)

// testCard is the payment flags for the directory's test processor (the
// card in a private file: kithctl takes no card on its command line).
func testCard(t testing.TB) []string {
	return []string{"--card-file", secretFile(t, "number: 4242424242424242\ncvc: 123\nexpiry: 12/39\nname: Test Holder")}
}

// TestHousehold walks the whole story of package e2e's doc across real
// processes in network namespaces.
func TestHousehold(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the end-to-end household takes a few minutes (run without -short)")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if err := pulsetest.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skipf("skipping: tc (iproute2) is needed to slow uploads in step 6: %v", err)
	}
	begin := time.Now()
	tmp := t.TempDir()
	say(t, "== building kith-directory and kithctl")
	kd, kc := buildBinaries(t)
	lan := netns.New(t, 4)
	dirHost, hA, hB, hC := lan.Hosts[0], lan.Hosts[1], lan.Hosts[2], lan.Hosts[3]
	say(t, "== LAN %s: directory %s, A %s, B %s, C %s", lan.Prefix, dirHost.IP, hA.IP, hB.IP, hC.IP)
	pulse := pulsetest.Start(t) // every device plays into its null sink

	// 1. The directory starts; the media source publishes three titles.
	say(t, "== 1. kith-directory serve; publish three titles (one free, two priced)")
	dirData := filepath.Join(tmp, "directory")
	dirProc, dirURL := startDirectory(t, dirHost, kd, dirData, filepath.Join(tmp, "directory.log"),
		"--name", "Household test directory", "--announce-ttl", "30s", "--metrics-addr", metricsAddr)
	base, _, _ := strings.Cut(dirURL, "#")
	say(t, "   directory at %s", dirURL)
	media := []struct {
		file, name, price string
		freq              float64
		len               time.Duration
	}{
		{"low-hum.wav", "Low Hum", "free", 220, 3 * time.Second},
		{"a440.wav", "A440", "1.99", 440, 4 * time.Second},
		{"evening-bells.wav", "Evening Bells", "0.99", 660, 40 * time.Second},
	}
	titles := map[string]title{}
	for _, m := range media {
		p := filepath.Join(tmp, m.file)
		writeTone(t, p, m.freq, m.len)
		out, err := dirHost.Command(context.Background(), kd, "publish", p, "--data", dirData, "--title", m.name,
			"--artist", "Test Tones", "--price", m.price, "--rights", "reshare").Output()
		if err != nil {
			t.Fatalf("publishing %s: %v", m.name, err)
		}
		var ti title
		if err := json.Unmarshal(out, &ti); err != nil {
			t.Fatalf("publish output %q: %v", out, err)
		}
		titles[m.name] = ti
		say(t, "   published %q (%s) id %s, %d bytes sealed", m.name, m.price, ti.ID, ti.Size)
	}
	hum, a440, bells := titles["Low Hum"], titles["A440"], titles["Evening Bells"]
	if hum.Price != 0 || a440.Price != 199 || bells.Price != 99 {
		t.Fatalf("prices: %d %d %d", hum.Price, a440.Price, bells.Price)
	}
	originFile := func(cid string) string { return filepath.Join(dirData, "origin", cid) }

	dev := func(name string, h netns.Host) *device {
		d := &device{t: t, name: name, host: h, data: filepath.Join(tmp, name), kithctl: kc, dirURL: dirURL}
		d.serve()
		return d
	}
	A, B, C := dev("A", hA), dev("B", hB), dev("C", hC)
	say(t, "   devices: A %s, B %s, C %s", A.id, B.id, C.id)

	// 2. A signs up, buys, downloads from the origin, plays, becomes a supplier.
	say(t, "== 2. A signs up as alice, buys A440, downloads it from the origin and plays it")
	card := testCard(t)
	A.signup("alice", "alice-password")
	var cat []title
	if err := A.try(&cat, "titles"); err != nil {
		t.Fatal(err)
	}
	if len(cat) != 3 {
		t.Fatalf("A sees %d titles, want 3", len(cat))
	}
	A.human("titles")
	var rc receipt
	A.run(&rc, append([]string{"buy", "A440"}, card...)...)
	if rc.Account != "alice" || rc.Amount != 199 || rc.Supplier != "" {
		t.Fatalf("A's receipt %+v", rc)
	}
	say(t, "   receipt: purchase %s, alice, 1.99 EUR", rc.PurchaseID)
	ls, err := A.lines("fetch", "A440")
	if err != nil {
		t.Fatal(err)
	}
	if src := lastSources(ls); src["origin"] == 0 || len(src) != 1 {
		t.Fatalf("A's download sources %v, want the origin only", src)
	}
	if h, _ := A.holding(a440.Content); !h.Complete || !h.Licensed {
		t.Fatalf("A's A440: %+v", h)
	}
	checkPlays(t, pulse, A, "A440", 440)
	A.run(&rc, "buy", "Low Hum") // the free title: a registration, no card
	if rc.Amount != 0 {
		t.Fatalf("free title charged: %+v", rc)
	}
	if _, err := A.lines("fetch", "Low Hum"); err != nil {
		t.Fatal(err)
	}
	A.human("status")
	say(t, "   A holds A440 and Low Hum with licenses; it announces them to the directory")

	// 3. B finds A by mDNS and registers through A.
	say(t, "== 3. B (bob) finds A by mDNS and registers A440 through A")
	B.signup("bob", "bob-password")
	eventually(t, 60*time.Second, "B sees A on the LAN", func() error {
		var nbs []neighbour
		if err := B.try(&nbs, "neighbours"); err != nil {
			return err
		}
		for _, n := range nbs {
			if n.ID == A.id && n.LAN {
				return nil
			}
		}
		return fmt.Errorf("neighbours %v", nbs)
	})
	say(t, "   B found A by mDNS")
	eventually(t, 60*time.Second, "the directory names A as a supplier of A440", func() error {
		return hasSupplier(B, "A440", A.id, true)
	})
	say(t, "   the directory names A as a supplier of A440: A became a supplier")
	B.human("neighbours")
	B.run(&rc, append([]string{"register-via", A.id, "A440"}, card...)...)
	if rc.Account != "bob" || rc.Amount != 199 || rc.Supplier != A.id {
		t.Fatalf("B's relayed receipt %+v, want bob, 199, supplier %s", rc, A.id)
	}
	say(t, "   receipt (returned through A): purchase %s, bob, 1.99 EUR, supplier %s", rc.PurchaseID, rc.Supplier)
	credited := false
	for _, r := range billing(t, kd, dirData) {
		if r["account"] == "bob" && r["title"] == a440.ID && r["supplier"] == A.id && r["amount"] == "199" {
			credited = true
		}
	}
	if !credited {
		t.Fatalf("billing outbox has no bob/A440 row credited to A: %v", billing(t, kd, dirData))
	}
	say(t, "   billing outbox: bob's A440 (1.99 EUR) credited to supplier A")
	if ls, err = B.lines("fetch", "A440", "--from", A.id); err != nil {
		t.Fatal(err)
	}
	if src := lastSources(ls); src[A.id] == 0 || src["origin"] != 0 {
		t.Fatalf("B's download sources %v, want A only", src)
	}
	wantA440 := fileHash(t, originFile(a440.Content))
	if got := fileHash(t, B.sealedPath(a440.Content)); got != wantA440 || fileHash(t, A.sealedPath(a440.Content)) != wantA440 {
		t.Fatalf("B's A440 ciphertext differs from the origin's")
	}
	var ka, kb keyInfo
	A.run(&ka, "getkey", "A440")
	B.run(&kb, "getkey", "A440")
	if kb.Device != B.id || kb.Account != "bob" || kb.License == ka.License {
		t.Fatalf("B's license %+v (A's %+v): want its own", kb, ka)
	}
	say(t, "   B's copy is byte-identical ciphertext (sha256 %s…) with its own license %s", wantA440[:12], kb.License)

	// 4. C copies from B with no key, cannot play, gets its key, plays.
	say(t, "== 4. C (alice's second machine) copies A440 from B without a key")
	C.signin("alice", "alice-password")
	if ls, err = C.lines("fetch", "A440", "--from", B.id); err != nil {
		t.Fatal(err)
	}
	if h, _ := C.holding(a440.Content); !h.Complete || h.Licensed {
		t.Fatalf("C's A440 after copying: %+v, want complete and unlicensed", h)
	}
	if got := fileHash(t, C.sealedPath(a440.Content)); got != wantA440 {
		t.Fatal("C's A440 ciphertext differs")
	}
	out, err := C.human("play", "A440", "--seconds", "1")
	if err == nil || !strings.Contains(out, "no license") {
		t.Fatalf("C played A440 without a key (err %v): %s", err, out)
	}
	say(t, "   C cannot play it: %s", strings.TrimSpace(out))
	var kc4 keyInfo
	C.run(&kc4, "getkey", "A440")
	if kc4.Device != C.id || kc4.Account != "alice" {
		t.Fatalf("C's license %+v", kc4)
	}
	checkPlays(t, pulse, C, "A440", 440)

	// 5. A restricts Evening Bells to its household.
	say(t, "== 5. A buys Evening Bells and restricts it to its household")
	A.run(&rc, append([]string{"buy", "Evening Bells"}, card...)...)
	if _, err := A.lines("fetch", "Evening Bells"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the directory names A to B for Evening Bells", func() error {
		return hasSupplier(B, "Evening Bells", A.id, true)
	})
	A.human("policy", "Evening Bells", "household")
	eventually(t, 60*time.Second, "the directory stops naming A to B", func() error {
		return hasSupplier(B, "Evening Bells", A.id, false)
	})
	eventually(t, 60*time.Second, "the directory still names A to C (same household)", func() error {
		return hasSupplier(C, "Evening Bells", A.id, true)
	})
	B.human("suppliers", "Evening Bells")
	say(t, "   the directory no longer names A to bob's B, but still to alice's C")
	var offers []offer
	B.run(&offers, "offers", A.id)
	for _, o := range offers {
		if o.TitleID == bells.ID {
			t.Fatalf("A offers Evening Bells to B: %v", offers)
		}
	}
	ls, err = B.lines("fetch", "Evening Bells", "--from", A.id)
	if err == nil {
		t.Fatal("A let B copy Evening Bells despite household only")
	}
	refused := ""
	for _, l := range ls {
		if strings.Contains(l.Fault, "403") {
			refused = l.Fault
		}
	}
	if i := strings.Index(err.Error(), "refused us"); refused == "" && i >= 0 {
		refused = err.Error()[i:]
	}
	if refused == "" {
		t.Fatalf("B's fetch from A failed without a refusal from A: %v %+v", err, ls)
	}
	say(t, "   A refuses B: %s", refused)
	if h, ok := B.holding(bells.Content); ok && h.Have > 0 {
		t.Fatalf("B got %d chunks of Evening Bells from A", h.Have)
	}
	B.run(&rc, append([]string{"buy", "Evening Bells"}, card...)...)
	if ls, err = B.lines("fetch", "Evening Bells"); err != nil {
		t.Fatal(err)
	}
	if src := lastSources(ls); src[A.id] != 0 {
		t.Fatalf("B downloaded from A despite the restriction: %v", src)
	}

	// 6. A is killed mid-transfer to C; C finishes from B and the origin.
	say(t, "== 6. C downloads Evening Bells from A, B and the origin; A is killed mid-transfer")
	// A and B upload slowly (B slower still), so the transfer is long
	// enough to kill A in the middle and for the origin to be asked for
	// chunks B is too slow to deliver.
	shape(t, hA, "6mbit")
	shape(t, hB, "3mbit")
	defer unshape(hA)
	defer unshape(hB)
	if narrate {
		fmt.Println("    C$ kithctl fetch Evening Bells      (A uploads at 6 Mbit/s, B at 3 Mbit/s)")
	}
	fetch6 := C.startFetch(t, "Evening Bells")
	killedAt := -1
	for l := range fetch6.lines {
		fromA := lastSources([]line{l})[A.id]
		if killedAt < 0 && l.Total > 0 && ((l.Have >= l.Total/5 && fromA > 0) || l.Have >= l.Total/2) {
			A.proc.kill()
			killedAt = l.Have
			say(t, "   killed A (kill -9) with %d/%d chunks at C, %d bytes of them from A", l.Have, l.Total, fromA)
		}
	}
	if err := <-fetch6.done; err != nil {
		t.Fatalf("C's download after A died: %v", err)
	}
	unshape(hA)
	unshape(hB)
	if killedAt < 0 {
		t.Fatalf("C's download finished before A served anything: %v", fetch6.last.Sources)
	}
	src := lastSources([]line{fetch6.last})
	say(t, "   C finished: bytes from A %d, B %d, origin %d", src[A.id], src[B.id], src["origin"])
	if src[B.id] == 0 {
		t.Fatalf("C did not finish from B: %v", src)
	}
	wantBells := fileHash(t, originFile(bells.Content))
	for _, d := range []*device{B, C} {
		if got := fileHash(t, d.sealedPath(bells.Content)); got != wantBells {
			t.Fatalf("%s's Evening Bells is corrupt", d.name)
		}
	}
	A.serve() // restart after the crash: the library must be intact
	for _, cid := range []string{a440.Content, bells.Content, hum.Content} {
		if h, _ := A.holding(cid); !h.Complete || !h.Licensed {
			t.Fatalf("A after restart: %+v", h)
		}
	}
	if got := fileHash(t, A.sealedPath(bells.Content)); got != wantBells {
		t.Fatal("A's Evening Bells is corrupt after kill -9")
	}
	C.run(nil, "getkey", "Evening Bells") // alice owns it: no new purchase
	purchases := map[string]int{}
	for _, r := range billing(t, kd, dirData) {
		purchases[r["account"]+"/"+r["title"]]++
	}
	want := map[string]int{"alice/" + a440.ID: 1, "alice/" + hum.ID: 1, "bob/" + a440.ID: 1,
		"alice/" + bells.ID: 1, "bob/" + bells.ID: 1}
	if fmt.Sprint(purchases) != fmt.Sprint(want) {
		t.Fatalf("billing outbox %v, want %v", purchases, want)
	}
	say(t, "   no file corrupt (sha256 %s… everywhere), A restarted intact, all 5 purchases in the outbox", wantBells[:12])

	// 7. The origin uploaded less than size × devices.
	say(t, "== 7. origin bytes per title (directory /metrics)")
	ob := originBytes(t, dirHost, base)
	for _, c := range []struct {
		t       title
		devices int
	}{{a440, 3}, {bells, 3}} {
		limit := c.t.Size * int64(c.devices)
		say(t, "   %s: origin uploaded %d bytes; title %d bytes × %d devices = %d (%.0f%%)",
			c.t.Name, ob[c.t.Content], c.t.Size, c.devices, limit, 100*float64(ob[c.t.Content])/float64(limit))
		if ob[c.t.Content] <= 0 || ob[c.t.Content] >= limit {
			t.Errorf("%s: origin bytes %d not in (0, %d)", c.t.Name, ob[c.t.Content], limit)
		}
	}
	C.human("status")

	// Every process shuts down cleanly on SIGTERM.
	for _, p := range []*proc{C.proc, B.proc, A.proc, dirProc} {
		if err := p.stop(); err != nil {
			t.Errorf("%s did not shut down cleanly: %v", p.name, err)
		}
	}
	say(t, "== the whole run took %v", time.Since(begin).Round(100*time.Millisecond))
}

// lastSources sums the last progress line's bytes per source ("origin"
// for the origin store).
func lastSources(ls []line) map[string]int64 {
	m := map[string]int64{}
	for i := len(ls) - 1; i >= 0; i-- {
		if len(ls[i].Sources) == 0 {
			continue
		}
		for _, s := range ls[i].Sources {
			if s.Origin {
				m["origin"] += s.Bytes
			} else if s.Bytes > 0 {
				m[s.ID] += s.Bytes
			}
		}
		break
	}
	return m
}

// hasSupplier checks whether the directory names (or not) device id to d
// for a title.
func hasSupplier(d *device, title, id string, want bool) error {
	var sups []supplier
	if err := d.try(&sups, "suppliers", title); err != nil {
		return err
	}
	found := false
	for _, s := range sups {
		found = found || s.Device == id
	}
	if found != want {
		return fmt.Errorf("supplier %s listed: %v, want %v (%v)", id, found, want, sups)
	}
	return nil
}

// checkPlays plays a title on d for 3 s while recording the null sink and
// checks the recording's dominant frequency.
func checkPlays(t *testing.T, pulse *pulsetest.Server, d *device, title string, freq float64) {
	t.Helper()
	rec := pulse.Record(t, filepath.Join(t.TempDir(), d.name+".wav"))
	ls, err := d.lines("play", title, "--seconds", "3")
	if err != nil {
		t.Fatalf("%s playing %s: %v", d.name, title, err)
	}
	time.Sleep(300 * time.Millisecond) // the tail still in the sound server's buffers
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	playing := false
	for _, l := range ls {
		playing = playing || l.State == "playing"
	}
	x, rate, err := pulsetest.ReadWAV(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	var sound []float64
	for _, sg := range pulsetest.Segments(x, rate, 0.05, 20*time.Millisecond) {
		if sg.Sound {
			sound = append(sound, x[sg.Start:sg.End]...)
		}
	}
	dur := time.Duration(len(sound)) * time.Second / time.Duration(rate)
	if !playing || dur < time.Second {
		t.Fatalf("%s playing %s: state playing %v, %v of sound recorded, want ≥ 1s", d.name, title, playing, dur)
	}
	got := pulsetest.Dominant(sound, rate, 220, 330, 440, 550, 660, 880)
	if got != freq {
		t.Fatalf("%s playing %s: dominant frequency %v Hz, want %v", d.name, title, got, freq)
	}
	say(t, "   %s played %s: %v of sound recorded from the null sink, dominant %v Hz", d.name, title, dur.Round(10*time.Millisecond), got)
}
