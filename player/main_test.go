package player

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/kith-media/kith/internal/leakcheck"
	"github.com/kith-media/kith/internal/pulsetest"
)

// pulse is the private PulseAudio server of this test process (nil when
// pulseaudio is not installed: the tests that need it skip). It must start
// before the process's one oto context is created.
var pulse *pulsetest.Server

// childEnv marks a re-executed test binary that must have no audio device.
const childEnv = "KITH_PLAYER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	sinkRate := pulsetest.RecordRate
	if r, err := strconv.Atoi(os.Getenv(sinkRateEnv)); err == nil && r > 0 {
		sinkRate = r
	}
	s, err := pulsetest.StartMainRate(sinkRate)
	if err != nil {
		fmt.Fprintf(os.Stderr, "player tests: no PulseAudio, device tests will skip: %v\n", err)
	} else {
		pulse = s
	}
	code := leakcheck.Run(m)
	if pulse != nil {
		pulse.Stop()
	}
	os.Exit(code)
}

func needPulse(t testing.TB) *pulsetest.Server {
	t.Helper()
	if pulse == nil {
		t.Skip("skipping: pulseaudio not available (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")
	}
	if raceEnabled {
		t.Skip("skipping real-time audio check under -race (run without -race: the detector slows decoding and mixing below real time on a busy machine)")
	}
	return pulse
}
