/*
 * finalizers.c: the finalizer audit's Node-API side.
 *
 *  - The twins of the C API table (nmw_wrap, nmw_add_finalizer, ...): each records
 *    a registration in the core (src/core/finalizers.c), then makes the real
 *    Node-API call with OUR trampoline as the finalizer and the record's id as
 *    its hint. When the call fails the record is undone; when the table cannot
 *    take a record the call is made with the author's finalizer, unaudited.
 *  - The trampoline, nmw_core_fin_trampoline: looks the record up (a stale id
 *    is a double finalization and the author's finalizer is not called again),
 *    times the author's finalizer, and records how it ended: by GC while the
 *    environment is live, at teardown once its owner was torn down (env_owner.c's
 *    first cleanup hook runs before Node finalizes anything at teardown). Only
 *    the "is the environment stopping" probe for external buffers is here.
 *  - The binding for lib/finalizers.js: summaries, live records, environments,
 *    the exit report (also written at process exit by an atexit handler when
 *    NATIVE_MEMWATCH_EXIT_REPORT names a file), optional JS stacks.
 *
 * The trampoline calls no Node-API but that probe (for buffers, which never
 * finalize inside the GC): a module built with NAPI_EXPERIMENTAL runs finalizers
 * inside the GC.
 */
#include "native_memwatch.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../core/core.h"
#include "addon.h"
#include "env_owner.h"
#include "finalizers.h"
#include "napi_util.h"

/* ---- stacks ---- */

static atomic_bool capture_stacks;

#if defined(__GNUC__) || defined(__clang__)
#define NMW_FIN_NOINLINE __attribute__((noinline))
#else
#define NMW_FIN_NOINLINE
#endif

/* Per JS thread: native-memwatch's own env there and its stack function
 * (lib/finalizers.js), and whether a finalizer is running (no JS then). */
typedef struct fin_thread {
  napi_env js_env;
  napi_ref stack_fn;
} fin_thread_t;
static _Thread_local fin_thread_t fin_tls;

/* The JS stack at the twin's call, or NULL (disabled, no stack function on this
 * thread, inside a finalizer, an exception pending, JS refused at teardown). */
static NMW_FIN_NOINLINE char *capture_stack_now(napi_env caller) {
  if (nmw_core_fin_running() || fin_tls.js_env == NULL || fin_tls.stack_fn == NULL) return NULL;
  bool pending = false;
  if (napi_is_exception_pending(caller, &pending) != napi_ok || pending) return NULL;
  napi_env env = fin_tls.js_env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return NULL;
  char *out = NULL;
  napi_value fn, recv, value;
  size_t len = 0;
  if (napi_get_reference_value(env, fin_tls.stack_fn, &fn) == napi_ok && fn != NULL &&
      napi_get_undefined(env, &recv) == napi_ok &&
      napi_call_function(env, recv, fn, 0, NULL, &value) == napi_ok &&
      napi_get_value_string_utf8(env, value, NULL, 0, &len) == napi_ok) {
    out = malloc(len + 1);
    if (out && napi_get_value_string_utf8(env, value, out, len + 1, &len) != napi_ok) {
      free(out);
      out = NULL;
    }
  } else if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  napi_close_handle_scope(env, scope);
  return out;
}

static inline char *capture_stack(napi_env caller) {
  return atomic_load_explicit(&capture_stacks, memory_order_relaxed) ? capture_stack_now(caller)
                                                                     : NULL;
}

/* ---- the trampoline ---- */

/* Whether env's environment has stopped running JS: true from the start of its
 * teardown (Node sets it before running any cleanup). A Node-API call whose
 * preamble checks it answers, on an empty object, without running JS. Only for
 * finalizers that never run inside the GC (see below). */
static bool fin_env_stopping(napi_env env) {
  bool pending = false, has = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return false;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value probe;
  bool stopping = napi_create_object(env, &probe) == napi_ok &&
                  napi_has_named_property(env, probe, "x", &has) != napi_ok;
  napi_close_handle_scope(env, scope);
  return stopping;
}

static bool fin_stopping(void *env) { return fin_env_stopping((napi_env)env); }

/* The finalizer Node calls: the core looks the record up, runs the author's
 * finalizer (timed) and counts it; a stale id is a double finalization and the
 * author's finalizer is not called again. */
static void fin_trampoline(napi_env env, void *data, void *hint) {
  nmw_core_fin_trampoline(env, data, (nmw_fin_id_t)(uintptr_t)hint, fin_stopping);
}

/* ---- the twins ---- */

/* Records a registration; false when the table cannot (the caller then makes
 * the plain call, unaudited). *id is the finalize_hint for the napi call (the
 * record's id with its class: every core call takes it). */
static bool fin_record(napi_env env, nmw_fin_kind_t kind, nmw_finalize_fn cb, void *data,
                       void *hint, const void *key, nmw_tag_t tag, nmw_site_t *site,
                       nmw_fin_id_t *id) {
  nmw_fin_reg_t reg = {0, kind, tag, site, cb, data, hint, key, capture_stack(env), env};
  nmw_fin_id_t plain;
  return nmw_core_fin_register_hint(&reg, &plain, id) == NMW_OK;
}

#define FIN_HINT(id) ((void *)(uintptr_t)(id))

int nmw__fin_wrap(void *env_, void *js_object, void *native_object, nmw_finalize_fn finalize_cb,
                  void *finalize_hint, void **result, nmw_tag_t tag, nmw_site_t *site) {
  napi_env env = env_;
  napi_ref ref = NULL;
  nmw_fin_id_t id;
  napi_status status;
  if (!fin_record(env, NMW_FIN_WRAP, finalize_cb, native_object, finalize_hint, native_object, tag,
                  site, &id)) {
    status = napi_wrap(env, js_object, native_object, (napi_finalize)finalize_cb, finalize_hint,
                       result ? &ref : NULL);
  } else {
    status = napi_wrap(env, js_object, native_object, fin_trampoline, FIN_HINT(id),
                       result ? &ref : NULL);
    if (status != napi_ok)
      nmw_core_fin_unregister(id);
    else if (result)
      nmw_core_fin_set_ref(id, ref);
  }
  if (status == napi_ok && result) *result = ref;
  return status;
}

int nmw__fin_remove_wrap(void *env_, void *js_object, void **result, nmw_tag_t tag,
                         nmw_site_t *site) {
  (void)site;
  napi_env env = env_;
  void *native = NULL;
  napi_status status = napi_remove_wrap(env, js_object, &native);
  if (status != napi_ok) return status;
  /* The finalizer will not run: the wrap of that native object is cancelled. */
  nmw_core_fin_cancel_key(nmw_core_owner_of_env(env), NMW_FIN_WRAP, native, tag);
  if (result) *result = native;
  return status;
}

int nmw__fin_add_finalizer(void *env_, void *js_object, void *finalize_data,
                           nmw_finalize_fn finalize_cb, void *finalize_hint, void **result,
                           nmw_tag_t tag, nmw_site_t *site) {
  napi_env env = env_;
  napi_ref ref = NULL;
  nmw_fin_id_t id;
  napi_status status;
  if (!fin_record(env, NMW_FIN_FINALIZER, finalize_cb, finalize_data, finalize_hint, NULL, tag,
                  site, &id)) {
    status = napi_add_finalizer(env, js_object, finalize_data, (napi_finalize)finalize_cb,
                                finalize_hint, result ? &ref : NULL);
  } else {
    status = napi_add_finalizer(env, js_object, finalize_data, fin_trampoline, FIN_HINT(id),
                                result ? &ref : NULL);
    if (status != napi_ok)
      nmw_core_fin_unregister(id);
    else if (result)
      nmw_core_fin_set_ref(id, ref);
  }
  if (status == napi_ok && result) *result = ref;
  return status;
}

int nmw__fin_create_external(void *env_, void *data, nmw_finalize_fn finalize_cb,
                             void *finalize_hint, void **result, nmw_tag_t tag, nmw_site_t *site) {
  napi_env env = env_;
  napi_value value = NULL;
  nmw_fin_id_t id;
  napi_status status;
  if (!fin_record(env, NMW_FIN_EXTERNAL, finalize_cb, data, finalize_hint, NULL, tag, site, &id)) {
    status = napi_create_external(env, data, (napi_finalize)finalize_cb, finalize_hint, &value);
  } else {
    status = napi_create_external(env, data, fin_trampoline, FIN_HINT(id), &value);
    if (status != napi_ok) nmw_core_fin_unregister(id);
  }
  if (status == napi_ok && result) *result = value;
  return status;
}

int nmw__fin_create_external_arraybuffer(void *env_, void *external_data, size_t byte_length,
                                         nmw_finalize_fn finalize_cb, void *finalize_hint,
                                         void **result, nmw_tag_t tag, nmw_site_t *site) {
  napi_env env = env_;
  napi_value value = NULL;
  nmw_fin_id_t id;
  napi_status status;
  /* V8 counts these bytes itself: an external tag would report them twice. */
  nmw_core_note_double_reported(external_data, site);
  if (!fin_record(env, NMW_FIN_EXTERNAL_ARRAYBUFFER, finalize_cb, external_data, finalize_hint,
                  NULL, tag, site, &id)) {
    status = napi_create_external_arraybuffer(env, external_data, byte_length,
                                              (napi_finalize)finalize_cb, finalize_hint, &value);
  } else {
    status = napi_create_external_arraybuffer(env, external_data, byte_length, fin_trampoline,
                                              FIN_HINT(id), &value);
    if (status != napi_ok) nmw_core_fin_unregister(id);
  }
  if (status == napi_ok && result) *result = value;
  return status;
}

int nmw__fin_create_external_buffer(void *env_, size_t length, void *data,
                                    nmw_finalize_fn finalize_cb, void *finalize_hint, void **result,
                                    nmw_tag_t tag, nmw_site_t *site) {
  napi_env env = env_;
  napi_value value = NULL;
  nmw_fin_id_t id;
  napi_status status;
  nmw_core_note_double_reported(data, site);
  if (!fin_record(env, NMW_FIN_EXTERNAL_BUFFER, finalize_cb, data, finalize_hint, NULL, tag, site,
                  &id)) {
    status = napi_create_external_buffer(env, length, data, (napi_finalize)finalize_cb,
                                         finalize_hint, &value);
  } else {
    status = napi_create_external_buffer(env, length, data, fin_trampoline, FIN_HINT(id), &value);
    if (status != napi_ok) nmw_core_fin_unregister(id);
  }
  if (status == napi_ok && result) *result = value;
  return status;
}

int nmw__fin_set_instance_data(void *env_, void *data, nmw_finalize_fn finalize_cb,
                               void *finalize_hint, nmw_tag_t tag, nmw_site_t *site) {
  napi_env env = env_;
  nmw_owner_t owner = nmw_core_owner_of_env(env);
  /* The data this one replaces: Node drops its finalizer without calling it. */
  nmw_fin_id_t previous = nmw_core_fin_find_key(owner, NMW_FIN_INSTANCE_DATA, env);
  nmw_fin_id_t id;
  napi_status status;
  if (!fin_record(env, NMW_FIN_INSTANCE_DATA, finalize_cb, data, finalize_hint, env, tag, site,
                  &id)) {
    status = napi_set_instance_data(env, data, (napi_finalize)finalize_cb, finalize_hint);
  } else {
    status = napi_set_instance_data(env, data, fin_trampoline, FIN_HINT(id));
    if (status != napi_ok) nmw_core_fin_unregister(id);
  }
  if (status == napi_ok && previous != 0) nmw_core_fin_cancel(previous);
  return status;
}

int nmw__fin_delete_reference(void *env_, void *ref, nmw_tag_t tag, nmw_site_t *site) {
  (void)tag;
  (void)site;
  /* A finalizer deleting its own reference (the usual pattern) cancels nothing and
   * needs no lookup. Otherwise the record is found before the delete: afterwards
   * another thread could get the same address. */
  nmw_fin_id_t id = ref == nmw_core_fin_running_ref() ? 0 : nmw_core_fin_find_ref(ref);
  napi_status status = napi_delete_reference((napi_env)env_, (napi_ref)ref);
  /* A reference deleted before its finalizer ran: the finalizer never will. */
  if (status == napi_ok && id != 0) nmw_core_fin_cancel(id);
  return status;
}

/* ---- JSON (the exit report) ---- */

typedef struct jbuf {
  char *p;
  size_t len, cap;
  bool failed;
} jbuf_t;

static void jb_raw(jbuf_t *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *grown = realloc(b->p, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->p = grown;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

#if defined(__GNUC__) || defined(__clang__)
static void jb_printf(jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static void jb_printf(jbuf_t *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) jb_raw(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void jb_str(jbuf_t *b, const char *s) {
  if (s == NULL) {
    jb_raw(b, "null", 4);
    return;
  }
  jb_raw(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char esc[2] = {'\\', (char)*c};
      jb_raw(b, esc, 2);
    } else if (*c < 0x20) {
      jb_printf(b, "\\u%04x", *c);
    } else {
      jb_raw(b, (const char *)c, 1);
    }
  }
  jb_raw(b, "\"", 1);
}

/* Milliseconds from a registration time to now (registration times are made
 * strictly increasing, so they can run a little ahead of the coarse clock). */
static double age_ms(uint64_t now, uint64_t then) { return then >= now ? 0 : (double)(now - then) / 1e6; }

static const char *state_name(nmw_owner_state_t state) {
  return state == NMW_OWNER_LIVE ? "live" : state == NMW_OWNER_TORN_DOWN ? "torn_down" : "gone";
}

static void jb_counts(jbuf_t *b, const nmw_fin_stats_t *s) {
  jb_printf(b,
            "{\"registered\":%llu,\"finalized\":%llu,\"finalizedAtTeardown\":%llu,"
            "\"cancelled\":%llu,\"live\":%llu,\"neverRun\":%llu}",
            (unsigned long long)s->registered, (unsigned long long)s->finalized_gc,
            (unsigned long long)s->finalized_teardown, (unsigned long long)s->cancelled,
            (unsigned long long)s->live, (unsigned long long)s->never_run);
}

/* What JS said about the exit (lib/finalizers.js, process 'exit'). */
static char exit_kind[32] = "unknown";
static int exit_code_known;
static int exit_code;

/* The exit report: records still live, per tag and per site, and every
 * environment's counters. final: nothing more will run. */
static bool build_exit_report(jbuf_t *b, const char *phase, bool final) {
  uint64_t now = nmw_core_fin_now();
  jb_printf(b, "{\"version\":1,\"phase\":\"%s\",\"exit\":", phase);
  jb_str(b, exit_kind);
  if (exit_code_known)
    jb_printf(b, ",\"exitCode\":%d", exit_code);
  else
    jb_raw(b, ",\"exitCode\":null", 16);
  jb_printf(b, ",\"pid\":%d,\"final\":%s", (int)uv_os_getpid(), final ? "true" : "false");

  nmw_fin_env_row_t envs[NMW_OWNER_MAX];
  size_t nenv = nmw_core_fin_envs(envs, NMW_OWNER_MAX);
  if (nenv > NMW_OWNER_MAX) nenv = NMW_OWNER_MAX;

  size_t cap = 64, n;
  nmw_fin_site_row_t *sites = NULL;
  for (;;) {
    nmw_fin_site_row_t *grown = realloc(sites, cap * sizeof *sites);
    if (!grown) {
      free(sites);
      return false;
    }
    sites = grown;
    n = nmw_core_fin_live_sites(0, true, sites, cap);
    if (n <= cap) break;
    cap = n + 16;
  }
  uint64_t count = 0;
  for (size_t i = 0; i < n; i++) count += sites[i].count;
  jb_printf(b, ",\"neverRun\":{\"count\":%llu,\"tags\":{", (unsigned long long)count);
  /* Per tag: sum the groups (few). */
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = sites[j].tag == sites[i].tag;
    if (seen) continue;
    uint64_t c = 0;
    for (size_t j = i; j < n; j++)
      if (sites[j].tag == sites[i].tag) c += sites[j].count;
    if (!first) jb_raw(b, ",", 1);
    first = false;
    jb_str(b, nmw_core_tag_name(sites[i].tag));
    jb_printf(b, ":%llu", (unsigned long long)c);
  }
  jb_raw(b, "},\"sites\":[", 11);
  for (size_t i = 0; i < n; i++) {
    const nmw_fin_site_row_t *s = &sites[i];
    int64_t thread_id = -1;
    for (size_t k = 0; k < nenv; k++)
      if (envs[k].owner == s->owner) thread_id = envs[k].thread_id;
    if (i) jb_raw(b, ",", 1);
    jb_printf(b, "{\"environment\":%u,", (unsigned)s->owner);
    if (thread_id >= 0)
      jb_printf(b, "\"threadId\":%lld,", (long long)thread_id);
    else
      jb_raw(b, "\"threadId\":null,", 16);
    jb_raw(b, "\"tag\":", 6);
    jb_str(b, nmw_core_tag_name(s->tag));
    jb_raw(b, ",\"kind\":", 8);
    jb_str(b, nmw_core_fin_kind_name(s->kind));
    jb_raw(b, ",\"file\":", 8);
    jb_str(b, s->file);
    jb_printf(b, ",\"line\":%u,\"function\":", (unsigned)s->line);
    jb_str(b, s->func);
    jb_printf(b, ",\"count\":%llu,\"oldestAgeMs\":%.3f}", (unsigned long long)s->count,
              age_ms(now, s->oldest_ns));
  }
  free(sites);
  jb_raw(b, "]},\"environments\":[", 19);

  nmw_fin_tag_stats_t *rows = malloc(NMW_TAG_MAX * sizeof *rows);
  if (!rows) return false;
  for (size_t k = 0; k < nenv; k++) {
    nmw_fin_stats_t total;
    size_t nt = nmw_core_fin_tag_stats(envs[k].owner, false, rows, NMW_TAG_MAX, &total);
    if (nt > NMW_TAG_MAX) nt = NMW_TAG_MAX;
    if (k) jb_raw(b, ",", 1);
    jb_printf(b, "{\"id\":%u,", (unsigned)envs[k].owner);
    if (envs[k].thread_id >= 0)
      jb_printf(b, "\"threadId\":%lld,", (long long)envs[k].thread_id);
    else
      jb_raw(b, "\"threadId\":null,", 16);
    jb_printf(b, "\"state\":\"%s\",\"total\":", state_name(envs[k].state));
    jb_counts(b, &total);
    jb_raw(b, ",\"tags\":{", 9);
    for (size_t i = 0; i < nt; i++) {
      if (i) jb_raw(b, ",", 1);
      jb_str(b, nmw_core_tag_name(rows[i].tag));
      jb_raw(b, ":", 1);
      jb_counts(b, &rows[i].s);
    }
    jb_raw(b, "}}", 2);
  }
  free(rows);
  jb_raw(b, "]}", 2);
  return !b->failed;
}

/* At process exit, after Node tore the main environment down (natural exit) or
 * without any teardown (process.exit(), a fatal exception): whatever is still
 * live never ran. Rewrites NATIVE_MEMWATCH_EXIT_REPORT with that. */
static void write_exit_report_at_exit(void) {
  const char *path = getenv("NATIVE_MEMWATCH_EXIT_REPORT");
  if (path == NULL || *path == '\0') return;
  nmw_core_fin_set_exit(true);
  jbuf_t b = {0};
  if (build_exit_report(&b, "atexit", true)) {
    FILE *f = fopen(path, "w");
    if (f) {
      fputs(b.p, f);
      fputc('\n', f);
      fclose(f);
    }
  }
  free(b.p);
}

static uv_once_t atexit_once = UV_ONCE_INIT;
static void register_atexit(void) {
  nmw_core_fin_clock_init();
  atexit(write_exit_report_at_exit);
}

/* ---- the binding ---- */

static napi_value fin_undefined(napi_env env) {
  napi_value v;
  NMW_CALL(env, napi_get_undefined(env, &v));
  return v;
}

static void fin_env_cleanup(void *arg) {
  (void)arg;
  if (fin_tls.stack_fn) napi_delete_reference(fin_tls.js_env, fin_tls.stack_fn);
  fin_tls.stack_fn = NULL;
  fin_tls.js_env = NULL;
}

/* finInit(stackFn, threadId): this environment's stack function and label. */
static napi_value fin_js_init(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 2, argv);
  napi_valuetype type;
  NMW_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_function)
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "stackFn must be a function");
  int64_t thread_id = -1;
  if (!nmw__get_integer(env, argv[1], "threadId", -1, NMW_MAX_SAFE_INTEGER, &thread_id)) return NULL;
  if (fin_tls.js_env == NULL) {
    NMW_CALL(env, napi_create_reference(env, argv[0], 1, &fin_tls.stack_fn));
    fin_tls.js_env = env;
    NMW_CALL(env, napi_add_env_cleanup_hook(env, fin_env_cleanup, NULL));
  }
  nmw_owner_t owner = nmw_core_owner_of_env(env);
  if (owner != 0) nmw_core_fin_set_thread_id(owner, thread_id);
  return fin_undefined(env);
}

/* finCaptureStacks([on]) -> whether stacks are captured (process-wide). */
static napi_value fin_js_capture_stacks(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  napi_valuetype type;
  NMW_CALL(env, napi_typeof(env, argv[0], &type));
  if (type == napi_boolean) {
    bool on;
    NMW_CALL(env, napi_get_value_bool(env, argv[0], &on));
    atomic_store(&capture_stacks, on);
  } else if (type != napi_undefined) {
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "on must be a boolean");
  }
  napi_value v;
  NMW_CALL(env, napi_get_boolean(env, atomic_load(&capture_stacks), &v));
  return v;
}

/* Selects environments from a number: -1 the calling one, -2 every one, else an
 * owner id. */
static bool fin_scope(napi_env env, napi_value arg, nmw_owner_t *owner, bool *all) {
  int64_t d;
  if (!nmw__get_integer(env, arg, "scope", -2, (double)UINT32_MAX, &d)) return false;
  *all = d == -2;
  *owner = d < 0 ? (d == -1 ? nmw_core_owner_of_env(env) : 0) : (nmw_owner_t)d;
  return true;
}

static napi_value fin_stats_object(napi_env env, const nmw_fin_stats_t *s, uint64_t now) {
  napi_value obj, hist;
  NMW_CALL(env, napi_create_object(env, &obj));
  if (!nmw__set_double(env, obj, "registered", (double)s->registered) ||
      !nmw__set_double(env, obj, "finalized", (double)s->finalized_gc) ||
      !nmw__set_double(env, obj, "finalizedAtTeardown", (double)s->finalized_teardown) ||
      !nmw__set_double(env, obj, "cancelled", (double)s->cancelled) ||
      !nmw__set_double(env, obj, "live", (double)s->live) ||
      !nmw__set_double(env, obj, "neverRun", (double)s->never_run) ||
      !nmw__set_double(env, obj, "maxNs", (double)s->max_ns) ||
      !nmw__set_double(env, obj, "totalNs", (double)s->total_ns))
    return NULL;
  NMW_CALL(env, napi_create_array_with_length(env, NMW_FIN_HIST_BUCKETS, &hist));
  for (uint32_t i = 0; i < NMW_FIN_HIST_BUCKETS; i++) {
    napi_value v;
    NMW_CALL(env, napi_create_double(env, (double)s->hist[i], &v));
    NMW_CALL(env, napi_set_element(env, hist, i, v));
  }
  if (!nmw__set_value(env, obj, "hist", hist)) return NULL;
  napi_value oldest;
  if (s->oldest_ns != 0) {
    NMW_CALL(env, napi_create_double(env, age_ms(now, s->oldest_ns), &oldest));
  } else {
    NMW_CALL(env, napi_get_null(env, &oldest));
  }
  if (!nmw__set_value(env, obj, "oldestLiveMs", oldest)) return NULL;
  return obj;
}

/* finStats(scope) -> {rows: [{tag, name, ...counts}], total: {...counts}} */
static napi_value fin_js_stats(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  nmw_owner_t owner;
  bool all;
  if (!fin_scope(env, argv[0], &owner, &all)) return NULL;
  nmw_fin_tag_stats_t *rows = malloc(NMW_TAG_MAX * sizeof *rows);
  if (!rows) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "finalizers: out of memory");
  nmw_fin_stats_t total;
  size_t n = nmw_core_fin_tag_stats(owner, all, rows, NMW_TAG_MAX, &total);
  if (n > NMW_TAG_MAX) n = NMW_TAG_MAX;
  uint64_t now = nmw_core_fin_now();
  napi_value result = NULL, list, obj;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_array_with_length(env, n, &list) != napi_ok) {
    free(rows);
    nmw__throw_last_error(env, "finStats");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    obj = fin_stats_object(env, &rows[i].s, now);
    if (!obj || !nmw__set_uint32(env, obj, "tag", rows[i].tag) ||
        !nmw__set_string(env, obj, "name", nmw_core_tag_name(rows[i].tag)) ||
        napi_set_element(env, list, (uint32_t)i, obj) != napi_ok) {
      free(rows);
      return NULL;
    }
  }
  free(rows);
  obj = fin_stats_object(env, &total, now);
  if (!obj || !nmw__set_value(env, result, "rows", list) ||
      !nmw__set_value(env, result, "total", obj))
    return NULL;
  return result;
}

/* finLive(scope, tag, olderThanMs, limit, withStacks) -> [{id, environment, kind,
 * tag, file, line, function, ageMs, stack?}] oldest first. tag -1: any. */
static napi_value fin_js_live(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 5, argv);
  nmw_owner_t owner;
  bool all, with_stacks = false;
  int64_t tag_i, limit_i;
  double older_ms;
  if (!fin_scope(env, argv[0], &owner, &all) ||
      !nmw__get_integer(env, argv[1], "tag", -1, (double)UINT32_MAX, &tag_i) ||
      !nmw__get_nonneg_number(env, argv[2], "olderThanMs", &older_ms) ||
      !nmw__get_integer(env, argv[3], "limit", -1, NMW_MAX_SAFE_INTEGER, &limit_i) ||
      !nmw__get_boolean(env, argv[4], "withStacks", &with_stacks))
    return NULL;
  nmw_tag_t tag = tag_i < 0 ? NMW_ANY_TAG : (nmw_tag_t)tag_i;
  uint64_t now = nmw_core_fin_now();
  /* Compared as doubles first: older_ms * 1e6 can be beyond any uint64_t. */
  double older_ns = older_ms * 1e6;
  uint64_t before = older_ns == 0                  ? UINT64_MAX
                    : older_ns >= (double)now      ? 0
                                                   : now - (uint64_t)older_ns;
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  size_t cap = limit_i < 0 || (uint64_t)limit_i > g.live ? (size_t)g.live : (size_t)limit_i;
  nmw_fin_live_row_t *rows = cap ? malloc(cap * sizeof *rows) : NULL;
  if (cap && !rows) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "live: out of memory");
  size_t n = cap ? nmw_core_fin_live(owner, all, tag, before, with_stacks, rows, cap) : 0;
  napi_value list = NULL;
  bool ok = napi_create_array_with_length(env, n, &list) == napi_ok;
  for (size_t i = 0; i < n && ok; i++) {
    const nmw_fin_live_row_t *r = &rows[i];
    napi_value obj;
    ok = napi_create_object(env, &obj) == napi_ok &&
         nmw__set_double(env, obj, "id", (double)r->id) &&
         nmw__set_double(env, obj, "environment", r->owner) &&
         nmw__set_string(env, obj, "kind", nmw_core_fin_kind_name(r->kind)) &&
         nmw__set_string(env, obj, "tag", nmw_core_tag_name(r->tag)) &&
         nmw__set_string(env, obj, "file", r->file) && nmw__set_uint32(env, obj, "line", r->line) &&
         nmw__set_string(env, obj, "function", r->func) &&
         nmw__set_double(env, obj, "ageMs", age_ms(now, r->registered_ns)) &&
         (r->stack == NULL || nmw__set_string(env, obj, "stack", r->stack)) &&
         napi_set_element(env, list, (uint32_t)i, obj) == napi_ok;
  }
  for (size_t i = 0; i < n; i++) free(rows[i].stack);
  free(rows);
  if (!ok) {
    nmw__throw_last_error(env, "finLive");
    return NULL;
  }
  return list;
}

/* finEnvironments() -> [{id, state, threadId, current}] */
static napi_value fin_js_environments(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_fin_env_row_t rows[NMW_OWNER_MAX];
  size_t n = nmw_core_fin_envs(rows, NMW_OWNER_MAX);
  if (n > NMW_OWNER_MAX) n = NMW_OWNER_MAX;
  nmw_owner_t current = nmw_core_owner_of_env(env);
  napi_value list;
  NMW_CALL(env, napi_create_array_with_length(env, n, &list));
  for (size_t i = 0; i < n; i++) {
    napi_value obj, tid;
    NMW_CALL(env, napi_create_object(env, &obj));
    if (rows[i].thread_id >= 0) {
      NMW_CALL(env, napi_create_double(env, (double)rows[i].thread_id, &tid));
    } else {
      NMW_CALL(env, napi_get_null(env, &tid));
    }
    if (!nmw__set_double(env, obj, "id", rows[i].owner) ||
        !nmw__set_string(env, obj, "state", state_name(rows[i].state)) ||
        !nmw__set_value(env, obj, "threadId", tid) ||
        !nmw__set_bool(env, obj, "current", rows[i].owner == current && current != 0))
      return NULL;
    NMW_CALL(env, napi_set_element(env, list, (uint32_t)i, obj));
  }
  return list;
}

/* finExiting(): this environment emitted process 'exit' (every environment). */
static napi_value fin_js_exiting(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_owner_t owner = nmw_core_owner_of_env(env);
  if (owner != 0) nmw_core_fin_mark_exiting(owner);
  return fin_undefined(env);
}

/* finExit(kind, exitCode|null, final): what the 'exit' listener learnt. */
static napi_value fin_js_exit(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 3, argv);
  size_t len = 0;
  NMW_CALL(env, napi_get_value_string_utf8(env, argv[0], exit_kind, sizeof exit_kind, &len));
  napi_valuetype type;
  NMW_CALL(env, napi_typeof(env, argv[1], &type));
  if (type == napi_number) {
    /* An exit code Node would not produce (a fraction, NaN, out of int32) is unknown. */
    double code;
    NMW_CALL(env, napi_get_value_double(env, argv[1], &code));
    if (code >= INT32_MIN && code <= INT32_MAX && code == (double)(int32_t)code) {
      exit_code = (int32_t)code;
      exit_code_known = 1;
    }
  }
  bool final = false;
  if (!nmw__get_boolean(env, argv[2], "final", &final)) return NULL;
  nmw_core_fin_set_exit(final);
  return fin_undefined(env);
}

/* finExitReport(phase) -> the report as a JSON string. */
static napi_value fin_js_exit_report(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  char phase[16];
  size_t len = 0;
  NMW_CALL(env, napi_get_value_string_utf8(env, argv[0], phase, sizeof phase, &len));
  jbuf_t b = {0};
  if (!build_exit_report(&b, phase, nmw_core_fin_exit_final())) {
    free(b.p);
    return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "exit report: out of memory");
  }
  napi_value s;
  napi_status status = napi_create_string_utf8(env, b.p, b.len, &s);
  free(b.p);
  NMW_CALL(env, status);
  return s;
}

/* finTotals() -> [registered, finalized, finalizedAtTeardown, cancelled, live] of
 * the calling environment (settle() waits for them to stop moving). */
static napi_value fin_js_totals(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_fin_stats_t t;
  nmw_core_fin_totals(nmw_core_owner_of_env(env), &t);
  const double values[5] = {(double)t.registered, (double)t.finalized_gc,
                            (double)t.finalized_teardown, (double)t.cancelled,
                            (double)(t.live + t.never_run)};
  napi_value list;
  NMW_CALL(env, napi_create_array_with_length(env, 5, &list));
  for (uint32_t i = 0; i < 5; i++) {
    napi_value v;
    NMW_CALL(env, napi_create_double(env, values[i], &v));
    NMW_CALL(env, napi_set_element(env, list, i, v));
  }
  return list;
}

/* finGlobal() -> the table's own memory and sizes. */
static napi_value fin_js_global(napi_env env, napi_callback_info info) {
  (void)info;
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  napi_value obj;
  NMW_CALL(env, napi_create_object(env, &obj));
  if (!nmw__set_double(env, obj, "recordBytes", (double)g.record_bytes) ||
      !nmw__set_double(env, obj, "hashBytes", (double)g.hash_bytes) ||
      !nmw__set_double(env, obj, "envBytes", (double)g.env_bytes) ||
      !nmw__set_double(env, obj, "stackBytes", (double)g.stack_bytes) ||
      !nmw__set_double(env, obj, "totalBytes", (double)g.total_bytes) ||
      !nmw__set_double(env, obj, "capacity", (double)g.capacity) ||
      !nmw__set_double(env, obj, "live", (double)g.live) ||
      !nmw__set_double(env, obj, "peakLive", (double)g.peak_live) ||
      !nmw__set_double(env, obj, "orphans", (double)g.orphans) ||
      !nmw__set_double(env, obj, "registerFailed", (double)g.register_failed))
    return NULL;
  return obj;
}

/* _testing.finalizeAgain(id): calls the trampoline for a record id as Node would
 * (test-only: a double finalization cannot happen through correct Node-API use).
 * Returns true when the trampoline refused it (the record was not live). */
static napi_value fin_js_finalize_again(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  double id;
  NMW_CALL(env, napi_get_value_double(env, argv[0], &id));
  /* Ids are below 2^52 (the bits above carry a hint's class). */
  if (!(id >= 1 && id < 4503599627370496.0) || id != (double)(uint64_t)id)
    return nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", "id must be a record id");
  uint64_t before = nmw_core_misuse_count(NMW_MISUSE_DOUBLE_FINALIZE);
  fin_trampoline(env, NULL, FIN_HINT((nmw_fin_id_t)id));
  napi_value v;
  NMW_CALL(env,
           napi_get_boolean(env, nmw_core_misuse_count(NMW_MISUSE_DOUBLE_FINALIZE) != before, &v));
  return v;
}

napi_status nmw__init_finalizers(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"finInit", fin_js_init},
      {"finCaptureStacks", fin_js_capture_stacks},
      {"finStats", fin_js_stats},
      {"finLive", fin_js_live},
      {"finEnvironments", fin_js_environments},
      {"finExiting", fin_js_exiting},
      {"finExit", fin_js_exit},
      {"finExitReport", fin_js_exit_report},
      {"finTotals", fin_js_totals},
      {"finGlobal", fin_js_global},
  };
  static const nmw_method_t testing[] = {{"finalizeAgain", fin_js_finalize_again}};
  uv_once(&atexit_once, register_atexit);
  napi_status status = nmw__define_methods(env, exports, methods, sizeof methods / sizeof *methods);
  if (status != napi_ok) return status;
  napi_value obj;
  NMW_CALL_STATUS(env, napi_create_object(env, &obj));
  status = nmw__define_methods(env, obj, testing, 1);
  if (status != napi_ok) return status;
  NMW_CALL_STATUS(env, napi_set_named_property(env, exports, "_testing", obj));
  if (!nmw__set_uint32(env, exports, "finHistBuckets", NMW_FIN_HIST_BUCKETS))
    return napi_pending_exception;
  return napi_ok;
}
