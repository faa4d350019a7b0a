/*
 * js_tags.c: tag registration, lookup, limits and the tag list.
 *
 * lib/ validates arguments first and throws errors that name the user's
 * argument; the checks here only make sure no input can reach the core in a
 * shape it does not accept.
 */
#include <stdio.h>
#include <string.h>

#include "../core/core.h"
#include "addon.h"
#include "napi_util.h"

/* Reads a tag name into buf (NMW_TAG_NAME_MAX + 1 bytes). Throws and returns
 * false for a non-string, a string too long or with an embedded NUL. */
static bool nmw__get_tag_name(napi_env env, napi_value value, char *buf) {
  napi_valuetype type;
  size_t len = 0, copied = 0;
  NMW_CALL_BOOL(env, napi_typeof(env, value, &type));
  if (type != napi_string) {
    nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "name must be a string");
    return false;
  }
  NMW_CALL_BOOL(env, napi_get_value_string_utf8(env, value, NULL, 0, &len));
  if (len < 1 || len > NMW_TAG_NAME_MAX) {
    nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", "name must be 1 to 64 characters long");
    return false;
  }
  NMW_CALL_BOOL(env, napi_get_value_string_utf8(env, value, buf, NMW_TAG_NAME_MAX + 1, &copied));
  if (copied != len || strlen(buf) != len || !nmw_core_tag_name_valid(buf)) {
    nmw__throw(env, "RangeError", "ERR_INVALID_ARG_VALUE",
               "name must contain only the characters A-Z a-z 0-9 . _ : / -");
    return false;
  }
  return true;
}

/* tagRegister(name, flags) -> id */
static napi_value nmw__js_tag_register(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 2, argv);
  char name[NMW_TAG_NAME_MAX + 1];
  uint32_t flags = 0;
  napi_valuetype type;
  nmw_tag_t id = NMW_UNTAGGED;
  napi_value result;

  if (!nmw__get_tag_name(env, argv[0], name)) return NULL;
  NMW_CALL(env, napi_typeof(env, argv[1], &type));
  if (type != napi_undefined) {
    int64_t f;
    if (!nmw__get_integer(env, argv[1], "flags", 0, (double)UINT32_MAX, &f)) return NULL;
    flags = (uint32_t)f;
    if ((flags & ~(uint32_t)(NMW_TAG_EXTERNAL | NMW_TAG_STRICT_PEAKS)) != 0)
      return nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", "flags has unknown bits");
  }

  int rc = nmw_core_tag_register(name, flags, &id);
  if (rc == NMW_ECONFLICT) {
    /* The error carries the existing tag's id and flags for the caller. */
    char message[160];
    napi_value code, msg, error;
    unsigned existing = nmw_core_tag_flags(id);
    snprintf(message, sizeof message,
             "tag \"%s\" is already registered with other flags (external: %s, strictPeaks: %s)",
             name, (existing & NMW_TAG_EXTERNAL) ? "true" : "false",
             (existing & NMW_TAG_STRICT_PEAKS) ? "true" : "false");
    NMW_CALL(env, napi_create_string_utf8(env, "ERR_NMW_TAG_CONFLICT", NAPI_AUTO_LENGTH, &code));
    NMW_CALL(env, napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg));
    NMW_CALL(env, napi_create_error(env, code, msg, &error));
    if (!nmw__set_uint32(env, error, "id", id)) return NULL;
    if (!nmw__set_bool(env, error, "external", (existing & NMW_TAG_EXTERNAL) != 0)) return NULL;
    if (!nmw__set_bool(env, error, "strictPeaks", (existing & NMW_TAG_STRICT_PEAKS) != 0))
      return NULL;
    NMW_CALL(env, napi_throw(env, error));
    return NULL;
  }
  /* The tag table has room: what is full is the external slots. */
  if (rc == NMW_ENOSPC && (flags & NMW_TAG_EXTERNAL) && nmw_core_tag_count() < NMW_TAG_MAX)
    return nmw__throw_external_full(env, name);
  if (rc != NMW_OK) return nmw__throw_core(env, rc, "registering a tag");
  NMW_CALL(env, napi_create_uint32(env, id, &result));
  return result;
}

/* tagLookup(name) -> id, or -1 when no tag has that name. */
static napi_value nmw__js_tag_lookup(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  char name[NMW_TAG_NAME_MAX + 1];
  nmw_tag_t id = NMW_UNTAGGED;
  napi_value result;
  if (!nmw__get_tag_name(env, argv[0], name)) return NULL;
  int rc = nmw_core_tag_lookup(name, &id);
  NMW_CALL(env, napi_create_double(env, rc == NMW_OK ? (double)id : -1.0, &result));
  return result;
}

/* tagSetLimit(id, bytes | null): null or undefined removes the limit. */
static napi_value nmw__js_tag_set_limit(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 2, argv);
  uint32_t id;
  napi_valuetype type;
  uint64_t limit = NMW_NO_LIMIT;

  if (!nmw__get_tag_id(env, argv[0], "tag", &id)) return NULL;
  NMW_CALL(env, napi_typeof(env, argv[1], &type));
  if (type == napi_number) {
    double d;
    NMW_CALL(env, napi_get_value_double(env, argv[1], &d));
    if (!(d >= 0 && d <= 9007199254740991.0) || d != (double)(uint64_t)d)
      return nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                        "bytes must be a non-negative integer or null");
    limit = (uint64_t)d;
  } else if (type != napi_null && type != napi_undefined) {
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "bytes must be a number or null");
  }
  if (id >= nmw_core_tag_count())
    return nmw__throw(env, "RangeError", "ERR_NMW_UNKNOWN_TAG", "tag is not a registered tag");
  int rc = nmw_core_tag_set_limit(id, limit);
  if (rc != NMW_OK) return nmw__throw_core(env, rc, "setting a tag limit");
  return NULL;
}

/* tagList() -> [{id, name, external, limit}] in id order; limit null when none. */
static napi_value nmw__js_tag_list(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value list;
  uint32_t count = nmw_core_tag_count();
  NMW_CALL(env, napi_create_array_with_length(env, count, &list));
  uint32_t n = 0;
  for (uint32_t id = 0; id < count; id++) {
    const char *name = nmw_core_tag_name(id);
    if (name == NULL) continue; /* not expected: ids below the count are registered */
    uint64_t limit = nmw_core_tag_limit(id);
    napi_value row, limit_value;
    NMW_CALL(env, napi_create_object(env, &row));
    if (limit == NMW_NO_LIMIT) {
      NMW_CALL(env, napi_get_null(env, &limit_value));
    } else {
      NMW_CALL(env, napi_create_double(env, (double)limit, &limit_value));
    }
    if (!nmw__set_uint32(env, row, "id", id) || !nmw__set_string(env, row, "name", name) ||
        !nmw__set_bool(env, row, "external", (nmw_core_tag_flags(id) & NMW_TAG_EXTERNAL) != 0) ||
        !nmw__set_bool(env, row, "strictPeaks",
                       (nmw_core_tag_flags(id) & NMW_TAG_STRICT_PEAKS) != 0) ||
        !nmw__set_value(env, row, "limit", limit_value))
      return NULL;
    NMW_CALL(env, napi_set_element(env, list, n++, row));
  }
  return list;
}

/* tagCount() -> number of registered tags (ids are 0 .. count-1). */
static napi_value nmw__js_tag_count(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  NMW_CALL(env, napi_create_uint32(env, nmw_core_tag_count(), &result));
  return result;
}

napi_status nmw__init_tags(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"tagRegister", nmw__js_tag_register}, {"tagLookup", nmw__js_tag_lookup},
      {"tagSetLimit", nmw__js_tag_set_limit}, {"tagList", nmw__js_tag_list},
      {"tagCount", nmw__js_tag_count},
  };
  return nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]);
}
