/*
 * napi_util.h: small helpers shared by the addon's files.
 *
 * Every Node-API call goes through NMW_CALL (or a variant): on failure it fetches
 * napi_get_last_error_info, throws an Error with that message unless an exception
 * is already pending, and returns from the calling function. A native function
 * therefore never continues with a half-built value, and JS sees an exception
 * instead of a crash.
 */
#ifndef NMW_ADDON_NAPI_UTIL_H
#define NMW_ADDON_NAPI_UTIL_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Throws the last Node-API error of env unless an exception is pending. */
void nmw__throw_last_error(napi_env env, const char *call);

#define NMW__CALL_BASE(env, call, ret_val)     \
  do {                                         \
    if ((call) != napi_ok) {                   \
      nmw__throw_last_error((env), #call);     \
      return ret_val;                          \
    }                                          \
  } while (0)

/* For functions returning napi_value. */
#define NMW_CALL(env, call) NMW__CALL_BASE(env, call, NULL)
/* For functions returning bool (false on failure). */
#define NMW_CALL_BOOL(env, call) NMW__CALL_BASE(env, call, false)
/* For functions returning napi_status (napi_pending_exception on failure). */
#define NMW_CALL_STATUS(env, call) NMW__CALL_BASE(env, call, napi_pending_exception)

/* Fetches the callback's arguments into argv[0 .. n-1] (undefined when missing). */
#define NMW_ARGS(env, info, n, argv)                                              \
  size_t nmw__argc = (n);                                                         \
  napi_value argv[(n) > 0 ? (n) : 1];                                             \
  NMW_CALL((env), napi_get_cb_info((env), (info), &nmw__argc, argv, NULL, NULL))

/* Property setters on a plain object: false (with an exception pending) on failure. */
bool nmw__set_double(napi_env env, napi_value obj, const char *key, double value);
bool nmw__set_uint32(napi_env env, napi_value obj, const char *key, uint32_t value);
bool nmw__set_bool(napi_env env, napi_value obj, const char *key, bool value);
/* A NULL string is stored as null. */
bool nmw__set_string(napi_env env, napi_value obj, const char *key, const char *value);
bool nmw__set_value(napi_env env, napi_value obj, const char *key, napi_value value);

/* A JS string (or null for NULL). NULL on failure with an exception pending. */
napi_value nmw__string_or_null(napi_env env, const char *s);

/* Reads a tag id: a number that is an integer in [0, 2^32). Throws a TypeError or
 * RangeError naming `what` and returns false otherwise. */
bool nmw__get_tag_id(napi_env env, napi_value value, const char *what, uint32_t *out);

/* Every number that crosses from JS is checked here, whatever lib/ checked before
 * (issue 7): no double reaches a cast to an integer unless it is finite and in
 * the target's range.
 *
 * Reads an integer in [min, max] (bounds within +-2^53). A TypeError naming
 * `what` when value is not a number; a RangeError naming it for NaN, +-Infinity,
 * a fraction or a value out of range. -0 reads as 0. */
bool nmw__get_integer(napi_env env, napi_value value, const char *what, double min, double max,
                      int64_t *out);
/* Reads a number that is finite and >= 0 (TypeError / RangeError naming `what`). */
bool nmw__get_nonneg_number(napi_env env, napi_value value, const char *what, double *out);
/* Reads a boolean (TypeError naming `what` otherwise). */
bool nmw__get_boolean(napi_env env, napi_value value, const char *what, bool *out);

#define NMW_MAX_SAFE_INTEGER 9007199254740991.0

/* Throws an Error / TypeError / RangeError with a code and returns NULL. */
napi_value nmw__throw(napi_env env, const char *kind, const char *code, const char *message);

/* The RangeError for a tag that cannot be made external: every one of the
 * NMW_EXT_TAG_MAX external indices of the process is taken (code
 * ERR_NMW_TOO_MANY_EXTERNAL_TAGS). Returns NULL. */
napi_value nmw__throw_external_full(napi_env env, const char *name);

/* Maps a core return code (NMW_E*) to a thrown error; `what` names the operation. */
napi_value nmw__throw_core(napi_env env, int rc, const char *what);

#endif /* NMW_ADDON_NAPI_UTIL_H */
