/*
 * js_regions.c: regions, the counters of everything allocated between begin and
 * close, with the peak reached in between.
 *
 * A region is a type-tagged napi_external that owns a heap nmw_region_t, a node
 * of the core's list of open regions (no table, no limit). A region that JS
 * forgets to close is unlinked by the external's finalizer (which also runs at
 * environment teardown).
 */
#include <stdlib.h>

#include "../core/core.h"
#include "addon.h"
#include "napi_util.h"

/* Tells our region externals apart from any other external. */
static const napi_type_tag nmw__region_type_tag = {UINT64_C(0x6e6d772d72656769),
                                                   UINT64_C(0x6f6e2d68616e646c)};

typedef struct nmw_js_region {
  nmw_region_t region;
  bool open;
} nmw_js_region_t;

static void nmw__region_close(napi_env env, nmw_js_region_t *r) {
  if (!r->open) return;
  nmw_core_region_end(&r->region);
  r->open = false;
  nmw_env_data_t *data = nmw__env_data(env);
  if (data != NULL && data->open_regions > 0) data->open_regions--;
}

static void nmw__region_finalize(napi_env env, void *finalize_data, void *hint) {
  (void)hint;
  nmw_js_region_t *r = (nmw_js_region_t *)finalize_data;
  nmw__region_close(env, r);
  free(r);
}

/* The region behind a handle, or NULL with a TypeError thrown. */
static nmw_js_region_t *nmw__region_of(napi_env env, napi_value handle) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, handle, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, handle, &nmw__region_type_tag, &tagged) != napi_ok ||
      !tagged || napi_get_value_external(env, handle, &data) != napi_ok || data == NULL) {
    nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "handle must be a region handle");
    return NULL;
  }
  return (nmw_js_region_t *)data;
}

/* regionBegin() -> handle */
static napi_value nmw__js_region_begin(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value handle;
  nmw_js_region_t *r = (nmw_js_region_t *)calloc(1, sizeof *r);
  if (r == NULL) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "region: out of memory");
  int rc = nmw_core_region_begin(&r->region);
  if (rc != NMW_OK) {
    free(r);
    return nmw__throw_core(env, rc, "beginning a region");
  }
  r->open = true;
  if (napi_create_external(env, r, nmw__region_finalize, NULL, &handle) != napi_ok) {
    nmw_core_region_end(&r->region);
    free(r);
    nmw__throw_last_error(env, "napi_create_external");
    return NULL;
  }
  /* From here the finalizer owns r. */
  nmw_env_data_t *data = nmw__env_data(env);
  if (data != NULL) data->open_regions++;
  NMW_CALL(env, napi_type_tag_object(env, handle, &nmw__region_type_tag));
  return handle;
}

/* regionDelta(handle) -> {totalBlocks, totalBytes, currBlocks, currBytes,
 * maxBlocks, maxBytes} */
static napi_value nmw__js_region_delta(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  nmw_js_region_t *r = nmw__region_of(env, argv[0]);
  if (r == NULL) return NULL;
  if (!r->open)
    return nmw__throw(env, "Error", "ERR_NMW_REGION_CLOSED", "the region is closed");
  nmw_region_delta_t d;
  int rc = nmw_core_region_delta(&r->region, &d);
  if (rc != NMW_OK) return nmw__throw_core(env, rc, "reading a region");
  napi_value result;
  NMW_CALL(env, napi_create_object(env, &result));
  if (!nmw__set_double(env, result, "totalBlocks", (double)d.total_blocks) ||
      !nmw__set_double(env, result, "totalBytes", (double)d.total_bytes) ||
      !nmw__set_double(env, result, "currBlocks", (double)d.curr_blocks) ||
      !nmw__set_double(env, result, "currBytes", (double)d.curr_bytes) ||
      !nmw__set_double(env, result, "maxBlocks", (double)d.max_blocks) ||
      !nmw__set_double(env, result, "maxBytes", (double)d.max_bytes))
    return NULL;
  return result;
}

/* regionClose(handle): idempotent. */
static napi_value nmw__js_region_close(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  nmw_js_region_t *r = nmw__region_of(env, argv[0]);
  if (r == NULL) return NULL;
  nmw__region_close(env, r);
  return NULL;
}

/* regionOpenCount() -> regions begun in this environment and still open */
static napi_value nmw__js_region_open_count(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  nmw_env_data_t *data = nmw__env_data(env);
  NMW_CALL(env, napi_create_uint32(env, data ? data->open_regions : 0, &result));
  return result;
}

napi_status nmw__init_regions(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"regionBegin", nmw__js_region_begin},
      {"regionDelta", nmw__js_region_delta},
      {"regionClose", nmw__js_region_close},
      {"regionOpenCount", nmw__js_region_open_count},
  };
  return nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]);
}
