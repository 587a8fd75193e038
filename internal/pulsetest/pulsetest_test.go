package pulsetest

import (
	"bytes"
	"encoding/binary"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRecordTone plays a 440 Hz tone with pacat into the null sink and checks
// that the recording holds it, so failures in player tests point at the
// player, not at the harness.
func TestRecordTone(t *testing.T) {
	s := Start(t)
	rec := s.Record(t, filepath.Join(t.TempDir(), "out.wav"))

	var pcm bytes.Buffer
	for i := 0; i < RecordRate/2; i++ { // 0.5 s
		v := int16(0.5 * 32767 * math.Sin(2*math.Pi*440*float64(i)/RecordRate))
		_ = binary.Write(&pcm, binary.LittleEndian, [2]int16{v, v})
	}
	cmd := exec.Command("pacat", "--playback", "--device="+SinkName, "--format=s16le",
		"--rate=48000", "--channels=2")
	cmd.Env = s.environ()
	cmd.Stdin = &pcm
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pacat: %v: %s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	x, rate, err := ReadWAV(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	var sound []Segment
	for _, sg := range Segments(x, rate, 0.05, 20*time.Millisecond) {
		if sg.Sound {
			sound = append(sound, sg)
		}
	}
	if len(sound) != 1 {
		t.Fatalf("got %d sound segments (%v), want 1", len(sound), sound)
	}
	if d := sound[0].Duration(rate); d < 450*time.Millisecond || d > 550*time.Millisecond {
		t.Errorf("tone lasted %v, want 500ms ± 50ms", d)
	}
	if f := Dominant(x[sound[0].Start:sound[0].End], rate, 220, 440, 1000); f != 440 {
		t.Errorf("dominant frequency %v, want 440", f)
	}
}

// TestSegments checks the splitter on a synthetic signal.
func TestSegments(t *testing.T) {
	x := make([]float64, 3000)
	for i := 1000; i < 2000; i++ {
		x[i] = math.Sin(float64(i))
	}
	segs := Segments(x, 1000, 0.1, 20*time.Millisecond)
	if len(segs) != 3 || !segs[1].Sound || segs[1].Start != 1000 || segs[1].End != 2000 {
		t.Fatalf("got %+v", segs)
	}
}
