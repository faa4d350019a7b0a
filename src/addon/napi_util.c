/*
 * napi_util.c: error and property helpers used by every file of the addon.
 */
#include "napi_util.h"

#include <stdio.h>

#include "../core/core.h"

void nmw__throw_last_error(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  bool pending = false;
  /* Read the error before any other call overwrites it. */
  napi_get_last_error_info(env, &info);
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  char message[256];
  snprintf(message, sizeof message, "native-memwatch: %s failed: %s", call,
           (info && info->error_message) ? info->error_message : "unknown Node-API error");
  napi_throw_error(env, "ERR_NMW_NAPI", message);
}

napi_value nmw__throw(napi_env env, const char *kind, const char *code, const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  if (kind[0] == 'T')
    napi_throw_type_error(env, code, message);
  else if (kind[0] == 'R')
    napi_throw_range_error(env, code, message);
  else
    napi_throw_error(env, code, message);
  return NULL;
}

napi_value nmw__throw_external_full(napi_env env, const char *name) {
  char message[256];
  snprintf(message, sizeof message,
           "cannot make tag \"%s\" external: at most %d tags can be external in a process, "
           "and %d have been (a tag keeps its external slot once it has been external)",
           name, NMW_EXT_TAG_MAX, NMW_EXT_TAG_MAX);
  return nmw__throw(env, "RangeError", "ERR_NMW_TOO_MANY_EXTERNAL_TAGS", message);
}

napi_value nmw__throw_core(napi_env env, int rc, const char *what) {
  char message[192];
  const char *kind = "Error", *code = "ERR_NMW_INTERNAL", *why = "unexpected result";
  switch (rc) {
    case NMW_EINVAL:
      kind = "RangeError", code = "ERR_NMW_INVALID", why = "invalid argument";
      break;
    case NMW_ENOSPC:
      kind = "RangeError", code = "ERR_NMW_NO_SPACE", why = "table is full";
      break;
    case NMW_ENOENT:
      kind = "RangeError", code = "ERR_NMW_UNKNOWN_TAG", why = "no such tag";
      break;
    case NMW_ECONFLICT:
      code = "ERR_NMW_TAG_CONFLICT", why = "the tag exists with other flags";
      break;
    case NMW_ENOMEM:
      code = "ERR_NMW_NO_MEMORY", why = "out of memory";
      break;
    default:
      break;
  }
  snprintf(message, sizeof message, "%s: %s (%d)", what, why, rc);
  return nmw__throw(env, kind, code, message);
}

napi_value nmw__string_or_null(napi_env env, const char *s) {
  napi_value v;
  if (s == NULL) {
    NMW_CALL(env, napi_get_null(env, &v));
  } else {
    NMW_CALL(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  }
  return v;
}

bool nmw__set_value(napi_env env, napi_value obj, const char *key, napi_value value) {
  if (value == NULL) return false;
  NMW_CALL_BOOL(env, napi_set_named_property(env, obj, key, value));
  return true;
}

bool nmw__set_double(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  NMW_CALL_BOOL(env, napi_create_double(env, value, &v));
  return nmw__set_value(env, obj, key, v);
}

bool nmw__set_uint32(napi_env env, napi_value obj, const char *key, uint32_t value) {
  napi_value v;
  NMW_CALL_BOOL(env, napi_create_uint32(env, value, &v));
  return nmw__set_value(env, obj, key, v);
}

bool nmw__set_bool(napi_env env, napi_value obj, const char *key, bool value) {
  napi_value v;
  NMW_CALL_BOOL(env, napi_get_boolean(env, value, &v));
  return nmw__set_value(env, obj, key, v);
}

bool nmw__set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  return nmw__set_value(env, obj, key, nmw__string_or_null(env, value));
}

bool nmw__get_tag_id(napi_env env, napi_value value, const char *what, uint32_t *out) {
  napi_valuetype type;
  double d;
  char message[128];
  NMW_CALL_BOOL(env, napi_typeof(env, value, &type));
  if (type != napi_number) {
    snprintf(message, sizeof message, "%s must be a tag id (number)", what);
    nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  NMW_CALL_BOOL(env, napi_get_value_double(env, value, &d));
  /* The comparisons are false for NaN, so NaN is refused too. */
  if (!(d >= 0 && d < 4294967296.0) || d != (double)(uint32_t)d) {
    snprintf(message, sizeof message, "%s must be an integer tag id", what);
    nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

static bool nmw__get_number(napi_env env, napi_value value, const char *what, double *out) {
  napi_valuetype type;
  char message[128];
  NMW_CALL_BOOL(env, napi_typeof(env, value, &type));
  if (type != napi_number) {
    snprintf(message, sizeof message, "%s must be a number", what);
    nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  NMW_CALL_BOOL(env, napi_get_value_double(env, value, out));
  return true;
}

bool nmw__get_integer(napi_env env, napi_value value, const char *what, double min, double max,
                      int64_t *out) {
  double d;
  char message[160];
  if (!nmw__get_number(env, value, what, &d)) return false;
  /* False for NaN; the bounds keep the cast below defined. */
  if (!(d >= min && d <= max) || d != (double)(int64_t)d) {
    snprintf(message, sizeof message, "%s must be an integer in [%.17g, %.17g]", what, min, max);
    nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool nmw__get_nonneg_number(napi_env env, napi_value value, const char *what, double *out) {
  char message[128];
  if (!nmw__get_number(env, value, what, out)) return false;
  if (!(*out >= 0 && *out <= 1.7976931348623157e308)) {
    snprintf(message, sizeof message, "%s must be a finite non-negative number", what);
    nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", message);
    return false;
  }
  if (*out == 0) *out = 0; /* -0 */
  return true;
}

bool nmw__get_boolean(napi_env env, napi_value value, const char *what, bool *out) {
  napi_valuetype type;
  char message[128];
  NMW_CALL_BOOL(env, napi_typeof(env, value, &type));
  if (type != napi_boolean) {
    snprintf(message, sizeof message, "%s must be a boolean", what);
    nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  NMW_CALL_BOOL(env, napi_get_value_bool(env, value, out));
  return true;
}
