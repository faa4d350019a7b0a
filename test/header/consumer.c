/* A consumer of include/native_memwatch.h that the header matrix compiles with
 * -Wall -Wextra -Werror at -O0..-O3, as C and as C++, with gcc and clang. It
 * passes libc pointers to the nmw_* calls in code the compiler can see (GCC 12
 * -O3 used to fire -Warray-bounds inside the fallback there). */
#include "native_memwatch.h"

void *consumer_libc_pointers(void);
void *consumer_libc_pointers(void) {
  char *p = (char *)malloc(64);
  if (p) p[0] = 1;
  nmw_free(p, NMW_UNTAGGED);
  char *q = (char *)malloc(16);
  if (!nmw_realloc(q, 32, NMW_ANY_TAG)) free(q);
  static char buffer[64];
  (void)nmw_block_size(buffer + 8);
  char *d = nmw_strdup("consumer", NMW_UNTAGGED);
  void *a = nmw_aligned_alloc(4096, 100, NMW_UNTAGGED);
  nmw_free(a, NMW_UNTAGGED);
  return d;
}

#ifndef NMW_NO_NODE_API
static napi_value consumer_init(napi_env env, napi_value exports) {
  (void)nmw_import(env);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, consumer_init)
#endif
