/*
 * bench_alloc.c: times allocation+free pairs, glibc against native-memwatch's
 * allocator reached through the function table (nmw_malloc/nmw_free, as any
 * consumer calls them), on 1 or more threads at once.
 *
 * A round allocates a batch of blocks and frees them in reverse order, so the
 * allocator sees a small live set rather than one block bouncing. The time is the
 * wall time of the whole run divided by the pairs all threads made.
 */
#include <node_api.h>
#include <stdlib.h>
#include <uv.h>

#include "native_memwatch.h"

#define BATCH 32

typedef struct job {
  int tracked;
  size_t size;
  size_t rounds;
  nmw_tag_t tag;
  uv_sem_t *start;
  void *sink;
} job_t;

static void run_job(void *arg) {
  job_t *job = arg;
  void *blocks[BATCH];
  uv_sem_wait(job->start);
  for (size_t r = 0; r < job->rounds; r++) {
    if (job->tracked) {
      for (int i = 0; i < BATCH; i++) blocks[i] = nmw_malloc(job->size, job->tag);
      /* Touch one byte so the compiler cannot drop the pair. */
      for (int i = 0; i < BATCH; i++) ((volatile char *)blocks[i])[0] = (char)i;
      for (int i = BATCH - 1; i >= 0; i--) nmw_free(blocks[i], job->tag);
    } else {
      for (int i = 0; i < BATCH; i++) blocks[i] = malloc(job->size);
      for (int i = 0; i < BATCH; i++) ((volatile char *)blocks[i])[0] = (char)i;
      for (int i = BATCH - 1; i >= 0; i--) free(blocks[i]);
    }
  }
}

/* run(tracked, size, pairsPerThread, threads) -> ns per pair */
static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool tracked;
  int64_t size, pairs, threads;
  napi_get_value_bool(env, argv[0], &tracked);
  napi_get_value_int64(env, argv[1], &size);
  napi_get_value_int64(env, argv[2], &pairs);
  napi_get_value_int64(env, argv[3], &threads);
  if (threads < 1 || threads > 16 || size < 1 || pairs < BATCH) {
    napi_throw_range_error(env, NULL, "bad arguments");
    return NULL;
  }
  nmw_tag_t tag = nmw_tag("bench.alloc");
  uv_sem_t start;
  uv_sem_init(&start, 0);
  job_t jobs[16];
  uv_thread_t tids[16];
  for (int t = 0; t < threads; t++) {
    jobs[t] = (job_t){tracked, (size_t)size, (size_t)pairs / BATCH, tag, &start, NULL};
    uv_thread_create(&tids[t], run_job, &jobs[t]);
  }
  uint64_t t0 = uv_hrtime();
  for (int t = 0; t < threads; t++) uv_sem_post(&start);
  for (int t = 0; t < threads; t++) uv_thread_join(&tids[t]);
  uint64_t elapsed = uv_hrtime() - t0;
  uv_sem_destroy(&start);
  napi_value result;
  double total = (double)(pairs / BATCH * BATCH) * (double)threads;
  napi_create_double(env, (double)elapsed / total * (double)threads, &result);
  return result;
}

/* hold(tracked, size, count): allocates count blocks and keeps them; release()
 * frees them. For the memory row (RSS of live blocks). */
static void **held;
static size_t held_count;
static int held_tracked;

static napi_value hold(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool tracked;
  int64_t size, count;
  napi_get_value_bool(env, argv[0], &tracked);
  napi_get_value_int64(env, argv[1], &size);
  napi_get_value_int64(env, argv[2], &count);
  nmw_tag_t tag = nmw_tag("bench.alloc");
  held = malloc((size_t)count * sizeof *held);
  held_count = (size_t)count;
  held_tracked = tracked;
  for (size_t i = 0; i < held_count; i++) {
    held[i] = tracked ? nmw_malloc((size_t)size, tag) : malloc((size_t)size);
    ((volatile char *)held[i])[0] = 1;
  }
  return NULL;
}

static napi_value release(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  nmw_tag_t tag = nmw_tag("bench.alloc");
  for (size_t i = 0; i < held_count; i++) {
    if (held_tracked)
      nmw_free(held[i], tag);
    else
      free(held[i]);
  }
  free(held);
  held = NULL;
  held_count = 0;
  return NULL;
}

static napi_value import_status(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_int32(env, nmw_import(env), &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"run", NULL, run, NULL, NULL, NULL, napi_default, NULL},
      {"importStatus", NULL, import_status, NULL, NULL, NULL, napi_default, NULL},
      {"hold", NULL, hold, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, release, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 4, props);
  return exports;
}
