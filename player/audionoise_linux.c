// Routes the messages ALSA and JACK print while oto probes for a device
// to Go (audionoise_linux.go), instead of stderr.
#include <alsa/asoundlib.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#include "_cgo_export.h"

static void kith_alsa_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	kithAudioMessage(0, (char *)function, err, msg);
}

static void kith_jack_message(const char *msg) {
	kithAudioMessage(1, "", 0, (char *)msg);
}

void kith_quiet_audio(void) {
	snd_lib_error_set_handler(kith_alsa_error);
	// ALSA's jack plugin loads libjack, which prints to stderr unless told
	// otherwise. Loading it first (when installed) and setting its message
	// functions holds for the plugin's copy too: a library is loaded once
	// per process. It stays loaded, so the functions stay set.
	void *jack = dlopen("libjack.so.0", RTLD_LAZY | RTLD_GLOBAL);
	if (jack == NULL) {
		return;
	}
	void (*set_error)(void (*)(const char *)) = (void (*)(void (*)(const char *)))dlsym(jack, "jack_set_error_function");
	void (*set_info)(void (*)(const char *)) = (void (*)(void (*)(const char *)))dlsym(jack, "jack_set_info_function");
	if (set_error != NULL) {
		set_error(kith_jack_message);
	}
	if (set_info != NULL) {
		set_info(kith_jack_message);
	}
}
