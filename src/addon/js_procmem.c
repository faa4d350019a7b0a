/*
 * js_procmem.c: procmem() -> Float64Array of the malloc heap (mallinfo2) and the
 * resident set (/proc/self/status), for lib/explain.js. One typed array, no
 * objects: the sampler of the CLI calls it every 100 ms.
 *
 * Layout (procmemFields names them): mallocHave, arena, inUse, freeHeld,
 * mmapped, mmappedCount, releasable, statusHave, rss, rssAnon, rssFile,
 * rssShmem, vmStack, vmHwm. The have-flags are 1 or 0.
 */
#include "../core/procmem.h"
#include "addon.h"
#include "napi_util.h"

enum { PROCMEM_FIELDS = 14 };

static const char *const procmem_fields[PROCMEM_FIELDS] = {
    "mallocHave", "arena",  "inUse",   "freeHeld", "mmapped",  "mmappedCount", "releasable",
    "statusHave", "rss",    "rssAnon", "rssFile",  "rssShmem", "vmStack",      "vmHwm",
};

static napi_value nmw__js_procmem(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_malloc_info_t m;
  nmw_status_info_t s;
  nmw_procmem_malloc(&m);
  nmw_procmem_status(&s);
  napi_value buffer, array;
  void *raw = NULL;
  NMW_CALL(env, napi_create_arraybuffer(env, PROCMEM_FIELDS * sizeof(double), &raw, &buffer));
  NMW_CALL(env, napi_create_typedarray(env, napi_float64_array, PROCMEM_FIELDS, buffer, 0, &array));
  double *v = (double *)raw;
  const double row[PROCMEM_FIELDS] = {
      m.have ? 1 : 0,  (double)m.arena_bytes, (double)m.in_use,    (double)m.free_held,
      (double)m.mmapped, (double)m.mmapped_count, (double)m.releasable,
      s.have ? 1 : 0,  (double)s.rss,         (double)s.rss_anon,  (double)s.rss_file,
      (double)s.rss_shmem, (double)s.vm_stack, (double)s.vm_hwm,
  };
  for (int i = 0; i < PROCMEM_FIELDS; i++) v[i] = row[i];
  return array;
}

napi_status nmw__init_procmem(napi_env env, napi_value exports) {
  napi_value fields;
  NMW_CALL_STATUS(env, napi_create_array_with_length(env, PROCMEM_FIELDS, &fields));
  for (uint32_t i = 0; i < PROCMEM_FIELDS; i++) {
    napi_value name;
    NMW_CALL_STATUS(env, napi_create_string_utf8(env, procmem_fields[i], NAPI_AUTO_LENGTH, &name));
    NMW_CALL_STATUS(env, napi_set_element(env, fields, i, name));
  }
  NMW_CALL_STATUS(env, napi_set_named_property(env, exports, "procmemFields", fields));
  static const nmw_method_t methods[] = {{"procmem", nmw__js_procmem}};
  return nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]);
}
