package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kith-media/kith/internal/netns"
)

// TestOwnMedia (issue 14): device A, in a household whose directory allows
// device publishing, publishes a folder with `kithctl publish`; device B of
// the same household sees the titles with their tags and gets them from A
// while the origin uploads nothing; a device of another account sees none.
func TestOwnMedia(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the end-to-end run takes a minute (run without -short)")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	tmp := t.TempDir()
	say(t, "== own media: building kith-directory and kithctl")
	kd, kc := buildBinaries(t)
	lan := netns.New(t, 4)
	dirHost, hA, hB, hC := lan.Hosts[0], lan.Hosts[1], lan.Hosts[2], lan.Hosts[3]

	say(t, "== 1. kith-directory serve --device-publish accounts")
	dirData := filepath.Join(tmp, "directory")
	_, dirURL := startDirectory(t, dirHost, kd, dirData, filepath.Join(tmp, "directory.log"),
		"--name", "Own media directory", "--announce-ttl", "30s", "--device-publish", "accounts", "--metrics-addr", metricsAddr)
	base, _, _ := strings.Cut(dirURL, "#")

	// A folder of tagged MP3s, encoded by lame, as a person has them.
	music := filepath.Join(tmp, "Music", "The Kitchen Band", "Sunday Morning")
	if err := os.MkdirAll(music, 0o755); err != nil {
		t.Fatal(err)
	}
	songs := []struct {
		file, title string
		track       int
		freq        float64
	}{
		{"01 Kettle.mp3", "Kettle Song", 1, 330},
		{"02 Toast.mp3", "Toast Waltz", 2, 440},
		{"03 Radio.mp3", "Radio On", 3, 550},
	}
	for _, s := range songs {
		wav := filepath.Join(tmp, s.file+".wav")
		writeTone(t, wav, s.freq, 3*time.Second)
		cmd := exec.Command("lame", "--quiet", "--tt", s.title, "--ta", "The Kitchen Band", "--tl", "Sunday Morning",
			"--tn", fmt.Sprintf("%d/3", s.track), "--ty", "2024", wav, filepath.Join(music, s.file))
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lame: %v\n%s", err, out)
		}
	}

	dev := func(name string, h netns.Host) *device {
		d := &device{t: t, name: name, host: h, data: filepath.Join(tmp, name), kithctl: kc, dirURL: dirURL}
		d.serve()
		return d
	}
	A, B, C := dev("A", hA), dev("B", hB), dev("C", hC)
	A.signup("home", "home-password")
	B.signin("home", "home-password")
	C.signup("neighbour", "neighbour-password")

	say(t, "== 2. A: kithctl publish %s", filepath.Dir(filepath.Dir(music)))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kc, "--data", A.data, "publish", filepath.Dir(filepath.Dir(music)))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kithctl publish: %v\n%s", err, errb.String())
	}
	type published struct {
		ID, Name, Artist, Album string
		Track                   int
	}
	var pubs []published
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var p published
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("publish line %q: %v", l, err)
		}
		say(t, "   %s", l)
		pubs = append(pubs, p)
	}
	if len(pubs) != 3 || pubs[0].Name != "Kettle Song" || pubs[0].Artist != "The Kitchen Band" || pubs[0].Album != "Sunday Morning" {
		t.Fatalf("published %+v", pubs)
	}
	if entries, _ := os.ReadDir(filepath.Join(dirData, "origin")); len(entries) != 0 {
		t.Errorf("the origin store holds %d files after a device published", len(entries))
	}

	say(t, "== 3. B (same household) sees the titles with their tags")
	type row struct {
		title
		Artist string `json:"artist"`
		Album  string `json:"album"`
		Track  int    `json:"track"`
		Year   int    `json:"year"`
		Dur    int64  `json:"duration_ms"`
	}
	var cat []row
	B.run(&cat, "titles")
	sort.Slice(cat, func(i, j int) bool { return cat[i].Track < cat[j].Track })
	if len(cat) != 3 {
		t.Fatalf("B sees %d titles, want 3", len(cat))
	}
	for i, r := range cat {
		if r.Name != songs[i].title || r.Artist != "The Kitchen Band" || r.Album != "Sunday Morning" || r.Track != i+1 ||
			r.Year != 2024 || r.Dur < 2900 || r.Dur > 3100 || r.Price != 0 {
			t.Errorf("B's catalog row %+v", r)
		}
	}
	B.human("titles")

	say(t, "== 4. C (another account) sees none of them")
	var other []row
	C.run(&other, "titles")
	if len(other) != 0 {
		t.Fatalf("another account sees %v", other)
	}
	if err := C.try(nil, "buy", cat[0].ID); err == nil {
		t.Fatal("another account registered a household title")
	}

	say(t, "== 5. B gets Kettle Song from A; the origin uploads nothing")
	var rc receipt
	B.run(&rc, "buy", cat[0].ID)
	if rc.Amount != 0 {
		t.Errorf("the household paid %d for its own title", rc.Amount)
	}
	eventually(t, 30*time.Second, "the directory names A as a supplier", func() error {
		return hasSupplier(B, cat[0].ID, A.id, true)
	})
	ls, err := B.lines("fetch", cat[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	src := lastSources(ls)
	if src["origin"] != 0 || src[A.id] == 0 {
		t.Fatalf("B's download sources %v, want A only", src)
	}
	if h, ok := B.holding(cat[0].Content); !ok || !h.Complete || !h.Licensed {
		t.Fatalf("B's holding %+v", h)
	}
	if a, b := fileHash(t, A.sealedPath(cat[0].Content)), fileHash(t, B.sealedPath(cat[0].Content)); a != b {
		t.Error("B's sealed file differs from A's")
	}
	for cid, n := range originBytes(t, dirHost, base) {
		if n != 0 {
			t.Errorf("the origin uploaded %d bytes of %s", n, cid)
		}
	}
	say(t, "   B took %d bytes from A and 0 from the origin", src[A.id])
}
