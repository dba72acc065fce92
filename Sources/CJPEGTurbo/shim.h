// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev). It reports errors by return value (no longjmp).
#include <turbojpeg.h>
