// OpenBLAS CBLAS interface (Debian: libopenblas-dev), the only C API QwenVLCore sees.
#include <cblas.h>
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
