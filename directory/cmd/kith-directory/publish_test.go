package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-media/kith/directory"
)

// TestPublishFolderReadsTags: `kith-directory publish FOLDER` reads each
// file's tags (no --title) and prints one JSON line per title.
func TestPublishFolderReadsTags(t *testing.T) {
	music := filepath.Join(t.TempDir(), "Music", "Band - Album")
	if err := os.MkdirAll(music, 0o755); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(t.TempDir(), "tone.wav")
	cmds := [][]string{
		{"sox", "-q", "-n", "-r", "44100", "-c", "2", "-b", "16", wav, "synth", "1", "sine", "440"},
		{"lame", "--quiet", "--tt", "Été", "--ta", "Band", "--tl", "Album", "--tn", "1", wav, filepath.Join(music, "01.mp3")},
		{"flac", "-s", "-f", "-T", "TITLE=Hiver", "-T", "ARTIST=Band", "-T", "ALBUM=Album", "-T", "TRACKNUMBER=2", "-o", filepath.Join(music, "02.flac"), wav},
		{"sox", "-q", "-n", "-r", "22050", "-c", "1", filepath.Join(music, "03 - Band - Untagged Tune.wav"), "synth", "1", "sine", "220"},
	}
	for _, c := range cmds {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(music, "cover.txt"), []byte("not media"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	out := runCmd(t, "publish", filepath.Dir(music), "--data", data, "--price", "free")
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ti directory.Title
		if err := json.Unmarshal(sc.Bytes(), &ti); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if ti.ID == "" || ti.Album == "" && ti.Track != 3 {
			t.Errorf("title %+v", ti)
		}
		got = append(got, ti.Name+"|"+ti.Artist+"|"+ti.Album)
	}
	want := []string{"Été|Band|Album", "Hiver|Band|Album", "Untagged Tune|Band|"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("published %q, want %q", got, want)
	}
}

// TestPublishFindsNothing: a folder with no media says so (and which
// extensions count) instead of printing nothing.
func TestPublishFindsNothing(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run(context.Background(), []string{"publish", t.TempDir(), "--data", t.TempDir()}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	if !strings.Contains(errb.String(), "no media files in") || !strings.Contains(errb.String(), ".mp3") || out.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
}
