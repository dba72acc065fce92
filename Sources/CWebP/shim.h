// libwebp (Debian: libwebp-dev). Still and animated WebP are decoded through WebPAnimDecoder (libwebpdemux),
// the same API Pillow's WebPImagePlugin uses; WebPGetFeatures reads the header without allocating.
#include <webp/decode.h>
#include <webp/demux.h>
