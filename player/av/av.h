#ifndef KITH_AV_H
#define KITH_AV_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <stdint.h>

// The demuxers (by their FFmpeg names) and decoders Kith accepts.
#define KITH_FORMATS "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg"
#define KITH_CODECS "h264,vp8,vp9,aac,opus,libopus,vorbis,libvorbis"

int kith_av_open(AVFormatContext **out, uintptr_t h, int bufsize, int seekable);
void kith_av_close(AVFormatContext *fc);
int kith_av_open_decoder(AVCodecContext **out, AVStream *st);
int kith_av_swr(SwrContext **out, AVCodecContext *c, int rate);
int kith_av_frame_channels(AVFrame *f);
void kith_av_log_to_go(void);

enum { KITH_AVERROR_EAGAIN = AVERROR(EAGAIN), KITH_AVERROR_EINVAL = AVERROR(EINVAL) };

#endif
