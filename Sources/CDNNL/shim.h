// oneDNN's C API (Debian: libdnnl-dev), used only for bfloat16 matrix products (AVX-512-BF16, AMX).
#include <oneapi/dnnl/dnnl.h>
// Debian's oneDNN runs on GNU OpenMP; each calling thread asks it for one thread (QwenVL does its own threading).
void omp_set_num_threads(int num_threads);
