/*
 * env_owner.c: one owner (src/core/owner.c) per Node environment, and reporting
 * its external memory to V8.
 *
 * Any addon can attach an environment: native-memwatch's own init does, and so
 * does a consumer's nmw_import(). The first attach in an environment (keyed by its
 * uv loop, which is per environment) opens the owner and two unreferenced loop
 * handles: a check handle that flushes once per loop turn, and an async handle that
 * other threads wake when their share moved by the threshold. Neither keeps the
 * loop alive. Every attached napi_env is mapped to the owner, so pool threads can
 * name it, and registers a cleanup hook: the first hook to run tears the owner
 * down, before any finalizer of that environment runs at teardown. The creator's
 * async cleanup hook closes the handles.
 *
 * Node keys cleanup hooks by (function, argument) per environment, not per napi_env,
 * and aborts on a duplicate: every addon of one environment that attaches gets its
 * own small attach record as the hook's argument. The record holds a reference on
 * the env_owner; the creator's handles hold one too. The last release frees it, so
 * the order in which Node runs the hooks does not matter.
 *
 * napi_adjust_external_memory is only ever called here, on the JS thread, with no
 * lock held (it can run a GC and finalizers inside itself).
 */
#include <node_api.h>
#include <stdlib.h>
#include <uv.h>

#include "env_owner.h"

typedef struct env_owner {
  uv_loop_t *loop;
  nmw_owner_t owner;
  napi_env report_env; /* the attaching env that created this record */
  uv_async_t wake;
  uv_check_t turn;
  int open_handles;
  int refs; /* the open handles (one for both) + one per attach record; JS thread */
  bool torn_down;
  napi_async_cleanup_hook_handle cleanup;
  struct env_owner *next;
} env_owner_t;

static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t lock; /* the list */
static env_owner_t *owners;

static void init_lock(void) { uv_mutex_init(&lock); }

static int adjust(void *ctx, int64_t delta) {
  env_owner_t *eo = ctx;
  int64_t total;
  return napi_adjust_external_memory(eo->report_env, delta, &total) == napi_ok ? 0 : -1;
}

static void flush(void *data, int64_t min_growth) {
  env_owner_t *eo = data;
  if (!eo->torn_down) nmw_core_external_flush(eo->owner, adjust, eo, min_growth);
}

/* Any thread, called under the owner's lock (so never after teardown). */
static void wake(void *data) { uv_async_send(&((env_owner_t *)data)->wake); }

static void on_wake(uv_async_t *handle) { flush(handle->data, 0); }
static void on_turn(uv_check_t *handle) { flush(handle->data, 0); }

static void tear_down(env_owner_t *eo) {
  if (eo->torn_down) return;
  /* Report nothing more: the isolate is going away. What was pending is counted. */
  eo->torn_down = true;
  nmw_core_owner_teardown(eo->owner);
  uv_mutex_lock(&lock);
  for (env_owner_t **p = &owners; *p; p = &(*p)->next) {
    if (*p == eo) {
      *p = eo->next;
      break;
    }
  }
  uv_mutex_unlock(&lock);
}

/* The JS thread of the environment (hooks and handle callbacks all run there). */
static void release(env_owner_t *eo) {
  if (--eo->refs == 0) free(eo);
}

/* One per attached napi_env other than the creator: the cleanup hook's argument. */
typedef struct env_attach {
  env_owner_t *eo;
} env_attach_t;

static void on_env_cleanup(void *arg) {
  env_attach_t *at = arg;
  env_owner_t *eo = at->eo;
  free(at);
  tear_down(eo);
  release(eo);
}

static void on_handle_closed(uv_handle_t *handle) {
  env_owner_t *eo = handle->data;
  if (--eo->open_handles > 0) return;
  napi_remove_async_cleanup_hook(eo->cleanup);
  release(eo);
}

static void on_async_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  env_owner_t *eo = arg;
  eo->cleanup = handle;
  tear_down(eo);
  uv_check_stop(&eo->turn);
  uv_close((uv_handle_t *)&eo->turn, on_handle_closed);
  uv_close((uv_handle_t *)&eo->wake, on_handle_closed);
}

static env_owner_t *create(napi_env env, uv_loop_t *loop) {
  env_owner_t *eo = calloc(1, sizeof *eo);
  if (!eo) return NULL;
  eo->loop = loop;
  eo->report_env = env;
  nmw_owner_hooks_t hooks = {wake, flush, eo};
  if (nmw_core_owner_open(&hooks, &eo->owner) != NMW_OK) {
    free(eo);
    return NULL;
  }
  uv_async_init(loop, &eo->wake, on_wake);
  uv_check_init(loop, &eo->turn);
  eo->wake.data = eo->turn.data = eo;
  uv_check_start(&eo->turn, on_turn);
  uv_unref((uv_handle_t *)&eo->wake);
  uv_unref((uv_handle_t *)&eo->turn);
  eo->open_handles = 2;
  eo->refs = 1;
  if (napi_add_async_cleanup_hook(env, on_async_cleanup, eo, NULL) != napi_ok) {
    /* Without the hook the handles could outlive the loop: do without them. */
    nmw_core_owner_teardown(eo->owner);
    uv_close((uv_handle_t *)&eo->turn, NULL);
    uv_close((uv_handle_t *)&eo->wake, NULL);
    eo->torn_down = true;
    return NULL;
  }
  eo->next = owners;
  owners = eo;
  return eo;
}

int nmw__env_attach(napi_env env) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NMW_ENAPI;
  uv_once(&once, init_lock);
  uv_mutex_lock(&lock);
  env_owner_t *eo = owners;
  while (eo && eo->loop != loop) eo = eo->next;
  bool created = false;
  if (!eo) {
    eo = create(env, loop);
    created = eo != NULL;
  }
  uv_mutex_unlock(&lock);
  if (!eo) return NMW_ENOSPC;
  /* Attaching the same env again (a second nmw_import) changes nothing: Node refuses
   * a cleanup hook registered twice. */
  if (nmw_core_owner_of_env(env) == eo->owner) return NMW_OK;
  if (nmw_core_owner_map_env(env, eo->owner) != NMW_OK) return NMW_ENOSPC;
  /* Each attached env hears of teardown; the creator is covered by its async hook,
   * but an extra sync hook of its own would run after the async one, so skip it. */
  if (created) return NMW_OK;
  env_attach_t *at = malloc(sizeof *at);
  if (!at) return NMW_ENOMEM;
  at->eo = eo;
  if (napi_add_env_cleanup_hook(env, on_env_cleanup, at) != napi_ok) {
    free(at);
    return NMW_ENAPI;
  }
  eo->refs++;
  return NMW_OK;
}
