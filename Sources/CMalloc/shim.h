// glibc's allocator settings (mallopt, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD); part of libc, nothing to link.
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
