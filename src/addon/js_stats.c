/*
 * js_stats.c: counters, per-site rows, peaks, misuse, overhead and shards.
 *
 * Counters cross as one Float64Array (row 0: the total, row 1 + id: tag id) so a
 * stats() call costs one allocation however many tags exist; lib/stats.js names
 * the columns with counterFields.
 */
#include <stdlib.h>

#include "../core/core.h"
#include "addon.h"
#include "napi_util.h"

/* The columns of a counters row, in order. */
#define NMW_COUNTER_FIELDS(X)                   \
  X("allocs", allocs)                           \
  X("frees", frees)                             \
  X("reallocs", reallocs)                       \
  X("bytesAllocated", bytes_allocated)          \
  X("bytesFreed", bytes_freed)                  \
  X("currBytes", curr_bytes)                    \
  X("currBlocks", curr_blocks)                  \
  X("peakBytes", peak_bytes)                    \
  X("peakBlocks", peak_blocks)                  \
  X("limitDenied", limit_denied)                \
  X("peakErrorBound", peak_error_bytes)         \
  X("peakBlocksErrorBound", peak_error_blocks)

#define NMW__COUNT_FIELD(js, c) +1
enum { NMW_COUNTER_COLUMNS = 0 NMW_COUNTER_FIELDS(NMW__COUNT_FIELD) };

static void nmw__fill_row(double *row, const nmw_counters_t *c) {
  size_t i = 0;
#define NMW__FILL_FIELD(js, c_field) row[i++] = (double)c->c_field;
  NMW_COUNTER_FIELDS(NMW__FILL_FIELD)
#undef NMW__FILL_FIELD
}

/* A Float64Array of rows * NMW_COUNTER_COLUMNS doubles; *data points at them. */
static napi_value nmw__new_rows(napi_env env, size_t rows, double **data) {
  napi_value buffer, array;
  size_t length = rows * NMW_COUNTER_COLUMNS;
  void *raw = NULL;
  NMW_CALL(env, napi_create_arraybuffer(env, length * sizeof(double), &raw, &buffer));
  NMW_CALL(env, napi_create_typedarray(env, napi_float64_array, length, buffer, 0, &array));
  *data = (double *)raw;
  return array;
}

/* counters() -> Float64Array: the total, then every registered tag by id. */
static napi_value nmw__js_counters(napi_env env, napi_callback_info info) {
  (void)info;
  /* Tags may be registered meanwhile: the core fills at most cap of them. */
  size_t cap = (size_t)nmw_core_tag_count() + 16;
  nmw_counters_t *tags = (nmw_counters_t *)malloc(cap * sizeof *tags);
  if (tags == NULL)
    return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "counters: out of memory");
  size_t n = nmw_core_all_tag_counters(tags, cap);
  if (n > cap) n = cap;
  nmw_counters_t total;
  nmw_core_total_counters(&total);

  double *data = NULL;
  napi_value array = nmw__new_rows(env, n + 1, &data);
  if (array != NULL) {
    nmw__fill_row(data, &total);
    for (size_t id = 0; id < n; id++)
      nmw__fill_row(data + (id + 1) * NMW_COUNTER_COLUMNS, &tags[id]);
  }
  free(tags);
  return array;
}

/* total() -> Float64Array: the total row only (cheap, for settle()). */
static napi_value nmw__js_total(napi_env env, napi_callback_info info) {
  (void)info;
  double *data = NULL;
  napi_value array = nmw__new_rows(env, 1, &data);
  if (array == NULL) return NULL;
  nmw_counters_t c;
  nmw_core_total_counters(&c);
  nmw__fill_row(data, &c);
  return array;
}

/* slotRows() -> [{slot, tag, file, func, line, allocs, frees, reallocs,
 * bytesAllocated, bytesFreed, currBytes, currBlocks}] for every slot that ever
 * allocated. */
static napi_value nmw__js_slot_rows(napi_env env, napi_callback_info info) {
  (void)info;
  size_t cap = (size_t)nmw_core_slot_count() + 64, n = 0;
  nmw_slot_row_t *rows = NULL;
  /* Slots can be added between the count and the copy: retry with more room. */
  for (int attempt = 0; attempt < 8; attempt++) {
    nmw_slot_row_t *grown = (nmw_slot_row_t *)realloc(rows, cap * sizeof *rows);
    if (grown == NULL) {
      free(rows);
      return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "slotRows: out of memory");
    }
    rows = grown;
    n = nmw_core_slot_rows(rows, cap);
    if (n < cap || cap >= NMW_SLOT_MAX) break;
    cap *= 2;
  }
  if (n > cap) n = cap;

  napi_value list;
  if (napi_create_array_with_length(env, n, &list) != napi_ok) goto fail;
  /* Consecutive rows usually share a file: reuse the last string made. */
  const char *last_file = NULL;
  napi_value last_file_value = NULL;
  for (size_t i = 0; i < n; i++) {
    const nmw_slot_row_t *r = &rows[i];
    napi_value row, file_value;
    if (napi_create_object(env, &row) != napi_ok) goto fail;
    if (r->file != NULL && r->file == last_file) {
      file_value = last_file_value;
    } else {
      file_value = nmw__string_or_null(env, r->file);
      if (file_value == NULL) goto fail;
      last_file = r->file;
      last_file_value = file_value;
    }
    if (!nmw__set_uint32(env, row, "slot", r->slot) || !nmw__set_uint32(env, row, "tag", r->tag) ||
        !nmw__set_value(env, row, "file", file_value) ||
        !nmw__set_string(env, row, "func", r->func) ||
        !nmw__set_uint32(env, row, "line", r->line) ||
        !nmw__set_double(env, row, "allocs", (double)r->allocs) ||
        !nmw__set_double(env, row, "frees", (double)r->frees) ||
        !nmw__set_double(env, row, "reallocs", (double)r->reallocs) ||
        !nmw__set_double(env, row, "bytesAllocated", (double)r->bytes_allocated) ||
        !nmw__set_double(env, row, "bytesFreed", (double)r->bytes_freed) ||
        !nmw__set_double(env, row, "currBytes", (double)r->curr_bytes) ||
        !nmw__set_double(env, row, "currBlocks", (double)r->curr_blocks))
      goto fail;
    if (napi_set_element(env, list, (uint32_t)i, row) != napi_ok) goto fail;
  }
  free(rows);
  return list;

fail:
  free(rows);
  nmw__throw_last_error(env, "slotRows");
  return NULL;
}

/* resetPeak(id?) : no id (undefined) resets every tag and the total. */
static napi_value nmw__js_reset_peak(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  napi_valuetype type;
  NMW_CALL(env, napi_typeof(env, argv[0], &type));
  if (type == napi_undefined) {
    nmw_core_reset_peak(NMW_ANY_TAG);
    return NULL;
  }
  uint32_t id;
  if (!nmw__get_tag_id(env, argv[0], "tag", &id)) return NULL;
  if (id >= nmw_core_tag_count())
    return nmw__throw(env, "RangeError", "ERR_NMW_UNKNOWN_TAG", "tag is not a registered tag");
  nmw_core_reset_peak(id);
  return NULL;
}

/* An array of the NMW_MISUSE_KIND_COUNT counts. */
static napi_value nmw__misuse_counts(napi_env env, const uint64_t *counts) {
  napi_value array;
  NMW_CALL(env, napi_create_array_with_length(env, NMW_MISUSE_KIND_COUNT, &array));
  for (uint32_t k = 0; k < NMW_MISUSE_KIND_COUNT; k++) {
    napi_value v;
    NMW_CALL(env, napi_create_double(env, (double)counts[k], &v));
    NMW_CALL(env, napi_set_element(env, array, k, v));
  }
  return array;
}

/* misuse() -> {kinds: ["double_free", ...], counts: [...], sites: [{file, func,
 * line, counts: [...]}]}; counts are indexed like kinds. */
static napi_value nmw__js_misuse(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, kinds, counts_value, sites;
  uint64_t counts[NMW_MISUSE_KIND_COUNT];

  NMW_CALL(env, napi_create_object(env, &result));
  NMW_CALL(env, napi_create_array_with_length(env, NMW_MISUSE_KIND_COUNT, &kinds));
  for (uint32_t k = 0; k < NMW_MISUSE_KIND_COUNT; k++) {
    const char *name = nmw_core_misuse_name((nmw_misuse_kind_t)k);
    napi_value v = nmw__string_or_null(env, name);
    if (v == NULL) return NULL;
    NMW_CALL(env, napi_set_element(env, kinds, k, v));
    counts[k] = nmw_core_misuse_count((nmw_misuse_kind_t)k);
  }
  counts_value = nmw__misuse_counts(env, counts);
  if (counts_value == NULL) return NULL;

  size_t cap = 64, n = 0;
  nmw_misuse_row_t *rows = NULL;
  for (int attempt = 0; attempt < 16; attempt++) {
    nmw_misuse_row_t *grown = (nmw_misuse_row_t *)realloc(rows, cap * sizeof *rows);
    if (grown == NULL) {
      free(rows);
      return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "misuse: out of memory");
    }
    rows = grown;
    n = nmw_core_misuse_rows(rows, cap);
    if (n < cap) break;
    cap *= 2;
  }
  if (n > cap) n = cap;

  if (napi_create_array_with_length(env, n, &sites) != napi_ok) goto fail;
  for (size_t i = 0; i < n; i++) {
    napi_value row, row_counts;
    if (napi_create_object(env, &row) != napi_ok) goto fail;
    row_counts = nmw__misuse_counts(env, rows[i].counts);
    if (row_counts == NULL || !nmw__set_string(env, row, "file", rows[i].file) ||
        !nmw__set_string(env, row, "func", rows[i].func) ||
        !nmw__set_uint32(env, row, "line", rows[i].line) ||
        !nmw__set_value(env, row, "counts", row_counts))
      goto fail;
    if (napi_set_element(env, sites, (uint32_t)i, row) != napi_ok) goto fail;
  }
  free(rows);
  if (!nmw__set_value(env, result, "kinds", kinds) ||
      !nmw__set_value(env, result, "counts", counts_value) ||
      !nmw__set_value(env, result, "sites", sites))
    return NULL;
  return result;

fail:
  free(rows);
  nmw__throw_last_error(env, "misuse");
  return NULL;
}

/* overhead() -> {blockBytes, metadataBytes, totalBytes, cacheBytes} */
static napi_value nmw__js_overhead(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_overhead_t o;
  napi_value result;
  nmw_core_overhead(&o);
  NMW_CALL(env, napi_create_object(env, &result));
  if (!nmw__set_double(env, result, "blockBytes", (double)o.block_bytes) ||
      !nmw__set_double(env, result, "metadataBytes", (double)o.metadata_bytes) ||
      !nmw__set_double(env, result, "totalBytes", (double)o.total_bytes) ||
      !nmw__set_double(env, result, "cacheBytes", (double)o.cache_bytes))
    return NULL;
  return result;
}

/* shardCount() -> per-thread shards ever created */
static napi_value nmw__js_shard_count(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  NMW_CALL(env, napi_create_uint32(env, nmw_core_shard_count(), &result));
  return result;
}

/* externalThreshold(bytes?) -> the threshold in force; sets it when bytes is a
 * number (an integer in [1, 2^53)). */
static napi_value nmw__js_external_threshold(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  napi_valuetype type;
  napi_value result;
  NMW_CALL(env, napi_typeof(env, argv[0], &type));
  if (type == napi_number) {
    double d;
    NMW_CALL(env, napi_get_value_double(env, argv[0], &d));
    if (!(d >= 1 && d <= 9007199254740991.0) || d != (double)(int64_t)d)
      return nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                        "bytes must be a positive integer");
    nmw_core_external_set_threshold((int64_t)d);
  } else if (type != napi_undefined) {
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "bytes must be a number");
  }
  NMW_CALL(env, napi_create_double(env, (double)nmw_core_external_threshold(), &result));
  return result;
}

static napi_status nmw__set_counter_fields(napi_env env, napi_value exports) {
  static const char *const names[] = {
#define NMW__NAME_FIELD(js, c) js,
      NMW_COUNTER_FIELDS(NMW__NAME_FIELD)
#undef NMW__NAME_FIELD
  };
  napi_value array;
  NMW_CALL_STATUS(env, napi_create_array_with_length(env, NMW_COUNTER_COLUMNS, &array));
  for (uint32_t i = 0; i < NMW_COUNTER_COLUMNS; i++) {
    napi_value v;
    NMW_CALL_STATUS(env, napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &v));
    NMW_CALL_STATUS(env, napi_set_element(env, array, i, v));
  }
  NMW_CALL_STATUS(env, napi_set_named_property(env, exports, "counterFields", array));
  return napi_ok;
}

napi_status nmw__init_stats(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"counters", nmw__js_counters},     {"total", nmw__js_total},
      {"slotRows", nmw__js_slot_rows},    {"resetPeak", nmw__js_reset_peak},
      {"misuse", nmw__js_misuse},         {"overhead", nmw__js_overhead},
      {"shardCount", nmw__js_shard_count}, {"externalThreshold", nmw__js_external_threshold},
  };
  napi_status status = nmw__set_counter_fields(env, exports);
  if (status != napi_ok) return status;
  return nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]);
}
