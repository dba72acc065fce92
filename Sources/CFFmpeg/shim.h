// FFmpeg (Debian: libavformat-dev, libavcodec-dev, libswscale-dev): the only C API QwenVLMedia's video path sees.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
