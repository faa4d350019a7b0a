/*
 * shards.c: per-thread counter shards.
 *
 * A thread gets a shard on its first allocation or free and gives it back when it
 * exits. Shards are never freed: a returned shard keeps its counts (they are part
 * of every sum) and is handed to the next new thread, so memory stays bounded by
 * the largest number of threads alive at once.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

/* initial-exec: one TLS load on the hot path, also when the addon is dlopen'ed
 * (a pointer fits glibc's surplus of static TLS). */
_Thread_local nmw_shard_t *nmw__tls_shard __attribute__((tls_model("initial-exec")));

/* libuv keys have no destructor; the POSIX key only serves to hear of thread exit. */
static pthread_key_t exit_key;

static void fold_all(nmw_shard_t *sh) {
  for (uint32_t page = 0; page < NMW_TAG_PAGES; page++) {
    nmw_pend_t *pends = atomic_load_explicit(&sh->tag_pages[page], memory_order_relaxed);
    if (!pends) continue;
    for (uint32_t i = 0; i < NMW_PAGE_SIZE; i++) {
      nmw_pend_t *p = &pends[i];
      if (NMW_LOAD(p->bytes) != 0 || NMW_LOAD(p->blocks) != 0)
        nmw__fold_tag(&nmw__tags[page * NMW_PAGE_SIZE + i], p);
    }
  }
  nmw__fold_total(sh);
}

static void on_thread_exit(void *value) {
  nmw_shard_t *sh = value;
  /* Fold what the shard holds back, so a shard waiting for a new thread does not
   * hide part of the current totals from the peak checks of the others. */
  fold_all(sh);
  nmw__tls_shard = NULL;
  uv_mutex_lock(&nmw__g.shard_lock);
  sh->next_free = nmw__g.free_shards;
  nmw__g.free_shards = sh;
  uv_mutex_unlock(&nmw__g.shard_lock);
}

static void init_key_once(void) { pthread_key_create(&exit_key, on_thread_exit); }

nmw_shard_t *nmw__shard_acquire(void) {
  static uv_once_t key_once = UV_ONCE_INIT;
  nmw__init();
  uv_once(&key_once, init_key_once);
  uv_mutex_lock(&nmw__g.shard_lock);
  nmw_shard_t *sh = nmw__g.free_shards;
  if (sh) {
    nmw__g.free_shards = sh->next_free;
  } else {
    sh = nmw__meta_calloc(1, sizeof *sh);
    if (sh) {
      sh->next_all = atomic_load_explicit(&nmw__g.shards, memory_order_relaxed);
      atomic_store_explicit(&nmw__g.shards, sh, memory_order_release);
      atomic_fetch_add(&nmw__g.shard_count, 1);
    }
  }
  uv_mutex_unlock(&nmw__g.shard_lock);
  if (!sh) abort(); /* no memory for a few kilobytes of counters: nothing sane is left */
  nmw__tls_shard = sh;
  pthread_setspecific(exit_key, sh);
  return sh;
}

nmw_slot_ctr_t *nmw__slot_page_new(nmw_shard_t *sh, uint32_t page) {
  nmw_slot_ctr_t *ctrs = nmw__meta_calloc(NMW_PAGE_SIZE, sizeof *ctrs);
  if (ctrs) atomic_store_explicit(&sh->slot_pages[page], ctrs, memory_order_release);
  return ctrs;
}

nmw_pend_t *nmw__tag_page_new(nmw_shard_t *sh, uint32_t page) {
  nmw_pend_t *pends = nmw__meta_calloc(NMW_PAGE_SIZE, sizeof *pends);
  if (pends) atomic_store_explicit(&sh->tag_pages[page], pends, memory_order_release);
  return pends;
}

static void atomic_max(_Atomic int64_t *target, int64_t value) {
  int64_t seen = atomic_load_explicit(target, memory_order_relaxed);
  while (value > seen &&
         !atomic_compare_exchange_weak_explicit(target, &seen, value, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

void nmw__fold_tag(nmw_tag_state_t *t, nmw_pend_t *p) {
  int64_t b = NMW_LOAD(p->bytes), k = NMW_LOAD(p->blocks);
  atomic_store_explicit(&p->bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&p->blocks, 0, memory_order_relaxed);
  int64_t folded_bytes = atomic_fetch_add_explicit(&t->folded_bytes, b, memory_order_relaxed) + b;
  int64_t folded_blocks = atomic_fetch_add_explicit(&t->folded_blocks, k, memory_order_relaxed) + k;
  if (folded_bytes - p->slack_bytes <= NMW_LOAD(t->peak_bytes) &&
      folded_blocks - p->slack_blocks <= NMW_LOAD(t->peak_blocks))
    return;
  /* A candidate peak. The folded value misses what other shards hold unfolded (frees
   * on an idle thread, say), so raise the peak to the exact current value: folded
   * plus every shard's unfolded part. Where the view was too high, remember by how
   * much (the slack), so that the same gap does not bring us back here. */
  int64_t now_bytes, now_blocks;
  nmw__current((nmw_tag_t)(t - nmw__tags), &now_bytes, &now_blocks);
  atomic_max(&t->peak_bytes, now_bytes);
  atomic_max(&t->peak_blocks, now_blocks);
  p->slack_bytes = folded_bytes > now_bytes ? folded_bytes - now_bytes : 0;
  p->slack_blocks = folded_blocks > now_blocks ? folded_blocks - now_blocks : 0;
}

void nmw__pend_without_page(nmw_shard_t *sh, nmw_tag_state_t *t, int64_t dbytes,
                            int64_t dblocks) {
  nmw_pend_t direct = {0};
  atomic_init(&direct.bytes, dbytes);
  atomic_init(&direct.blocks, dblocks);
  nmw__fold_tag(t, &direct);
  NMW_ADD(sh->total.bytes, dbytes);
  NMW_ADD(sh->total.blocks, dblocks);
  nmw__fold_total(sh);
}

void nmw__fold_total(nmw_shard_t *sh) {
  nmw_pend_t *p = &sh->total;
  int64_t b = NMW_LOAD(p->bytes), k = NMW_LOAD(p->blocks);
  atomic_store_explicit(&p->bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&p->blocks, 0, memory_order_relaxed);
  int64_t folded_bytes =
      atomic_fetch_add_explicit(&nmw__total.folded_bytes, b, memory_order_relaxed) + b;
  int64_t folded_blocks =
      atomic_fetch_add_explicit(&nmw__total.folded_blocks, k, memory_order_relaxed) + k;
  /* Even a batch that nets to zero can leave the folded total above a watched peak
   * (it may hold an earlier free), so the test is on the folded total itself. */
  if (folded_bytes - p->slack_bytes <= NMW_LOAD(nmw__total.watermark_bytes) &&
      folded_blocks - p->slack_blocks <= NMW_LOAD(nmw__total.watermark_blocks))
    return;
  /* As for tags: raise peaks to the exact current total, and keep the slack. */
  uv_mutex_lock(&nmw__g.peak_lock);
  int64_t now_bytes, now_blocks;
  nmw__current(NMW_ANY_TAG, &now_bytes, &now_blocks);
  nmw__raise_peaks_locked(now_bytes, now_blocks);
  uv_mutex_unlock(&nmw__g.peak_lock);
  p->slack_bytes = folded_bytes > now_bytes ? folded_bytes - now_bytes : 0;
  p->slack_blocks = folded_blocks > now_blocks ? folded_blocks - now_blocks : 0;
}

void nmw__current(nmw_tag_t tag, int64_t *bytes, int64_t *blocks) {
  int64_t b, k;
  if (tag == NMW_ANY_TAG) {
    b = atomic_load(&nmw__total.folded_bytes);
    k = atomic_load(&nmw__total.folded_blocks);
  } else {
    b = atomic_load(&nmw__tags[tag].folded_bytes);
    k = atomic_load(&nmw__tags[tag].folded_blocks);
  }
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all) {
    nmw_pend_t *p;
    if (tag == NMW_ANY_TAG) {
      p = &sh->total;
    } else {
      nmw_pend_t *page =
          atomic_load_explicit(&sh->tag_pages[tag >> NMW_PAGE_BITS], memory_order_acquire);
      if (!page) continue;
      p = &page[tag & (NMW_PAGE_SIZE - 1)];
    }
    b += NMW_LOAD(p->bytes);
    k += NMW_LOAD(p->blocks);
  }
  *bytes = b;
  *blocks = k;
}

void nmw__sum_slots(nmw_slot_sum_t *out, uint32_t nslots) {
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all) {
    for (uint32_t page = 0; page * NMW_PAGE_SIZE < nslots; page++) {
      nmw_slot_ctr_t *ctrs = atomic_load_explicit(&sh->slot_pages[page], memory_order_acquire);
      if (!ctrs) continue;
      uint32_t base = page * NMW_PAGE_SIZE;
      for (uint32_t i = 0; i < NMW_PAGE_SIZE && base + i < nslots; i++) {
        nmw_slot_sum_t *o = &out[base + i];
        o->allocs += NMW_LOAD(ctrs[i].allocs);
        o->frees += NMW_LOAD(ctrs[i].frees);
        o->reallocs += NMW_LOAD(ctrs[i].reallocs);
        o->bytes_in += NMW_LOAD(ctrs[i].bytes_in);
        o->bytes_out += NMW_LOAD(ctrs[i].bytes_out);
      }
    }
  }
}

uint32_t nmw_core_shard_count(void) { return atomic_load(&nmw__g.shard_count); }
