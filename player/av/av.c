// C side of package av: FFmpeg's callbacks into Go, and the few calls that
// are easier to write in C (FFmpeg's variadic log, channel layouts).
#include "av.h"
#include "_cgo_export.h"
#include <stdio.h>

static int read_cb(void *opaque, uint8_t *buf, int size) {
	return kithAVRead((uintptr_t)opaque, buf, size);
}

static int64_t seek_cb(void *opaque, int64_t off, int whence) {
	return kithAVSeek((uintptr_t)opaque, off, whence);
}

static int interrupt_cb(void *opaque) {
	return kithAVInterrupted((uintptr_t)opaque);
}

int kith_av_open(AVFormatContext **out, uintptr_t h, int bufsize, int seekable) {
	unsigned char *buf = av_malloc(bufsize);
	if (!buf) return AVERROR(ENOMEM);
	AVIOContext *io = avio_alloc_context(buf, bufsize, 0, (void *)h, read_cb, NULL, seek_cb);
	if (!io) { av_free(buf); return AVERROR(ENOMEM); }
	if (!seekable) {
		io->seekable = 0; // still arriving: no scans to the end
	}
	AVFormatContext *fc = avformat_alloc_context();
	if (!fc) { av_freep(&io->buffer); avio_context_free(&io); return AVERROR(ENOMEM); }
	fc->pb = io;
	fc->flags |= AVFMT_FLAG_CUSTOM_IO;
	fc->interrupt_callback.callback = interrupt_cb;
	fc->interrupt_callback.opaque = (void *)h;
	// Only the demuxers and decoders Kith expects; everything else is refused.
	AVDictionary *opts = NULL;
	av_dict_set(&opts, "format_whitelist", KITH_FORMATS, 0);
	av_dict_set(&opts, "codec_whitelist", KITH_CODECS, 0);
	av_dict_set(&opts, "probesize", "1048576", 0);
	av_dict_set(&opts, "analyzeduration", "2000000", 0);
	int err = avformat_open_input(&fc, NULL, NULL, &opts);
	av_dict_free(&opts);
	if (err < 0) {
		// avformat_open_input freed fc on failure, not our AVIOContext.
		av_freep(&io->buffer);
		avio_context_free(&io);
		return err;
	}
	*out = fc;
	return 0;
}

void kith_av_close(AVFormatContext *fc) {
	if (!fc) return;
	AVIOContext *io = fc->pb;
	avformat_close_input(&fc);
	if (io) {
		av_freep(&io->buffer);
		avio_context_free(&io);
	}
}

int kith_av_open_decoder(AVCodecContext **out, AVStream *st) {
	const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
	if (!dec) return AVERROR_DECODER_NOT_FOUND;
	AVCodecContext *c = avcodec_alloc_context3(dec);
	if (!c) return AVERROR(ENOMEM);
	int err = avcodec_parameters_to_context(c, st->codecpar);
	if (err < 0) { avcodec_free_context(&c); return err; }
	c->pkt_timebase = st->time_base;
	// One thread: every FFmpeg call and callback (reads, log) happens on the
	// calling goroutine's thread. (Decoder threads calling back into Go
	// hung the fuzzer.)
	c->thread_count = 1;
	AVDictionary *opts = NULL;
	av_dict_set(&opts, "codec_whitelist", KITH_CODECS, 0);
	err = avcodec_open2(c, dec, &opts);
	av_dict_free(&opts);
	if (err < 0) { avcodec_free_context(&c); return err; }
	*out = c;
	return 0;
}

int kith_av_swr(SwrContext **out, AVCodecContext *c, int rate) {
	AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
	AVChannelLayout in;
	if (c->ch_layout.nb_channels > 0) {
		av_channel_layout_copy(&in, &c->ch_layout);
	} else {
		av_channel_layout_default(&in, 2);
	}
	if (in.order == AV_CHANNEL_ORDER_UNSPEC) {
		int n = in.nb_channels;
		av_channel_layout_uninit(&in);
		av_channel_layout_default(&in, n);
	}
	SwrContext *s = NULL;
	int err = swr_alloc_set_opts2(&s, &stereo, AV_SAMPLE_FMT_FLT, rate, &in, c->sample_fmt, c->sample_rate, 0, NULL);
	av_channel_layout_uninit(&in);
	if (err < 0) return err;
	// A Kaiser-windowed sinc as long as soxr's high-quality preset.
	av_opt_set_int(s, "filter_size", 64, 0);
	av_opt_set_int(s, "phase_shift", 10, 0);
	av_opt_set_double(s, "cutoff", 0.95, 0);
	av_opt_set_int(s, "filter_type", SWR_FILTER_TYPE_KAISER, 0);
	av_opt_set_double(s, "kaiser_beta", 10, 0);
	if ((err = swr_init(s)) < 0) { swr_free(&s); return err; }
	*out = s;
	return 0;
}

int kith_av_frame_channels(AVFrame *f) { return f->ch_layout.nb_channels; }

static void log_cb(void *avcl, int level, const char *fmt, va_list vl) {
	if (level > av_log_get_level()) return;
	char line[1024];
	int prefix = 1;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
	kithAVLog(level, line);
}

void kith_av_log_to_go(void) {
	av_log_set_level(AV_LOG_WARNING);
	av_log_set_callback(log_cb);
}
