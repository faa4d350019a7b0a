/*
 * bench_attach.c: loop(n, size) makes n malloc(size) + free pairs and returns
 * the elapsed nanoseconds (measured here, so the JS call costs nothing).
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static napi_value loop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  uint32_t n = 0, size = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_uint32(env, argv[0], &n);
  napi_get_value_uint32(env, argv[1], &size);
  void *volatile sink;
  uint64_t t0 = now_ns();
  for (uint32_t i = 0; i < n; i++) {
    void *p = malloc(size);
    sink = p;
    free(sink);
  }
  uint64_t t1 = now_ns();
  napi_create_double(env, (double)(t1 - t0), &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "loop", NAPI_AUTO_LENGTH, loop, NULL, &fn);
  napi_set_named_property(env, exports, "loop", fn);
  return exports;
}
