// Package pulsetest starts a private PulseAudio server with a null sink for
// tests, so that audio code can play through a real, real-time paced output
// device on a machine without a sound card, and records what was played.
//
// Start runs `pulseaudio` with HOME and XDG_RUNTIME_DIR in a temporary folder,
// loading only module-native-protocol-unix and a null sink named "kith"
// (SinkName). It points the process at it by setting HOME, XDG_RUNTIME_DIR and
// PULSE_SERVER, and writes an .asoundrc in the temporary HOME that routes
// ALSA's default device to the pulse plugin (libasound2-plugins), so an ALSA
// client such as oto plays into the null sink. Record captures the sink's
// monitor with `parecord` into a WAV file (16-bit little-endian PCM).
//
// Because an audio library usually opens its device once per process, call
// Start (or StartMainRate from TestMain) before creating any audio context.
package pulsetest
