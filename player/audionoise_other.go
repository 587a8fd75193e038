//go:build !linux

package player

import "log/slog"

// quietAudioProbes does nothing where the audio libraries do not print
// their probes to stderr.
func quietAudioProbes(*slog.Logger) {}
