/*
 * js_external.c: the external-memory audit for lib/external.js.
 *
 *   externalAudit() -> Env | null      this environment's owner
 *   externalEnvironments() -> Env[]    every live environment's owner
 *   externalGlobal() -> {unattributedBytes, doubleReported, teardown..., owner slots}
 *   externalFlush() -> number          reports this environment's pending change now
 *   tagSetExternal(id, on)
 * where Env = {id, owed, reported, pending, adjustCalls, offThreadCalls, flushes,
 * tags: [{tag, owed, explicitOwed, reported, pending, explicitCalls, belowZero}]}.
 */
#include <stdlib.h>

#include "../core/core.h"
#include "addon.h"
#include "env_owner.h"
#include "napi_util.h"

static napi_value audit_object(napi_env env, const nmw_owner_audit_t *a) {
  napi_value obj, tags;
  NMW_CALL(env, napi_create_object(env, &obj));
  if (!nmw__set_double(env, obj, "id", a->id) || !nmw__set_double(env, obj, "owed", (double)a->owed) ||
      !nmw__set_double(env, obj, "reported", (double)a->reported) ||
      !nmw__set_double(env, obj, "pending", (double)a->pending) ||
      !nmw__set_double(env, obj, "adjustCalls", (double)a->adjust_calls) ||
      !nmw__set_double(env, obj, "offThreadCalls", (double)a->off_thread_calls) ||
      !nmw__set_double(env, obj, "flushes", (double)a->flushes))
    return NULL;
  NMW_CALL(env, napi_create_array_with_length(env, a->ntags, &tags));
  for (size_t i = 0; i < a->ntags; i++) {
    const nmw_ext_tag_audit_t *t = &a->tags[i];
    napi_value row;
    NMW_CALL(env, napi_create_object(env, &row));
    if (!nmw__set_uint32(env, row, "tag", t->tag) || !nmw__set_double(env, row, "owed", (double)t->owed) ||
        !nmw__set_double(env, row, "explicitOwed", (double)t->explicit_owed) ||
        !nmw__set_double(env, row, "reported", (double)t->reported) ||
        !nmw__set_double(env, row, "pending", (double)t->pending) ||
        !nmw__set_double(env, row, "explicitCalls", (double)t->explicit_calls) ||
        !nmw__set_double(env, row, "belowZero", (double)t->below_zero))
      return NULL;
    NMW_CALL(env, napi_set_element(env, tags, (uint32_t)i, row));
  }
  if (!nmw__set_value(env, obj, "tags", tags)) return NULL;
  return obj;
}

static napi_value owner_audit(napi_env env, nmw_owner_t owner) {
  nmw_owner_audit_t *a = malloc(sizeof *a);
  if (!a) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "external: out of memory");
  napi_value result = NULL;
  if (nmw_core_owner_audit(owner, a) == NMW_OK) {
    result = audit_object(env, a);
  } else {
    napi_get_null(env, &result);
  }
  free(a);
  return result;
}

static napi_value js_audit(napi_env env, napi_callback_info info) {
  (void)info;
  return owner_audit(env, nmw_core_owner_of_env(env));
}

static napi_value js_environments(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_owner_t ids[NMW_OWNER_MAX];
  size_t n = nmw_core_owner_list(ids, NMW_OWNER_MAX);
  napi_value list;
  NMW_CALL(env, napi_create_array_with_length(env, n, &list));
  for (size_t i = 0; i < n; i++) {
    napi_value one = owner_audit(env, ids[i]);
    if (!one) return NULL;
    NMW_CALL(env, napi_set_element(env, list, (uint32_t)i, one));
  }
  return list;
}

static napi_value js_global(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_ext_global_t g;
  nmw_core_external_global(&g);
  napi_value obj;
  NMW_CALL(env, napi_create_object(env, &obj));
  if (!nmw__set_double(env, obj, "threshold", (double)g.threshold) ||
      !nmw__set_double(env, obj, "unattributedBytes", (double)g.unattributed_bytes) ||
      !nmw__set_double(env, obj, "doubleReported", (double)g.double_reported) ||
      !nmw__set_double(env, obj, "teardownEnvironments", (double)g.envs_torn_down) ||
      !nmw__set_double(env, obj, "teardownReportedBytes", (double)g.teardown_reported_bytes) ||
      !nmw__set_double(env, obj, "teardownDroppedBytes", (double)g.teardown_dropped_bytes) ||
      !nmw__set_double(env, obj, "freedAfterTeardownBytes", (double)g.freed_after_teardown_bytes) ||
      !nmw__set_double(env, obj, "freedAfterTeardownBlocks", (double)g.freed_after_teardown_blocks) ||
      !nmw__set_uint32(env, obj, "ownersLive", g.owners_live) ||
      !nmw__set_uint32(env, obj, "ownerSlotsUsed", g.owner_slots_used) ||
      !nmw__set_uint32(env, obj, "ownerSlots", g.owner_slots))
    return NULL;
  return obj;
}

static int adjust_now(void *ctx, int64_t delta) {
  int64_t total;
  return napi_adjust_external_memory((napi_env)ctx, delta, &total) == napi_ok ? 0 : -1;
}

static napi_value js_flush(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_owner_t owner = nmw_core_owner_of_env(env);
  int64_t delta = owner ? nmw_core_external_flush(owner, adjust_now, env, 0) : 0;
  napi_value result;
  NMW_CALL(env, napi_create_double(env, (double)delta, &result));
  return result;
}

static napi_value js_set_external(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 2, argv);
  uint32_t id;
  bool on;
  if (!nmw__get_tag_id(env, argv[0], "tag", &id)) return NULL;
  if (!nmw__get_boolean(env, argv[1], "external", &on)) return NULL;
  unsigned flags = nmw_core_tag_flags(id);
  int rc = nmw_core_tag_set_flags(id, on ? (flags | NMW_TAG_EXTERNAL) : (flags & ~NMW_TAG_EXTERNAL));
  if (rc == NMW_ENOSPC) return nmw__throw_external_full(env, nmw_core_tag_name(id));
  if (rc != NMW_OK) return nmw__throw_core(env, rc, "setExternal");
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

napi_status nmw__init_external(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"externalAudit", js_audit},
      {"externalEnvironments", js_environments},
      {"externalGlobal", js_global},
      {"externalFlush", js_flush},
      {"tagSetExternal", js_set_external},
  };
  return nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]);
}
