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

static int64_t flush_bins(nmw_bin_t *bins, bool ext) {
  int64_t bytes = 0;
  for (uint32_t k = 0; k < NMW_CACHE_CLASSES; k++) {
    nmw_bin_t *bin = &bins[k];
    for (nmw_hdr_t *h = bin->head; h;) {
      uint64_t link = h->word;
      nmw_hdr_t *next = (nmw_hdr_t *)(uintptr_t)(link & ~UINT64_C(1));
      free(nmw__cached_raw(h, link, ext));
      bytes += bin->alloc;
      h = next;
    }
    bin->head = NULL;
    bin->count = 0;
  }
  return bytes;
}

void nmw__cache_flush(nmw_shard_t *sh) {
  int64_t bytes = flush_bins(sh->bins, false) + flush_bins(sh->ext_bins, true);
  NMW_ADD(sh->cache_bytes, -bytes);
}

static void on_thread_exit(void *value) {
  nmw_shard_t *sh = value;
  /* Fold what the shard holds back, so a shard waiting for a new thread does not
   * hide part of the current totals from the peak checks of the others; and give
   * its cached blocks back to libc. */
  nmw__fold_all(sh);
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
  for (uint32_t k = 0; k < NMW_CACHE_CLASSES; k++) {
    sh->bins[k].alloc = (uint32_t)NMW_CLASS_ALLOC(k);
    sh->ext_bins[k].alloc = (uint32_t)NMW_EXT_CLASS_ALLOC(k);
  }
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

/* Moves a shard's unfolded change of one level into its global counters and
 * leaves the shard's room and base at 0. */
static void fold_level(nmw_pend_t *p, _Atomic int64_t *folded_bytes, _Atomic int64_t *folded_blocks) {
  int64_t ub = NMW_LOAD(p->base_bytes) - NMW_LOAD(p->room_bytes);
  int64_t uk = NMW_LOAD(p->base_blocks) - NMW_LOAD(p->room_blocks);
  /* Zeroed before the add: a reader summing meanwhile may miss the amount for a
   * moment (never count it twice, which could raise a peak above the truth). */
  atomic_store_explicit(&p->base_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&p->room_bytes, 0, memory_order_relaxed);
  atomic_store_explicit(&p->base_blocks, 0, memory_order_relaxed);
  atomic_store_explicit(&p->room_blocks, 0, memory_order_relaxed);
  if (ub) atomic_fetch_add_explicit(folded_bytes, ub, memory_order_release);
  if (uk) atomic_fetch_add_explicit(folded_blocks, uk, memory_order_release);
}

static int64_t room_of(int64_t peak, int64_t now, int64_t grow) {
  int64_t room = peak - now;
  return room < 0 ? 0 : room > grow ? grow : room;
}

static void set_room(nmw_pend_t *p, int64_t bytes, int64_t blocks) {
  atomic_store_explicit(&p->base_bytes, bytes, memory_order_relaxed);
  atomic_store_explicit(&p->room_bytes, bytes, memory_order_relaxed);
  atomic_store_explicit(&p->base_blocks, blocks, memory_order_relaxed);
  atomic_store_explicit(&p->room_blocks, blocks, memory_order_relaxed);
}

/* The exact current bytes and blocks of a tag (NMW_ANY_TAG: none) and of the
 * total, in one walk over the shards. */
static void current_both(nmw_tag_t tag, int64_t *tag_bytes, int64_t *tag_blocks,
                         int64_t *all_bytes, int64_t *all_blocks) {
  bool one = tag != NMW_ANY_TAG;
  int64_t b = one ? atomic_load(&nmw__tags[tag].folded_bytes) : 0;
  int64_t k = one ? atomic_load(&nmw__tags[tag].folded_blocks) : 0;
  int64_t ab = atomic_load(&nmw__total.folded_bytes), ak = atomic_load(&nmw__total.folded_blocks);
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all) {
    if (one) {
      const nmw_pend_t *p = &sh->tags[tag];
      b += NMW_LOAD(p->base_bytes) - NMW_LOAD(p->room_bytes);
      k += NMW_LOAD(p->base_blocks) - NMW_LOAD(p->room_blocks);
    }
    ab += NMW_LOAD(sh->total.base_bytes) - NMW_LOAD(sh->total.room_bytes);
    ak += NMW_LOAD(sh->total.base_blocks) - NMW_LOAD(sh->total.room_blocks);
  }
  *tag_bytes = b;
  *tag_blocks = k;
  *all_bytes = ab;
  *all_blocks = ak;
}

/* Folds both levels first, then sums the tag and the total in one walk. */
void nmw__sync(nmw_shard_t *sh, nmw_tag_t tag) {
  nmw_tag_state_t *t = &nmw__tags[tag];
  nmw_pend_t *p = &sh->tags[tag], *tp = &sh->total;
  /* The gate first: a reset that lands after this read bumps it again, so the
   * room set below is thrown away at the next allocation. */
  uint64_t gate = atomic_load_explicit(&t->gate, memory_order_acquire);
  if (p->gate == 0) atomic_fetch_add_explicit(&t->shards_seen, 1, memory_order_relaxed);
  fold_level(p, &t->folded_bytes, &t->folded_blocks);
  p->gate = gate & ~NMW_GATE_SLOW_MASK;
  if (tp->gate == 0) {
    atomic_fetch_add_explicit(&nmw__total.shards_seen, 1, memory_order_relaxed);
    tp->gate = 1;
  }
  fold_level(tp, &nmw__total.folded_bytes, &nmw__total.folded_blocks);
  /* A strict tag's peak is raised by every change: only the total is summed. */
  bool strict = gate & NMW_GATE_SLOW_STRICT;
  int64_t now_bytes, now_blocks, all_bytes, all_blocks;
  current_both(strict ? NMW_ANY_TAG : tag, &now_bytes, &now_blocks, &all_bytes, &all_blocks);
  if (!strict) {
    nmw__atomic_max(&t->peak_bytes, now_bytes);
    nmw__atomic_max(&t->peak_blocks, now_blocks);
    set_room(p, room_of(NMW_LOAD(t->peak_bytes), now_bytes, NMW_ROOM_GROW_BYTES),
             room_of(NMW_LOAD(t->peak_blocks), now_blocks, NMW_ROOM_GROW_BLOCKS));
  }
  int64_t wb = NMW_LOAD(nmw__total.watermark_bytes), wk = NMW_LOAD(nmw__total.watermark_blocks);
  if (all_bytes > wb || all_blocks > wk) {
    /* Above the lowest peak anyone watches: raise the total's and the newest
     * region's (the watermark follows). */
    nmw__raise_total_peak(all_bytes, all_blocks);
    wb = NMW_LOAD(nmw__total.watermark_bytes);
    wk = NMW_LOAD(nmw__total.watermark_blocks);
  }
  set_room(tp, room_of(wb, all_bytes, NMW_ROOM_GROW_BYTES),
           room_of(wk, all_blocks, NMW_ROOM_GROW_BLOCKS));
}

void nmw__fold_all(nmw_shard_t *sh) {
  uint32_t ntags = atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire);
  for (uint32_t i = 0; i < ntags; i++)
    fold_level(&sh->tags[i], &nmw__tags[i].folded_bytes, &nmw__tags[i].folded_blocks);
  fold_level(&sh->total, &nmw__total.folded_bytes, &nmw__total.folded_blocks);
}

void nmw__strict_change(nmw_tag_t tag, int64_t dbytes, int64_t dblocks) {
  nmw_tag_state_t *t = &nmw__tags[tag];
  int64_t b = atomic_fetch_add_explicit(&t->folded_bytes, dbytes, memory_order_relaxed) + dbytes;
  int64_t k = atomic_fetch_add_explicit(&t->folded_blocks, dblocks, memory_order_relaxed) + dblocks;
  if (dbytes > 0) nmw__atomic_max(&t->peak_bytes, b);
  if (dblocks > 0) nmw__atomic_max(&t->peak_blocks, k);
}

void nmw__current(nmw_tag_t tag, int64_t *bytes, int64_t *blocks) {
  int64_t b, k;
  if (tag == NMW_ANY_TAG)
    current_both(NMW_ANY_TAG, &b, &k, bytes, blocks);
  else
    current_both(tag, bytes, blocks, &b, &k);
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

uint32_t nmw_core_shard_count(void) { return atomic_load(&nmw__g.shard_count); }
