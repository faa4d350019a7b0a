/*
 * bench_external.c: allocation+free pairs of external-tagged blocks, for counting
 * napi_adjust_external_memory calls and timing the external accounting.
 *
 *   churn(tag, size, rounds, batch) -> ns per pair        on the JS thread
 *   churnAsync(tag, size, rounds, batch) -> Promise<ns>   on a pool thread, with
 *                                                        nmw_malloc_env naming env
 *   naive(size, rounds, batch) -> {ns, calls}             malloc/free with one
 *                     napi_adjust_external_memory call per allocation and per free
 *   hold(tag, size) -> BigInt / release(handle)           one block kept across
 *                                                        loop turns
 *   importStatus() -> nmw_import's result
 *
 * A round allocates batch blocks and frees them in reverse order: with 64 KiB
 * blocks and a batch of 32 the amount owed swings by 2 MiB every round, past the
 * 1 MiB threshold both ways.
 */
#include <node_api.h>
#include <stdlib.h>
#include <uv.h>

#include "native_memwatch.h"

#define BATCH_MAX 1024

typedef struct args {
  nmw_tag_t tag;
  size_t size, rounds, batch;
} args_t;

static bool read_args(napi_env env, napi_callback_info info, bool with_tag, args_t *a) {
  size_t argc = 4;
  napi_value argv[4];
  int64_t v[4] = {0, 0, 0, 0};
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  size_t want = with_tag ? 4 : 3;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return false;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int64(env, argv[i], &v[i]) != napi_ok || v[i] < 0) {
      napi_throw_type_error(env, NULL, "arguments must be non-negative integers");
      return false;
    }
  }
  size_t k = 0;
  a->tag = with_tag ? (nmw_tag_t)v[k++] : 0;
  a->size = (size_t)v[k++];
  a->rounds = (size_t)v[k++];
  a->batch = (size_t)v[k++];
  if (a->size == 0 || a->batch == 0 || a->batch > BATCH_MAX) {
    napi_throw_range_error(env, NULL, "size and batch (1..1024) must be positive");
    return false;
  }
  return true;
}

/* The pairs of one run; env is NULL on the JS thread (its own environment owns
 * the blocks) and the napi_env as a key on a pool thread. */
static uint64_t run_pairs(const args_t *a, const void *env) {
  void *blocks[BATCH_MAX];
  uint64_t t0 = uv_hrtime();
  for (size_t r = 0; r < a->rounds; r++) {
    for (size_t i = 0; i < a->batch; i++)
      blocks[i] = env ? nmw_malloc_env(a->size, a->tag, env) : nmw_malloc(a->size, a->tag);
    /* Touch one byte so the compiler cannot drop the pair. */
    for (size_t i = 0; i < a->batch; i++) ((volatile char *)blocks[i])[0] = (char)i;
    for (size_t i = a->batch; i-- > 0;) nmw_free(blocks[i], a->tag);
  }
  return uv_hrtime() - t0;
}

static napi_value ns_per_pair(napi_env env, const args_t *a, uint64_t elapsed) {
  napi_value result;
  double pairs = (double)a->rounds * (double)a->batch;
  napi_create_double(env, pairs > 0 ? (double)elapsed / pairs : 0, &result);
  return result;
}

static napi_value churn(napi_env env, napi_callback_info info) {
  args_t a;
  if (!read_args(env, info, true, &a)) return NULL;
  return ns_per_pair(env, &a, run_pairs(&a, NULL));
}

typedef struct job {
  args_t a;
  const void *key;
  uint64_t elapsed;
  napi_async_work work;
  napi_deferred deferred;
} job_t;

static void job_execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  job->elapsed = run_pairs(&job->a, job->key);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  napi_value value = ns_per_pair(env, &job->a, job->elapsed);
  if (status == napi_ok && value) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    napi_value message, error;
    napi_create_string_utf8(env, "async work failed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value churn_async(napi_env env, napi_callback_info info) {
  job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (!read_args(env, info, true, &job->a)) {
    free(job);
    return NULL;
  }
  job->key = env;
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "bench_external.churnAsync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) !=
          napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "cannot start the async work");
    return NULL;
  }
  return promise;
}

/* The approach without native-memwatch: each allocation and each free tells V8. */
static napi_value naive(napi_env env, napi_callback_info info) {
  args_t a;
  if (!read_args(env, info, false, &a)) return NULL;
  void *blocks[BATCH_MAX];
  int64_t total;
  uint64_t calls = 0;
  uint64_t t0 = uv_hrtime();
  for (size_t r = 0; r < a.rounds; r++) {
    for (size_t i = 0; i < a.batch; i++) {
      blocks[i] = malloc(a.size);
      napi_adjust_external_memory(env, (int64_t)a.size, &total);
      calls++;
    }
    for (size_t i = 0; i < a.batch; i++) ((volatile char *)blocks[i])[0] = (char)i;
    for (size_t i = a.batch; i-- > 0;) {
      free(blocks[i]);
      napi_adjust_external_memory(env, -(int64_t)a.size, &total);
      calls++;
    }
  }
  uint64_t elapsed = uv_hrtime() - t0;
  napi_value result, ns, count;
  napi_create_object(env, &result);
  ns = ns_per_pair(env, &a, elapsed);
  napi_create_double(env, (double)calls, &count);
  napi_set_named_property(env, result, "ns", ns);
  napi_set_named_property(env, result, "calls", count);
  return result;
}

static napi_value hold(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int64_t tag = 0, size = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int64(env, argv[0], &tag) != napi_ok ||
      napi_get_value_int64(env, argv[1], &size) != napi_ok || tag < 0 || size < 1) {
    napi_throw_type_error(env, NULL, "hold(tag, size)");
    return NULL;
  }
  void *p = nmw_malloc((size_t)size, (nmw_tag_t)tag);
  if (!p) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &result);
  return result;
}

static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint64_t handle = 0;
  bool lossless = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_bigint_uint64(env, argv[0], &handle, &lossless) != napi_ok) {
    napi_throw_type_error(env, NULL, "release(handle)");
    return NULL;
  }
  nmw_free((void *)(uintptr_t)handle, NMW_ANY_TAG);
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
      {"churn", NULL, churn, NULL, NULL, NULL, napi_default, NULL},
      {"churnAsync", NULL, churn_async, NULL, NULL, NULL, napi_default, NULL},
      {"naive", NULL, naive, NULL, NULL, NULL, napi_default, NULL},
      {"hold", NULL, hold, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, release, NULL, NULL, NULL, napi_default, NULL},
      {"importStatus", NULL, import_status, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
