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
#include <sys/mman.h>

/* initial-exec: one TLS load on the hot path, also when the addon is dlopen'ed
 * (a pointer fits glibc's surplus of static TLS). */
_Thread_local nmw_shard_t *nmw__tls_shard __attribute__((tls_model("initial-exec")));

/* libuv keys have no destructor; the POSIX key only serves to hear of thread exit. */
static pthread_key_t exit_key;

static void fold_all(nmw_shard_t *sh) {
  uint32_t ntags = atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire);
  for (uint32_t i = 0; i < ntags; i++) {
    nmw_pend_t *p = &sh->tags[i];
    if (NMW_LOAD(p->bytes) != 0 || NMW_LOAD(p->blocks) != 0) nmw__fold_tag(&nmw__tags[i], p);
  }
  nmw__fold_total(sh);
}

void nmw__cache_flush(nmw_shard_t *sh) {
  int64_t bytes = 0;
  for (uint32_t k = 0; k < NMW_CACHE_CLASSES; k++) {
    nmw_bin_t *bin = &sh->bins[k];
    for (nmw_hdr_t *h = bin->head; h;) {
      uint64_t link = h->word;
      nmw_hdr_t *next = (nmw_hdr_t *)(uintptr_t)(link & ~UINT64_C(1));
      free((unsigned char *)h - (link & 1u) * NMW_HDR);
      bytes += (int64_t)NMW_CLASS_ALLOC(k);
      h = next;
    }
    bin->head = NULL;
    bin->count = 0;
  }
  NMW_ADD(sh->cache_bytes, -bytes);
}

static void on_thread_exit(void *value) {
  nmw_shard_t *sh = value;
  /* Fold what the shard holds back, so a shard waiting for a new thread does not
   * hide part of the current totals from the peak checks of the others; and give
   * its cached blocks back to libc. */
  fold_all(sh);
  nmw__cache_flush(sh);
  nmw__tls_shard = NULL;
  uv_mutex_lock(&nmw__g.shard_lock);
  sh->next_free = nmw__g.free_shards;
  nmw__g.free_shards = sh;
  uv_mutex_unlock(&nmw__g.shard_lock);
}

static void init_key_once(void) { pthread_key_create(&exit_key, on_thread_exit); }

/* The flat arrays: reserved, not committed (the kernel gives zero pages on first
 * touch). Never unmapped: shards live as long as the process. */
static void *reserve(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static nmw_shard_t *shard_new(void) {
  nmw_shard_t *sh = nmw__meta_calloc(1, sizeof *sh);
  if (!sh) return NULL;
  sh->slots = reserve(NMW_SLOT_MAX * sizeof *sh->slots);
  sh->reallocs = reserve(NMW_SLOT_MAX * sizeof *sh->reallocs);
  sh->tags = reserve(NMW_TAG_MAX * sizeof *sh->tags);
  if (!sh->slots || !sh->reallocs || !sh->tags) return NULL;
  return sh;
}

nmw_shard_t *nmw__shard_acquire(void) {
  static uv_once_t key_once = UV_ONCE_INIT;
  nmw__init();
  uv_once(&key_once, init_key_once);
  uv_mutex_lock(&nmw__g.shard_lock);
  nmw_shard_t *sh = nmw__g.free_shards;
  if (sh) {
    nmw__g.free_shards = sh->next_free;
  } else {
    sh = shard_new();
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

static size_t page_round(size_t bytes) { return (bytes + 4095) & ~(size_t)4095; }

uint64_t nmw__shard_metadata(void) {
  uint32_t slots = nmw__slot_end(), ntags = atomic_load(&nmw__g.tag_count);
  uint64_t per = page_round(slots * sizeof(nmw_slot_ctr_t)) + page_round(ntags * sizeof(nmw_pend_t)) +
                 page_round(slots * sizeof(int64_t));
  return per * atomic_load(&nmw__g.shard_count);
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
    nmw_pend_t *p = tag == NMW_ANY_TAG ? &sh->total : &sh->tags[tag];
    b += NMW_LOAD(p->bytes);
    k += NMW_LOAD(p->blocks);
  }
  *bytes = b;
  *blocks = k;
}

void nmw__sum_slots(nmw_slot_sum_t *out, uint32_t nslots) {
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all) {
    for (uint32_t i = 0; i < nslots; i++) {
      nmw_slot_sum_t *o = &out[i];
      nmw_slot_ctr_t *c = &sh->slots[i];
      o->allocs += NMW_LOAD(c->allocs);
      o->frees += NMW_LOAD(c->frees);
      o->reallocs += NMW_LOAD(sh->reallocs[i]);
      o->bytes_in += NMW_LOAD(c->bytes_in);
      o->bytes_out += NMW_LOAD(c->bytes_out);
    }
  }
}

void nmw__fold_due(nmw_shard_t *sh, nmw_tag_t tag, bool growing) {
  nmw_pend_t *p = &sh->tags[tag];
  nmw_tag_state_t *t = &nmw__tags[tag];
  nmw_pend_t *tp = &sh->total;
  int64_t pb = NMW_LOAD(p->bytes), pk = NMW_LOAD(p->blocks);
  int64_t tb = NMW_LOAD(tp->bytes), tk = NMW_LOAD(tp->blocks);
  if (growing) {
    if (pb + NMW_LOAD(t->folded_bytes) - p->slack_bytes > NMW_LOAD(t->peak_bytes) ||
        pk + NMW_LOAD(t->folded_blocks) - p->slack_blocks > NMW_LOAD(t->peak_blocks) ||
        pb > NMW_FOLD_BATCH_BYTES)
      nmw__fold_tag(t, p);
    if (tb + NMW_LOAD(nmw__total.folded_bytes) - tp->slack_bytes >
            NMW_LOAD(nmw__total.watermark_bytes) ||
        tk + NMW_LOAD(nmw__total.folded_blocks) - tp->slack_blocks >
            NMW_LOAD(nmw__total.watermark_blocks) ||
        tb > NMW_FOLD_BATCH_BYTES)
      nmw__fold_total(sh);
  } else {
    if (pb < -NMW_FOLD_BATCH_BYTES || pk < -NMW_FOLD_BATCH_BLOCKS) nmw__fold_tag(t, p);
    if (tb < -NMW_FOLD_BATCH_BYTES || tk < -NMW_FOLD_BATCH_BLOCKS) nmw__fold_total(sh);
  }
}

uint32_t nmw_core_shard_count(void) { return atomic_load(&nmw__g.shard_count); }
