/*
 * owner.c: environments ("owners"). The addon opens an owner on each environment's
 * JS thread and tears it down in the environment's cleanup hook. Slots are reused
 * (the oldest torn-down first), so the table does not grow with the number of
 * workers ever started; ids carry a generation so stale ones are recognised.
 *
 * napi_env pointers are mapped to owners so that threads without an environment
 * (the libuv pool) can name the one that owns a block. The env is only a key: it is
 * never called off its JS thread.
 */
#include "internal.h"

#include <string.h>

nmw_owner_slot_t nmw__owners[NMW_OWNER_MAX];
_Atomic uint32_t nmw__owner_live_id[NMW_OWNER_MAX];
_Thread_local nmw_owner_t nmw__tls_owner __attribute__((tls_model("initial-exec")));

static uv_once_t owners_once = UV_ONCE_INIT;
static uv_mutex_t owners_lock;
static uv_rwlock_t env_lock;
static uint64_t teardown_clock; /* under owners_lock */
static uint32_t slots_used;     /* highest index ever used, under owners_lock */

#define ENV_MAP_MAX 4096
typedef nmw_env_entry_t env_entry_t;
static env_entry_t env_map[ENV_MAP_MAX]; /* under env_lock */
static size_t env_count;

_Thread_local nmw_env_entry_t nmw__env_cache __attribute__((tls_model("initial-exec")));

static void init_owners(void) {
  uv_mutex_init(&owners_lock);
  uv_rwlock_init(&env_lock);
  for (int i = 0; i < NMW_OWNER_MAX; i++) uv_mutex_init(&nmw__owners[i].lock);
}

int nmw_core_owner_open(const nmw_owner_hooks_t *hooks, nmw_owner_t *out) {
  nmw__init();
  uv_once(&owners_once, init_owners);
  uv_mutex_lock(&owners_lock);
  /* A never-used slot first, else the one torn down longest ago. */
  int pick = -1;
  uint64_t oldest = UINT64_MAX;
  for (int i = 1; i < NMW_OWNER_MAX; i++) {
    int state = atomic_load(&nmw__owners[i].state);
    if (state == NMW_OWNER_FREE) {
      pick = i;
      break;
    }
    /* torn_down_at is 0 until the teardown has finished (the state is set first,
     * so that frees in between count as after teardown): not reusable before. */
    if (state == NMW_OWNER_TORN_DOWN && nmw__owners[i].torn_down_at != 0 &&
        nmw__owners[i].torn_down_at < oldest) {
      oldest = nmw__owners[i].torn_down_at;
      pick = i;
    }
  }
  if (pick < 0) {
    uv_mutex_unlock(&owners_lock);
    return NMW_ENOSPC;
  }
  nmw_owner_slot_t *o = &nmw__owners[pick];
  if ((uint32_t)pick > slots_used) slots_used = (uint32_t)pick;
  o->torn_down_at = 0;
  o->generation = (o->generation + 1) & 0xffffffu;
  if (o->generation == 0) o->generation = 1;
  nmw_owner_t id = o->generation << 8 | (uint32_t)pick;

  uv_mutex_lock(&o->lock);
  /* Blocks of earlier owners of this slot stay in the shards' sums: start from them. */
  nmw__ext_sum((uint32_t)pick, o->base);
  memset(o->explicit_owed, 0, sizeof o->explicit_owed);
  memset(o->explicit_calls, 0, sizeof o->explicit_calls);
  memset(o->below_zero, 0, sizeof o->below_zero);
  memset(o->reported, 0, sizeof o->reported);
  o->reported_total = 0;
  o->flushing = false;
  atomic_store(&o->adjust_calls, 0);
  atomic_store(&o->off_thread_calls, 0);
  atomic_store(&o->flushes, 0);
  o->hooks = hooks ? *hooks : (nmw_owner_hooks_t){0};
  o->thread = uv_thread_self();
  atomic_store_explicit(&o->id, id, memory_order_release);
  atomic_store_explicit(&o->state, NMW_OWNER_LIVE, memory_order_release);
  atomic_store_explicit(&nmw__owner_live_id[pick], id, memory_order_release);
  uv_mutex_unlock(&o->lock);
  uv_mutex_unlock(&owners_lock);

  nmw__tls_owner = id;
  *out = id;
  return NMW_OK;
}

void nmw_core_owner_teardown(nmw_owner_t id) {
  if (!nmw__owner_live(id)) return;
  uint32_t index = NMW_OWNER_INDEX(id);
  nmw_owner_slot_t *o = &nmw__owners[index];
  /* From here on no thread can wake the owner: its loop handles are about to close. */
  uv_mutex_lock(&o->lock);
  atomic_store_explicit(&nmw__owner_live_id[index], 0, memory_order_release);
  atomic_store_explicit(&o->state, NMW_OWNER_TORN_DOWN, memory_order_release);
  o->hooks = (nmw_owner_hooks_t){0};
  uv_mutex_unlock(&o->lock);
  nmw__ext_teardown(o, index);

  uv_rwlock_wrlock(&env_lock);
  size_t kept = 0;
  for (size_t i = 0; i < env_count; i++)
    if (env_map[i].owner != id) env_map[kept++] = env_map[i];
  env_count = kept;
  uv_rwlock_wrunlock(&env_lock);

  uv_mutex_lock(&owners_lock);
  o->torn_down_at = ++teardown_clock;
  uv_mutex_unlock(&owners_lock);
  if (nmw__tls_owner == id) nmw__tls_owner = 0;
}

int nmw_core_owner_map_env(const void *env, nmw_owner_t owner) {
  if (env == NULL || !nmw__owner_live(owner)) return NMW_EINVAL;
  uv_once(&owners_once, init_owners);
  int rc = NMW_OK;
  uv_rwlock_wrlock(&env_lock);
  size_t i = 0;
  while (i < env_count && env_map[i].env != env) i++;
  if (i < env_count)
    env_map[i].owner = owner; /* a new env at a reused address */
  else if (env_count < ENV_MAP_MAX)
    env_map[env_count++] = (env_entry_t){env, owner};
  else
    rc = NMW_ENOSPC;
  uv_rwlock_wrunlock(&env_lock);
  return rc;
}

nmw_owner_t nmw_core_owner_of_env(const void *env) {
  if (env == NULL) return 0;
  if (nmw__env_cache.env == env && nmw__owner_live(nmw__env_cache.owner))
    return nmw__env_cache.owner;
  uv_once(&owners_once, init_owners);
  nmw_owner_t owner = 0;
  uv_rwlock_rdlock(&env_lock);
  for (size_t i = 0; i < env_count; i++) {
    if (env_map[i].env == env) {
      owner = env_map[i].owner;
      break;
    }
  }
  uv_rwlock_rdunlock(&env_lock);
  if (!nmw__owner_live(owner)) return 0;
  nmw__env_cache = (env_entry_t){env, owner};
  return owner;
}

nmw_owner_t nmw_core_owner_current(void) {
  return nmw__owner_live(nmw__tls_owner) ? nmw__tls_owner : 0;
}

nmw_owner_state_t nmw_core_owner_state(nmw_owner_t id) {
  nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(id)];
  if (id == 0 || atomic_load(&o->id) != id) return NMW_OWNER_FREE;
  return (nmw_owner_state_t)atomic_load(&o->state);
}

bool nmw_core_owner_on_own_thread(nmw_owner_t id) {
  if (!nmw__owner_live(id)) return false;
  uv_thread_t self = uv_thread_self();
  return uv_thread_equal(&self, &nmw__owners[NMW_OWNER_INDEX(id)].thread);
}

void nmw__owner_wake(nmw_owner_t id, bool growing) {
  nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(id)];
  /* Growth on the owner's own JS thread is reported at once, so that V8 hears of
   * memory before a synchronous loop allocates more, but only when V8's figure lags
   * by the threshold: growth that undoes a fall not yet reported needs no call.
   * Falls are never urgent. */
  if (growing && nmw__tls_owner == id && !o->flushing && o->hooks.flush) {
    o->hooks.flush(o->hooks.data, atomic_load(&nmw__ext_threshold));
    return;
  }
  uv_mutex_lock(&o->lock);
  if (atomic_load(&o->id) == id && atomic_load(&o->state) == NMW_OWNER_LIVE && o->hooks.wake)
    o->hooks.wake(o->hooks.data);
  uv_mutex_unlock(&o->lock);
}

size_t nmw_core_owner_list(nmw_owner_t *out, size_t cap) {
  size_t n = 0;
  for (int i = 1; i < NMW_OWNER_MAX && n < cap; i++) {
    nmw_owner_t id = atomic_load(&nmw__owners[i].id);
    if (nmw__owner_live(id)) out[n++] = id;
  }
  return n;
}

uint32_t nmw__owner_slots_used(void) {
  uv_once(&owners_once, init_owners);
  uv_mutex_lock(&owners_lock);
  uint32_t n = slots_used;
  uv_mutex_unlock(&owners_lock);
  return n;
}
