package player

/*
#cgo pkg-config: alsa
#cgo LDFLAGS: -ldl
void kith_quiet_audio(void);
*/
import "C"

import (
	"log/slog"
	"strings"
	"sync"
)

// ALSA and JACK print a line to stderr for every device probed and
// not opened — many on a machine without a sound card, before the output
// returns the one error that matters (logged by Player.Serve as "no audio
// output", with every device it tried). quietAudioProbes sends those lines
// to the logger at debug level instead (kith --log-level debug shows them),
// so stderr keeps the app's own log.

var (
	noiseMu  sync.Mutex
	noiseLog *slog.Logger
)

// quietAudioProbes installs the handlers; call it before opening a device.
func quietAudioProbes(log *slog.Logger) {
	noiseMu.Lock()
	noiseLog = log
	noiseMu.Unlock()
	C.kith_quiet_audio()
}

//export kithAudioMessage
func kithAudioMessage(jack C.int, function *C.char, code C.int, msg *C.char) {
	noiseMu.Lock()
	log := noiseLog
	noiseMu.Unlock()
	if log == nil {
		return
	}
	text := strings.TrimSpace(C.GoString(msg))
	if jack != 0 {
		log.Debug("audio device probe", "lib", "jack", "msg", text)
		return
	}
	log.Debug("audio device probe", "lib", "alsa", "func", C.GoString(function), "code", int(code), "msg", text)
}
