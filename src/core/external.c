/*
 * external.c: what each environment owes V8 for external-tagged memory, and
 * reporting it.
 *
 * Allocations and frees of external-tagged blocks add to the current thread's
 * shard, per owner and per external tag (no lock, no shared write). When a shard's
 * contribution to one owner has moved by the threshold since it last said so, it
 * wakes the owner: synchronously when it is the owner's JS thread and the amount
 * grew, otherwise through the owner's wake hook (uv_async_send). The owner's JS
 * thread sums the shards and reports the difference to V8 with one call.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

_Atomic int64_t nmw__ext_threshold = NMW_EXT_DEFAULT_THRESHOLD;

static _Atomic uint64_t envs_torn_down;
static _Atomic int64_t teardown_reported, teardown_dropped;
static _Atomic int64_t freed_after_teardown_bytes;
static _Atomic uint64_t freed_after_teardown_blocks;
static _Atomic int64_t unattributed_explicit;

void nmw_core_external_set_threshold(int64_t bytes) {
  atomic_store(&nmw__ext_threshold, bytes < 1 ? 1 : bytes);
}

int64_t nmw_core_external_threshold(void) { return atomic_load(&nmw__ext_threshold); }

nmw_ext_ctr_t *nmw__ext_page_new(nmw_shard_t *sh, uint32_t index) {
  nmw_ext_ctr_t *page = nmw__meta_calloc(1, sizeof *page);
  if (page) atomic_store_explicit(&sh->ext_pages[index], page, memory_order_release);
  return page;
}

void nmw__ext_wake(nmw_ext_ctr_t *page, nmw_owner_t id) {
  bool growing = page->moved > 0;
  page->moved = 0;
  nmw__owner_wake(id, growing);
}

void nmw__ext_credit(nmw_shard_t *sh, nmw_owner_t id, unsigned ei, int64_t delta) {
  if (NMW_OWNER_INDEX(id) != 0 && !nmw__owner_live(id)) {
    if (delta < 0) {
      /* A block whose environment is gone: nothing to tell anyone. */
      atomic_fetch_add_explicit(&freed_after_teardown_bytes, -delta, memory_order_relaxed);
      atomic_fetch_add_explicit(&freed_after_teardown_blocks, 1, memory_order_relaxed);
      return;
    }
    id = 0;
  }
  nmw__ext_add(sh, id, ei, delta);
}

void nmw__ext_sum(uint32_t index, int64_t *owed) {
  memset(owed, 0, NMW_EXT_TAG_MAX * sizeof *owed);
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all) {
    nmw_ext_ctr_t *page = atomic_load_explicit(&sh->ext_pages[index], memory_order_acquire);
    if (!page) continue;
    for (int i = 0; i < NMW_EXT_TAG_MAX; i++) owed[i] += NMW_LOAD(page->owed[i]);
  }
}

/* What the owner in slot o owes per external tag now (JS thread or under o->lock
 * for the explicit part: the readers here tolerate a torn pair). */
static void owed_now(nmw_owner_slot_t *o, uint32_t index, int64_t *owed) {
  nmw__ext_sum(index, owed);
  for (int i = 0; i < NMW_EXT_TAG_MAX; i++) owed[i] += o->explicit_owed[i] - o->base[i];
}

static int64_t clamp0(int64_t v) { return v < 0 ? 0 : v; }

int64_t nmw_core_external_flush(nmw_owner_t id, nmw_adjust_fn adjust, void *ctx,
                                int64_t min_growth) {
  if (!nmw__owner_live(id)) return 0;
  uint32_t index = NMW_OWNER_INDEX(id);
  nmw_owner_slot_t *o = &nmw__owners[index];
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &o->thread)) {
    /* V8 must only hear from its own thread (a pool-thread call crashed it). */
    atomic_fetch_add(&o->off_thread_calls, 1);
    return 0;
  }
  if (o->flushing) return 0; /* re-entered from a GC inside our own adjust call */
  o->flushing = true;
  atomic_fetch_add(&o->flushes, 1);
  int64_t owed[NMW_EXT_TAG_MAX], total = 0;
  uv_mutex_lock(&o->lock);
  owed_now(o, index, owed);
  int64_t reported_total = o->reported_total;
  uv_mutex_unlock(&o->lock);
  for (int i = 0; i < NMW_EXT_TAG_MAX; i++) total += clamp0(owed[i]);
  int64_t delta = total - reported_total;
  if (delta != 0 && (min_growth <= 0 || delta >= min_growth) && adjust(ctx, delta) == 0) {
    atomic_fetch_add(&o->adjust_calls, 1);
    /* Under the lock: the audit reads them from any thread. */
    uv_mutex_lock(&o->lock);
    o->reported_total = total;
    for (int i = 0; i < NMW_EXT_TAG_MAX; i++) o->reported[i] = clamp0(owed[i]);
    uv_mutex_unlock(&o->lock);
  } else {
    delta = 0;
  }
  o->flushing = false;
  return delta;
}

void nmw__ext_teardown(nmw_owner_slot_t *o, uint32_t index) {
  int64_t owed[NMW_EXT_TAG_MAX], total = 0;
  uv_mutex_lock(&o->lock);
  owed_now(o, index, owed);
  uv_mutex_unlock(&o->lock);
  for (int i = 0; i < NMW_EXT_TAG_MAX; i++) total += clamp0(owed[i]);
  uv_mutex_lock(&o->lock);
  int64_t reported_total = o->reported_total;
  uv_mutex_unlock(&o->lock);
  int64_t pending = total - reported_total;
  atomic_fetch_add(&envs_torn_down, 1);
  atomic_fetch_add(&teardown_reported, reported_total);
  atomic_fetch_add(&teardown_dropped, pending < 0 ? -pending : pending);
}

static int ext_index_of(nmw_tag_t tag, unsigned *ei) {
  if (tag >= nmw_core_tag_count()) return NMW_EINVAL;
  unsigned flags = atomic_load(&nmw__tags[tag].flags);
  if (!(flags & NMW_TAG_EXTERNAL)) return NMW_EINVAL;
  *ei = NMW_TAGF_EXT_INDEX(flags);
  return NMW_OK;
}

int nmw_core_external_adjust(const void *env, nmw_tag_t tag, int64_t delta, nmw_site_t *site) {
  unsigned ei;
  if (ext_index_of(tag, &ei) != NMW_OK) return NMW_EINVAL;
  nmw_owner_t id = env ? nmw_core_owner_of_env(env) : nmw_core_owner_current();
  if (id == 0) {
    atomic_fetch_add(&unattributed_explicit, delta);
    return NMW_OK;
  }
  nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(id)];
  bool clamped = false;
  uv_mutex_lock(&o->lock);
  if (atomic_load(&o->id) == id) {
    int64_t next = o->explicit_owed[ei] + delta;
    if (next < 0) {
      clamped = true;
      o->below_zero[ei]++;
      next = 0;
    }
    o->explicit_owed[ei] = next;
    o->explicit_calls[ei]++;
  }
  uv_mutex_unlock(&o->lock);
  if (clamped) {
    char detail[160];
    snprintf(detail, sizeof detail,
             "adjustment of %lld bytes would take tag '%s' below zero; clamped at zero",
             (long long)delta, nmw_core_tag_name(tag));
    nmw__misuse(NMW_MISUSE_EXTERNAL_BELOW_ZERO, site, detail);
  }
  int64_t threshold = atomic_load(&nmw__ext_threshold);
  if (delta >= threshold || delta <= -threshold) nmw__owner_wake(id, delta > 0);
  return NMW_OK;
}

int nmw_core_owner_audit(nmw_owner_t id, nmw_owner_audit_t *out) {
  nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(id)];
  if (id == 0 || atomic_load(&o->id) != id) return NMW_ENOENT;
  memset(out, 0, sizeof *out);
  out->id = id;
  out->state = (nmw_owner_state_t)atomic_load(&o->state);
  int64_t owed[NMW_EXT_TAG_MAX];
  uv_mutex_lock(&o->lock);
  owed_now(o, NMW_OWNER_INDEX(id), owed);
  uint32_t ntags = nmw_core_tag_count();
  for (nmw_tag_t t = 0; t < ntags; t++) {
    unsigned flags = atomic_load(&nmw__tags[t].flags);
    if (!(flags & NMW_TAG_EXTERNAL)) continue;
    unsigned ei = NMW_TAGF_EXT_INDEX(flags);
    nmw_ext_tag_audit_t *a = &out->tags[out->ntags++];
    a->tag = t;
    a->owed = owed[ei];
    a->explicit_owed = o->explicit_owed[ei];
    a->reported = o->reported[ei];
    a->pending = clamp0(owed[ei]) - o->reported[ei];
    a->explicit_calls = o->explicit_calls[ei];
    a->below_zero = o->below_zero[ei];
    out->owed += clamp0(owed[ei]);
  }
  out->reported = o->reported_total;
  uv_mutex_unlock(&o->lock);
  out->pending = out->owed - out->reported;
  out->adjust_calls = atomic_load(&o->adjust_calls);
  out->off_thread_calls = atomic_load(&o->off_thread_calls);
  out->flushes = atomic_load(&o->flushes);
  return NMW_OK;
}

void nmw_core_external_global(nmw_ext_global_t *out) {
  memset(out, 0, sizeof *out);
  out->threshold = atomic_load(&nmw__ext_threshold);
  nmw_owner_t ids[NMW_OWNER_MAX];
  out->owners_live = (uint32_t)nmw_core_owner_list(ids, NMW_OWNER_MAX);
  out->owner_slots_used = nmw__owner_slots_used();
  out->owner_slots = NMW_OWNER_MAX - 1;
  int64_t owed[NMW_EXT_TAG_MAX];
  nmw__ext_sum(0, owed);
  for (int i = 0; i < NMW_EXT_TAG_MAX; i++) out->unattributed_bytes += owed[i];
  out->unattributed_bytes += atomic_load(&unattributed_explicit);
  out->envs_torn_down = atomic_load(&envs_torn_down);
  out->teardown_reported_bytes = atomic_load(&teardown_reported);
  out->teardown_dropped_bytes = atomic_load(&teardown_dropped);
  out->freed_after_teardown_bytes = atomic_load(&freed_after_teardown_bytes);
  out->freed_after_teardown_blocks = atomic_load(&freed_after_teardown_blocks);
  out->double_reported = nmw_core_misuse_count(NMW_MISUSE_DOUBLE_REPORTED);
}
