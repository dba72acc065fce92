// FFmpeg (Debian: libavformat-dev, libavcodec-dev, libswscale-dev): the only C API QwenVLMedia's video path sees.
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

// Function-like and cast macros do not import into Swift; these expose their values.

/// AVERROR(EAGAIN): the decoder wants more input (or output must be read first).
static inline int cffmpeg_error_eagain(void) { return AVERROR(EAGAIN); }
/// AVERROR_EOF: end of stream.
static inline int cffmpeg_error_eof(void) { return AVERROR_EOF; }
/// AVERROR_INVALIDDATA: malformed input.
static inline int cffmpeg_error_invalid_data(void) { return AVERROR_INVALIDDATA; }
/// AVERROR_STREAM_NOT_FOUND.
static inline int cffmpeg_error_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
/// AVERROR_DECODER_NOT_FOUND.
static inline int cffmpeg_error_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
/// AVERROR(EIO): some demuxers (Matroska) report a header cut short this way.
static inline int cffmpeg_error_eio(void) { return AVERROR(EIO); }
/// AVERROR(ENOMEM).
static inline int cffmpeg_error_enomem(void) { return AVERROR(ENOMEM); }
/// AV_NOPTS_VALUE: "no timestamp".
static inline int64_t cffmpeg_nopts_value(void) { return AV_NOPTS_VALUE; }
/// AV_TIME_BASE: the unit of AVFormatContext.duration (microseconds).
static inline int64_t cffmpeg_time_base(void) { return AV_TIME_BASE; }

/// The name of the container format `data` (the first bytes of a file) looks like, or NULL.
static inline const char *cffmpeg_probe_format_name(const uint8_t *data, int size) {
    uint8_t padded[4096 + AVPROBE_PADDING_SIZE] = {0};
    if (size > 4096) size = 4096;
    if (size > 0) memcpy(padded, data, (size_t)size);
    AVProbeData probe = { .filename = "", .buf = padded, .buf_size = size, .mime_type = NULL };
    const AVInputFormat *format = av_probe_input_format(&probe, 1);
    return format != NULL ? format->name : NULL;
}

/// The stream's display matrix (9 int32 values) or NULL; hides the side-data API, which moved in FFmpeg 6.1.
static inline const int32_t *cffmpeg_stream_display_matrix(const AVStream *stream) {
#if LIBAVFORMAT_VERSION_MAJOR < 61
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
    return (data != NULL && size >= 9 * sizeof(int32_t)) ? (const int32_t *)data : NULL;
#else
    const AVPacketSideData *sd = av_packet_side_data_get(stream->codecpar->coded_side_data,
                                                         stream->codecpar->nb_coded_side_data,
                                                         AV_PKT_DATA_DISPLAYMATRIX);
    return (sd != NULL && sd->size >= 9 * sizeof(int32_t)) ? (const int32_t *)sd->data : NULL;
#endif
}

/// Whether a decoded frame is a keyframe (the field moved into `flags` in FFmpeg 6.1).
static inline int cffmpeg_frame_is_key(const AVFrame *frame) {
#if LIBAVUTIL_VERSION_MAJOR < 59
    return frame->key_frame;
#else
    return (frame->flags & AV_FRAME_FLAG_KEY) != 0;
#endif
}
