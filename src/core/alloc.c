/*
 * alloc.c: the tracked twins of malloc, calloc, realloc, free, strdup and
 * aligned_alloc.
 *
 * A block is [prefix 8 B, aligned/external blocks only][header 16 B][user bytes]
 * [canary 8 B] (internal.h). The header names the (site, tag) slot to credit when
 * the block is freed, whichever thread frees it, and carries a check word derived
 * from the block's address and its flags: LIVE while allocated, DEAD once freed.
 * Plain blocks made by the public header's fallback (ABI 1) keep their own 32-byte
 * header with a PLAIN check word in the same place, right before the block.
 *
 * malloc and free have one leaf fast path each: a block of up to 1 KiB of a plain
 * tag, taken from / given to the thread's cache of freed blocks. Everything rare
 * (a cache miss, limits, external tags, aligned blocks, misuse, the first use of a
 * site, a fold for peaks) leaves through one out-of-line call.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMW_ALIGN_MAX (1u << 20)

typedef enum block_state { BLOCK_LIVE, BLOCK_DEAD, BLOCK_PLAIN, BLOCK_FOREIGN } block_state_t;

#define OWNER_OF_THREAD UINT32_MAX

static inline nmw_hdr_t *hdr(const void *user) {
  return (nmw_hdr_t *)((uintptr_t)user - NMW_HDR);
}
static inline uint64_t *prefix_of(const void *user) {
  return (uint64_t *)((uintptr_t)user - NMW_HDR - 8);
}
/* Names the owner of a prefixed block's external bytes (the prefix's high half;
 * its low half is the offset from libc's chunk). */
static inline void set_prefix_owner(void *user, nmw_owner_t owner) {
  uint64_t *pre = prefix_of(user);
  *pre = (uint32_t)*pre | (uint64_t)owner << 32;
}
static inline uint64_t blk_size(const nmw_hdr_t *h) { return h->word & NMW_SIZE_MASK; }
static inline uint32_t blk_slot(const nmw_hdr_t *h) { return (uint32_t)(h->word >> 48); }
static inline nmw_tag_t blk_tag(const nmw_hdr_t *h) { return nmw__slot_tag[blk_slot(h)]; }
static inline bool page_start(uintptr_t u) { return (u & 4095u) == 0; }

static inline void write_canary(void *user, uint64_t size, uint64_t check) {
  uint64_t c = check ^ NMW_CANARY_XOR;
  memcpy((unsigned char *)user + size, &c, sizeof c);
}

static inline bool canary_intact(const void *user, uint64_t size, uint64_t check) {
  uint64_t c;
  memcpy(&c, (const unsigned char *)user + size, sizeof c);
  return c == (check ^ NMW_CANARY_XOR);
}

/* Reads the word before a pointer that may be foreign (hence no sanitizer). */
static inline NMW__NO_ASAN uint64_t read_before(uintptr_t p) {
  NMW__LAUNDER(p);
  return *(const uint64_t *)(p - 8);
}

/* What ptr is: a live or dead block of ours (with its flags), a plain block of the
 * header's fallback, or foreign. Never reads memory that may not be there: no
 * block starts 1..15 bytes into a page, and a page-aligned pointer's page before
 * is probed first (nmw__header_of's probe covers the 32 bytes before it). */
static block_state_t classify(const void *ptr, unsigned *flags) {
  uintptr_t p = (uintptr_t)ptr;
  if (p < 4096 + 32 || (p & 7u) != 0) return BLOCK_FOREIGN;
  uintptr_t off = p & 4095u;
  if (off < NMW_HDR) {
    if (off != 0 || nmw__header_of(ptr) == NULL) return BLOCK_FOREIGN;
  }
  uint64_t check = read_before(p);
  uint64_t x = check ^ (uint64_t)p;
  if ((x ^ NMW_MAGIC_LIVE) <= NMW_BLK_FLAGS_MASK) {
    *flags = (unsigned)(x ^ NMW_MAGIC_LIVE);
    return BLOCK_LIVE;
  }
  if ((x ^ NMW_MAGIC_DEAD) <= NMW_BLK_FLAGS_MASK) {
    *flags = (unsigned)(x ^ NMW_MAGIC_DEAD);
    return BLOCK_DEAD;
  }
  /* Plain blocks keep ABI 1's placement rule: never 1..31 bytes into a page. */
  if (check == (NMW__MIX(p) ^ NMW__MAGIC_PLAIN) && (off == 0 || off >= NMW_HEADER_SIZE))
    return BLOCK_PLAIN;
  return BLOCK_FOREIGN;
}

static nmw_tag_t checked_tag(nmw_tag_t tag, nmw_site_t *site) {
  if (NMW_LIKELY(tag < atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire))) return tag;
  char detail[96];
  snprintf(detail, sizeof detail, "unknown tag id %u; credited to 'untagged'", (unsigned)tag);
  nmw__misuse(NMW_MISUSE_BAD_TAG, site, detail);
  return NMW_UNTAGGED;
}

/* Reports a bad pointer passed to free/realloc; returns true when the caller must
 * stop (the pointer is not a live block of ours). */
static bool refuse_bad_pointer(block_state_t state, const char *call, void *ptr, nmw_site_t *site) {
  char detail[128];
  if (state == BLOCK_DEAD) {
    snprintf(detail, sizeof detail, "%s(%p): block already freed; left alone", call, ptr);
    nmw__misuse(NMW_MISUSE_DOUBLE_FREE, site, detail);
    return true;
  }
  if (state == BLOCK_FOREIGN) {
    snprintf(detail, sizeof detail, "%s(%p): pointer not allocated by native-memwatch; left alone",
             call, ptr);
    nmw__misuse(NMW_MISUSE_FOREIGN_FREE, site, detail);
    return true;
  }
  return false;
}

static void report_tag_mismatch(nmw_tag_t block_tag, nmw_tag_t tag, const char *call,
                                nmw_site_t *site) {
  char detail[192];
  const char *named = nmw_core_tag_name(tag);
  snprintf(detail, sizeof detail, "%s: block has tag '%s', the call named '%s'", call,
           nmw_core_tag_name(block_tag), named ? named : "(unknown)");
  nmw__misuse(NMW_MISUSE_TAG_MISMATCH, site, detail);
}

static void check_canary(const nmw_hdr_t *h, const void *user) {
  if (NMW_LIKELY(canary_intact(user, blk_size(h), h->check))) return;
  nmw_site_t *alloc_site;
  nmw_tag_t tag;
  nmw__slot_info(blk_slot(h), &alloc_site, &tag);
  char detail[160];
  snprintf(detail, sizeof detail, "write past the end of a %llu-byte block (tag '%s'), found at free",
           (unsigned long long)blk_size(h), nmw_core_tag_name(tag));
  nmw__misuse(NMW_MISUSE_OVERRUN, alloc_site, detail);
}

/* Limited tags: the check and the credit happen under one lock, so concurrent
 * allocations cannot together pass the limit. Returns false when refused. */
static bool limit_admits(nmw_tag_t tag, uint64_t growth) {
  nmw_tag_state_t *t = &nmw__tags[tag];
  int64_t bytes, blocks;
  nmw__current(tag, &bytes, &blocks);
  uint64_t limit = atomic_load(&t->limit);
  if (growth == 0 || (bytes >= 0 && (uint64_t)bytes <= limit && growth <= limit - (uint64_t)bytes))
    return true;
  atomic_fetch_add_explicit(&t->limit_denied, 1, memory_order_relaxed);
  return false;
}

/* ---- the cache ----
 * Two sets of classes per thread: plain blocks (bins) and external-tagged ones
 * (ext_bins, whose blocks keep their prefix). A cached block's check word is its
 * DEAD mark with its layout's flags (0 or NMW_EXT_FLAGS). */

static inline nmw_bin_t *bins_of(nmw_shard_t *sh, unsigned layout) {
  return layout ? sh->ext_bins : sh->bins;
}

/* A cached block whose DEAD mark was overwritten (a write after free, or before
 * the next block): the class is dropped (its blocks are left to leak, as their
 * links can no longer be trusted) and the damage reported. */
static NMW_NOINLINE void cache_damaged(nmw_shard_t *sh, nmw_bin_t *bin) {
  NMW_ADD(sh->cache_bytes, -(int64_t)(bin->count * bin->alloc));
  bin->head = NULL;
  bin->count = 0;
  nmw__misuse(NMW_MISUSE_OVERRUN, NULL,
              "the header of a freed block in the thread's cache was overwritten (a write after "
              "free, or past the end of the block before it); the cache class was dropped");
}

/* Unlinks a class's first block when its DEAD mark (with the layout's flags: 0 or
 * NMW_EXT_FLAGS) is intact; NULL for an empty class and for a damaged first block
 * (which cache_pop reports: the fast paths leave it to the slow path's).
 * *link gets the block's link word (its LEAD bit in bit 0). */
NMW_INLINE nmw_hdr_t *bin_take(nmw_shard_t *sh, nmw_bin_t *bin, unsigned layout, uint64_t *link) {
  nmw_hdr_t *h = bin->head;
  if (NMW_UNLIKELY(h == NULL)) return NULL;
  if (NMW_UNLIKELY(h->check != (NMW_DEAD_CHECK((unsigned char *)h + NMW_HDR) ^ layout)))
    return NULL;
  uint64_t l = h->word;
  bin->head = (nmw_hdr_t *)(uintptr_t)(l & ~UINT64_C(1));
  bin->count--;
  NMW_ADD(sh->cache_bytes, -(int64_t)bin->alloc);
  *link = l;
  return h;
}

/* Takes a block of class k and layout from the cache, or NULL (a damaged class is
 * dropped and reported); *lead gets its LEAD bit. */
static inline void *cache_pop(nmw_shard_t *sh, unsigned k, unsigned layout, uint64_t *lead) {
  nmw_bin_t *bin = &bins_of(sh, layout)[k];
  uint64_t link;
  nmw_hdr_t *h = bin_take(sh, bin, layout, &link);
  if (h == NULL) {
    if (bin->head != NULL) cache_damaged(sh, bin);
    return NULL;
  }
  *lead = (link & 1u) << 47;
  return (unsigned char *)h + NMW_HDR;
}

/* Makes room in a cache class for one block: a full class gives half of its
 * blocks back to libc, a full thread cache all of them. */
static NMW_NOINLINE void cache_make_room(nmw_shard_t *sh, nmw_bin_t *bin, unsigned layout) {
  if (NMW_LOAD(sh->cache_bytes) + (int64_t)bin->alloc > NMW_CACHE_THREAD_BYTES) {
    nmw__cache_flush(sh);
    return;
  }
  uint32_t drop = bin->count - NMW_CACHE_CLASS_BLOCKS / 2;
  for (uint32_t i = 0; i < drop; i++) {
    nmw_hdr_t *h = bin->head;
    uint64_t link = h->word;
    bin->head = (nmw_hdr_t *)(uintptr_t)(link & ~UINT64_C(1));
    free(nmw__cached_raw(h, link, layout != 0));
  }
  bin->count -= drop;
  NMW_ADD(sh->cache_bytes, -(int64_t)(drop * bin->alloc));
}

static inline bool cache_thread_full(nmw_shard_t *sh, const nmw_bin_t *bin) {
  return NMW_LOAD(sh->cache_bytes) + (int64_t)bin->alloc > NMW_CACHE_THREAD_BYTES;
}

/* Links a block into a class (check: its DEAD mark; lead_bit: 0 or 1; cached:
 * the thread's cache bytes with it). */
NMW_INLINE void bin_push(nmw_shard_t *sh, nmw_bin_t *bin, nmw_hdr_t *h, uint64_t check,
                         uint64_t lead_bit, int64_t cached) {
  h->check = check;
  h->word = (uint64_t)(uintptr_t)bin->head | lead_bit;
  bin->head = h;
  bin->count++;
  atomic_store_explicit(&sh->cache_bytes, cached, memory_order_relaxed);
}

/* Gives a small block to a cache class without making room (lead: its LEAD bit). */
static inline void cache_push_unbounded(nmw_shard_t *sh, nmw_bin_t *bin, unsigned layout,
                                        nmw_hdr_t *h, void *user, uint64_t lead) {
  bin_push(sh, bin, h, NMW_DEAD_CHECK(user) ^ layout, lead >> 47,
           NMW_LOAD(sh->cache_bytes) + (int64_t)bin->alloc);
}

/* Gives a small block of class k and layout to the cache (lead: its LEAD bit); it
 * keeps its DEAD mark. */
static inline void cache_push(nmw_shard_t *sh, unsigned k, unsigned layout, nmw_hdr_t *h,
                              void *user, uint64_t lead) {
  nmw_bin_t *bin = &bins_of(sh, layout)[k];
  if (NMW_UNLIKELY((bin->count >= NMW_CACHE_CLASS_BLOCKS) | cache_thread_full(sh, bin)))
    cache_make_room(sh, bin, layout);
  cache_push_unbounded(sh, bin, layout, h, user, lead);
}

static inline void *libc_alloc(size_t bytes, bool zero) {
  return zero ? calloc(1, bytes) : malloc(bytes);
}

/* ---- making and releasing blocks ---- */

static inline size_t log2_of(size_t alignment) {
  size_t log2 = 0;
  while (((size_t)1 << log2) < alignment) log2++;
  return log2;
}

/* The alignment of a prefixed block. */
static inline size_t alignment_of(unsigned flags) {
  return (flags & NMW_BLK_ALIGNED) ? (size_t)1 << ((flags >> 8) & 31u) : 16;
}

/* Prefixed blocks take their alignment twice (below a page), so that one that would
 * start on a page can move one alignment further. */
static inline size_t prefixed_extra(size_t a) { return a < 4096 ? a : 0; }

/* Padding (beyond header and canary) of a block with these flags and size. Small
 * blocks moved off a page start hold 16 bytes more, not counted (as libc's
 * rounding is not). */
static inline size_t padding_of(unsigned flags, uint64_t size) {
  if (flags & NMW_BLK_PREFIX) {
    size_t a = alignment_of(flags);
    return 8 + a + prefixed_extra(a);
  }
  return size > NMW_CACHE_MAX_SIZE ? NMW_LARGE_EXTRA : 0;
}

/* A plain block of up to NMW_CACHE_MAX_SIZE bytes, the capacity of its class:
 * from the cache, else from libc (*lead gets its LEAD bit). Not sealed. */
NMW_INLINE void *small_block(nmw_shard_t *sh, size_t size, bool zero, uint64_t *lead) {
  unsigned k = NMW_CLASS_OF(size);
  void *user = cache_pop(sh, k, 0, lead);
  if (user) {
    if (zero) memset(user, 0, size);
    return user;
  }
  *lead = 0;
  for (;;) {
    unsigned char *raw = libc_alloc(NMW_CLASS_ALLOC(k), zero);
    if (!raw) return NULL;
    if (!page_start((uintptr_t)raw + NMW_HDR)) return raw + NMW_HDR;
    /* On a page start: the block moves 16 bytes on, which leaves room for one
     * class less. That fits class 0; others go to the cache one class down, and
     * libc is asked again (it does not hand the same chunk back: we keep it). */
    NMW_ADD(sh->rejects, 1);
    if (k == 0) {
      *lead = NMW_LEAD_BIT;
      return raw + 2 * NMW_HDR;
    }
    nmw_hdr_t *h = (nmw_hdr_t *)(raw + NMW_HDR);
    /* Never give such a chunk back to libc here: libc would hand the same
     * chunk back at once (same size), and a class that keeps growing would
     * loop for good (it did, with the class below full). So it goes to the
     * class below even past that class's bound; only the thread's bound
     * stops it. */
    nmw_bin_t *below = &sh->bins[k - 1];
    if (!cache_thread_full(sh, below)) {
      cache_push_unbounded(sh, below, 0, h, raw + 2 * NMW_HDR, NMW_LEAD_BIT);
      continue;
    }
    /* The thread's cache is full: this chunk goes back to libc, and the block
     * takes 16 bytes more, another libc size that the chunk just freed cannot
     * serve, which fits the block moved 16 bytes on wherever it starts. */
    free(raw);
    raw = libc_alloc(NMW_CLASS_ALLOC(k) + NMW_HDR, zero);
    if (!raw) return NULL;
    if (!page_start((uintptr_t)raw + NMW_HDR)) return raw + NMW_HDR;
    *lead = NMW_LEAD_BIT;
    return raw + 2 * NMW_HDR;
  }
}

/* Allocates the memory of a block of size bytes (size <= NMW_SIZE_MASK) and
 * chooses where it starts: never on a page start unless aligned to a page, so
 * that frees never need to probe the page before (the placement rule). Writes the
 * prefix (offset, owner) of prefixed blocks; the caller writes the header.
 * Returns the block or NULL, *flags its flags, *lead its LEAD bit. */
static void *make_block(nmw_shard_t *sh, size_t size, size_t alignment, bool zero, bool external,
                        nmw_owner_t owner, unsigned *flags, uint64_t *lead) {
  *lead = 0;
  if (alignment > 16 || external) {
    size_t a = alignment > 16 ? alignment : 16;
    unsigned f = NMW_BLK_PREFIX | (external ? NMW_BLK_EXTERNAL : 0) |
                 (alignment > 16 ? NMW_BLK_ALIGNED | (unsigned)(log2_of(a) << 8) : 0);
    if (size > SIZE_MAX - 40 - 2 * (size_t)a) return NULL;
    size_t total = 8 + NMW_HDR + size + NMW_CANARY_SIZE + a + prefixed_extra(a);
    *flags = f;
    if (f == NMW_EXT_FLAGS && size <= NMW_CACHE_MAX_SIZE) {
      /* A small external block: its class's capacity, so that the cache can
       * serve any size of the class with it. */
      unsigned k = NMW_CLASS_OF(size);
      void *user = cache_pop(sh, k, NMW_EXT_FLAGS, lead);
      if (user) {
        *lead = 0;
        set_prefix_owner(user, owner);
        if (zero) memset(user, 0, size);
        return user;
      }
      total = NMW_EXT_CLASS_ALLOC(k);
    }
    unsigned char *raw = libc_alloc(total, zero);
    if (!raw) return NULL;
    uintptr_t u = ((uintptr_t)raw + 8 + NMW_HDR + a - 1) & ~(uintptr_t)(a - 1);
    if (page_start(u) && a < 4096) {
      u += a;
      NMW_ADD(sh->rejects, 1);
    }
    *prefix_of((void *)u) = (uint64_t)(u - (uintptr_t)raw) | (uint64_t)owner << 32;
    return (void *)u;
  }
  *flags = 0;
  if (size <= NMW_CACHE_MAX_SIZE) return small_block(sh, size, zero, lead);
  if (size > SIZE_MAX - NMW_TRACKED_OVERHEAD - NMW_LARGE_EXTRA) return NULL;
  unsigned char *raw = libc_alloc(size + NMW_TRACKED_OVERHEAD + NMW_LARGE_EXTRA, zero);
  if (!raw) return NULL;
  /* The spare 16 bytes go first, where libc's free lists write, so the header
   * (and its DEAD mark) survives a free; unless that puts the block on a page start. */
  if (!page_start((uintptr_t)raw + 2 * NMW_HDR)) {
    *lead = NMW_LEAD_BIT;
    return raw + 2 * NMW_HDR;
  }
  NMW_ADD(sh->rejects, 1);
  return raw + NMW_HDR;
}

/* Makes a block live (the fast paths' and alloc_small's): header, check word (LIVE with the
 * layout's flags), canary and the slot's counters. */
NMW_INLINE void *seal_block(nmw_shard_t *sh, void *user, size_t size, uint64_t lead,
                            uint32_t slot, unsigned layout) {
  nmw_hdr_t *h = hdr(user);
  h->word = (uint64_t)size | lead | (uint64_t)slot << 48;
  uint64_t check = NMW_LIVE_CHECK(user) ^ layout;
  h->check = check;
  write_canary(user, size, check);
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(c->allocs, 1);
  NMW_ADD(c->bytes_in, (int64_t)size);
  return user;
}

/* A plain block of up to NMW_CACHE_MAX_SIZE bytes for a valid tag and slot,
 * sealed and credited: the general allocation's common case and the fast path's
 * cache miss. Both reach it by a tail call, so every block of a call site comes
 * from libc through the same frames (Valgrind keeps one loss record per site). */
static NMW_NOINLINE void *alloc_small(size_t size, nmw_tag_t tag, uint32_t slot, bool zero,
                                      nmw_shard_t *sh) {
  uint64_t lead;
  void *user = small_block(sh, size, zero, &lead);
  if (NMW_UNLIKELY(user == NULL)) {
    errno = ENOMEM;
    return NULL;
  }
  seal_block(sh, user, size, lead, slot, 0);
  /* nmw__pend for a growth of a tag without limit, external bytes or strict
   * peaks: a sync when a room runs out or was set before the tag's gate moved. */
  uint64_t gate = atomic_load_explicit(&nmw__tags[tag].gate, memory_order_relaxed);
  bool due = nmw__pend_grow(sh, tag, (int64_t)size, 1);
  if (NMW_UNLIKELY(due || (gate & ~NMW_GATE_SLOW_MASK) != sh->tags[tag].gate)) nmw__sync(sh, tag);
  return user;
}

/* Where the allocation of a block starts. */
static inline void *raw_of(const void *user, unsigned flags) {
  if (flags & NMW_BLK_PREFIX) return (unsigned char *)user - (uint32_t)*prefix_of(user);
  return (unsigned char *)user - NMW_HDR - ((hdr(user)->word & NMW_LEAD_BIT) ? NMW_HDR : 0);
}

/* Marks a block dead and gives its memory to the cache or to libc (its counters
 * have been credited by the caller). */
static void release_block(nmw_shard_t *sh, void *user, uint64_t size, unsigned flags) {
  nmw_hdr_t *h = hdr(user);
  size_t pad = padding_of(flags, size);
  if (pad) NMW_ADD(sh->padding_bytes, -(int64_t)pad);
  unsigned layout = NMW_BLK_LAYOUT(flags);
  if ((layout == 0 || layout == NMW_EXT_FLAGS) && size <= NMW_CACHE_MAX_SIZE) {
    cache_push(sh, NMW_CLASS_OF(size), layout, h, user, layout ? 0 : h->word & NMW_LEAD_BIT);
    return;
  }
  void *raw = raw_of(user, flags);
  h->check = NMW_DEAD_CHECK(user) ^ flags;
  free(raw);
}

static inline nmw_owner_t resolve_owner(nmw_owner_t hint) {
  nmw_owner_t owner = hint == OWNER_OF_THREAD ? nmw__tls_owner : hint;
  return nmw__owner_live(owner) ? owner : 0;
}

/* The general allocation: any alignment (16 or more), any tag, zeroed or not. */
static NMW_NOINLINE void *alloc_block(size_t alignment, size_t size, bool zero, nmw_tag_t tag,
                                      nmw_site_t *site, nmw_owner_t owner_hint) {
  nmw_shard_t *sh = nmw__shard();
  tag = checked_tag(tag, site);
  if (NMW_UNLIKELY(size > NMW_SIZE_MASK)) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned tag_flags = atomic_load_explicit(&nmw__tags[tag].flags, memory_order_relaxed);
  bool limited = tag_flags & NMW_TAGF_LIMITED, external = tag_flags & NMW_TAG_EXTERNAL;
  if (NMW_LIKELY(!(tag_flags & (NMW_TAGF_LIMITED | NMW_TAG_EXTERNAL | NMW_TAG_STRICT_PEAKS))) &&
      alignment <= 16 && size <= NMW_CACHE_MAX_SIZE)
    return alloc_small(size, tag, nmw__slot_for(site, tag), zero, sh);
  if (NMW_UNLIKELY(limited)) {
    uv_mutex_lock(&nmw__g.limit_lock);
    if (!limit_admits(tag, size)) {
      uv_mutex_unlock(&nmw__g.limit_lock);
      errno = ENOMEM;
      return NULL;
    }
  }
  uint32_t slot = nmw__slot_for(site, tag); /* after the limit: a refused call makes no row */
  nmw_owner_t owner = external ? resolve_owner(owner_hint) : 0;
  unsigned flags;
  uint64_t lead;
  void *user = make_block(sh, size, alignment, zero, external, owner, &flags, &lead);
  if (NMW_LIKELY(user != NULL)) {
    if (tag_flags & NMW_TAG_STRICT_PEAKS) flags |= NMW_BLK_STRICT;
    nmw_hdr_t *h = hdr(user);
    h->word = (uint64_t)size | lead | (uint64_t)slot << 48;
    uint64_t check = NMW_LIVE_CHECK(user) ^ flags;
    h->check = check;
    write_canary(user, size, check);
    size_t pad = padding_of(flags, size);
    if (pad) NMW_ADD(sh->padding_bytes, (int64_t)pad);
    nmw__credit_alloc(sh, slot, tag, size);
  } else {
    errno = ENOMEM;
  }
  if (NMW_UNLIKELY(limited)) uv_mutex_unlock(&nmw__g.limit_lock);
  /* After the limit lock: crediting may report to V8 at once, which can run a GC
   * and finalizers that allocate again. */
  if (user && external) nmw__ext_add(sh, owner, NMW_TAGF_EXT_INDEX(tag_flags), (int64_t)size);
  return user;
}

/* A fold found due by the fast path, made after the block is complete. */
static NMW_NOINLINE void *fold_after_alloc(nmw_shard_t *sh, nmw_tag_t tag, void *user) {
  nmw__sync(sh, tag);
  return user;
}

static nmw_owner_t owner_of(const void *env) {
  return env ? nmw_core_owner_of_env(env) : OWNER_OF_THREAD;
}

static void *calloc_block(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site,
                          nmw_owner_t owner) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_block(16, count * size, true, tag, site, owner);
}

static char *strdup_block(const char *s, nmw_tag_t tag, nmw_site_t *site, nmw_owner_t owner) {
  if (s == NULL) {
    errno = EINVAL;
    return NULL;
  }
  size_t n = strlen(s) + 1;
  char *copy = alloc_block(16, n, false, tag, site, owner);
  if (copy) memcpy(copy, s, n);
  return copy;
}

static void *aligned_block(size_t alignment, size_t size, nmw_tag_t tag, nmw_site_t *site,
                           nmw_owner_t owner) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > NMW_ALIGN_MAX) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_block(alignment < 16 ? 16 : alignment, size, false, tag, site, owner);
}

/* The shard's page of an owner that is live (or 0), or NULL (a torn-down owner,
 * or a page not made yet: the slow paths deal with both). */
static inline nmw_ext_ctr_t *ext_page_of(nmw_shard_t *sh, nmw_owner_t owner) {
  if (owner != 0 && NMW_UNLIKELY(!nmw__owner_live(owner))) return NULL;
  return atomic_load_explicit(&sh->ext_pages[NMW_OWNER_INDEX(owner)], memory_order_relaxed);
}

/* The rare end of an external fast path: a sync due (EXT_DUE), a wake due
 * (EXT_WAKE), a block to zero (EXT_ZERO, an allocation's: before the wake, which
 * may report to V8 at once). At most six arguments, so that the fast paths call
 * it as a tail call. */
enum { EXT_DUE = 1, EXT_WAKE = 2, EXT_ZERO = 4 };
static void ext_finish(nmw_shard_t *sh, nmw_tag_t tag, nmw_ext_ctr_t *page, nmw_owner_t owner,
                       unsigned due) {
  if (due & EXT_DUE) nmw__sync(sh, tag);
  if (due & EXT_WAKE) nmw__ext_wake(page, owner);
}

static NMW_NOINLINE void *ext_alloc_finish(nmw_shard_t *sh, nmw_tag_t tag, nmw_ext_ctr_t *page,
                                           nmw_owner_t owner, unsigned due, void *user) {
  if (due & EXT_ZERO) memset(user, 0, hdr(user)->word & NMW_SIZE_MASK);
  ext_finish(sh, tag, page, owner, due);
  return user;
}

/* slot_zero: the slot, with NMW_EXT_ZERO_BIT for a calloc; gate: the tag's gate
 * as the fast path read it. */
#define NMW_EXT_ZERO_BIT (UINT32_C(1) << 31)
static void *malloc_ext_fast(size_t size, nmw_tag_t tag, nmw_site_t *site, uint32_t slot_zero,
                             const void *env, uint64_t gate);

/* The general allocation for the owner of env (NULL: the thread's): out of line,
 * so that the fast paths reach it as a tail call, with no lookup of their own. */
static NMW_NOINLINE void *alloc_block_for(size_t size, bool zero, nmw_tag_t tag, nmw_site_t *site,
                                          const void *env) {
  return alloc_block(16, size, zero, tag, site, owner_of(env));
}


/* The fast path: a cached block for a plain tag at a known site (or none); an
 * external tag (and nothing else rare) takes the external twin. Every way out of
 * it is a tail call, so it needs no callee-saved register. env: the owner of
 * external bytes (NULL: the thread's). */
NMW_INLINE void *malloc_fast(size_t size, nmw_tag_t tag, nmw_site_t *site, bool zero,
                             const void *env) {
  nmw_shard_t *sh = nmw__tls_shard;
  uint32_t slot;
  if (site) {
    uint64_t cached = __atomic_load_n(&site->impl, __ATOMIC_ACQUIRE);
    if (NMW_UNLIKELY((cached >> 32) != (uint64_t)tag + 1)) goto slow;
    slot = (uint32_t)cached;
  } else {
    if (NMW_UNLIKELY(tag >= atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire)))
      goto slow;
    slot = tag;
  }
  if (NMW_UNLIKELY(sh == NULL)) goto slow;
  if (NMW_UNLIKELY(size > NMW_CACHE_MAX_SIZE)) goto slow;
  /* The gate: the tag has no limit, is not external nor strict, and the shard's
   * room was set since its last peak reset (else the slow path sets it). */
  uint64_t gate = atomic_load_explicit(&nmw__tags[tag].gate, memory_order_relaxed);
  if (NMW_UNLIKELY(gate != sh->tags[tag].gate))
    return malloc_ext_fast(size, tag, site, slot | (zero ? NMW_EXT_ZERO_BIT : 0), env, gate);
  uint64_t link;
  nmw_hdr_t *h = bin_take(sh, &sh->bins[NMW_CLASS_OF(size)], 0, &link);
  /* A miss (or a damaged class, which the miss path's cache_pop reports). */
  if (NMW_UNLIKELY(h == NULL)) return alloc_small(size, tag, slot, zero, sh);
  void *user = (unsigned char *)h + NMW_HDR;
  if (zero) memset(user, 0, size);
  seal_block(sh, user, size, (link & 1u) << 47, slot, 0);
  if (NMW_UNLIKELY(nmw__pend_grow(sh, tag, (int64_t)size, 1))) return fold_after_alloc(sh, tag, user);
  return user;
slow:
  return alloc_block(16, size, zero, tag, site, owner_of(env));
}

/* Where the fast path's gate did not match: an external tag (and nothing else
 * rare) whose room is valid takes a cached external block of the class, for an
 * owner that is live (or 0) and known without a lookup (the thread's, or the env
 * this thread last looked up); the rest the general path. Out of the fast path,
 * which so needs no callee-saved register; every way out of it is a tail call. */
static NMW_NOINLINE void *malloc_ext_fast(size_t size, nmw_tag_t tag, nmw_site_t *site,
                                          uint32_t slot_zero, const void *env, uint64_t gate) {
  nmw_shard_t *sh = nmw__tls_shard;
  bool zero = slot_zero & NMW_EXT_ZERO_BIT;
  uint32_t slot = slot_zero & ~NMW_EXT_ZERO_BIT;
  if (gate != (sh->tags[tag].gate | NMW_GATE_SLOW_EXTERNAL)) goto slow;
  nmw_owner_t owner = nmw__tls_owner;
  if (env != NULL) {
    if (NMW_UNLIKELY(nmw__env_cache.env != env)) goto slow;
    owner = nmw__env_cache.owner;
  }
  nmw_ext_ctr_t *page = ext_page_of(sh, owner);
  if (NMW_UNLIKELY(page == NULL)) goto slow;
  uint64_t link;
  nmw_hdr_t *h = bin_take(sh, &sh->ext_bins[NMW_CLASS_OF(size)], NMW_EXT_FLAGS, &link);
  if (NMW_UNLIKELY(h == NULL)) goto slow;
  void *user = seal_block(sh, (unsigned char *)h + NMW_HDR, size, 0, slot, NMW_EXT_FLAGS);
  set_prefix_owner(user, owner);
  NMW_ADD(sh->padding_bytes, (int64_t)padding_of(NMW_EXT_FLAGS, size));
  unsigned due = zero ? EXT_ZERO : 0;
  if (nmw__pend_grow(sh, tag, (int64_t)size, 1)) due |= EXT_DUE;
  unsigned flags = atomic_load_explicit(&nmw__tags[tag].flags, memory_order_relaxed);
  if (nmw__ext_page_add(page, owner, NMW_TAGF_EXT_INDEX(flags), (int64_t)size)) due |= EXT_WAKE;
  if (NMW_UNLIKELY(due)) return ext_alloc_finish(sh, tag, page, owner, due, user);
  return user;
slow:
  return alloc_block_for(size, zero, tag, site, env);
}

void *nmw_core_malloc(size_t size, nmw_tag_t tag, nmw_site_t *site) {
  return malloc_fast(size, tag, site, false, NULL);
}

/* calloc's leaf fast path is malloc's, plus the zeroing (a cached block is not). */
void *nmw_core_calloc(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  size_t bytes;
  if (NMW_UNLIKELY(__builtin_mul_overflow(count, size, &bytes)))
    return calloc_block(count, size, tag, site, OWNER_OF_THREAD);
  return malloc_fast(bytes, tag, site, true, NULL);
}

char *nmw_core_strdup(const char *s, nmw_tag_t tag, nmw_site_t *site) {
  if (NMW_UNLIKELY(s == NULL)) return strdup_block(s, tag, site, OWNER_OF_THREAD);
  size_t n = strlen(s) + 1;
  char *copy = malloc_fast(n, tag, site, false, NULL);
  if (copy) memcpy(copy, s, n);
  return copy;
}

void *nmw_core_aligned_alloc(size_t alignment, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  return aligned_block(alignment, size, tag, site, OWNER_OF_THREAD);
}

void *nmw_core_malloc_env(size_t size, nmw_tag_t tag, const void *env, nmw_site_t *site) {
  return malloc_fast(size, tag, site, false, env);
}

void *nmw_core_calloc_env(size_t count, size_t size, nmw_tag_t tag, const void *env,
                          nmw_site_t *site) {
  return calloc_block(count, size, tag, site, owner_of(env));
}

char *nmw_core_strdup_env(const char *s, nmw_tag_t tag, const void *env, nmw_site_t *site) {
  return strdup_block(s, tag, site, owner_of(env));
}

void *nmw_core_aligned_alloc_env(size_t alignment, size_t size, nmw_tag_t tag, const void *env,
                                 nmw_site_t *site) {
  return aligned_block(alignment, size, tag, site, owner_of(env));
}

/* The general free: every kind of block and pointer. */
static NMW_NOINLINE void free_slow(void *ptr, nmw_tag_t tag, nmw_site_t *site) {
  if (ptr == NULL) return;
  unsigned flags = 0;
  block_state_t state = classify(ptr, &flags);
  if (NMW_UNLIKELY(state != BLOCK_LIVE)) {
    if (state == BLOCK_PLAIN) {
      nmw__plain_free(ptr); /* made by the fallback before tracking was on */
      return;
    }
    refuse_bad_pointer(state, "free", ptr, site);
    return;
  }
  nmw_hdr_t *h = hdr(ptr);
  nmw_tag_t btag = blk_tag(h);
  uint64_t size = blk_size(h);
  if (tag != NMW_ANY_TAG && tag != btag) report_tag_mismatch(btag, tag, "free", site);
  check_canary(h, ptr);
  nmw_shard_t *sh = nmw__shard();
  nmw__credit_free(sh, blk_slot(h), btag, size);
  if (flags & NMW_BLK_EXTERNAL)
    nmw__ext_credit(sh, (nmw_owner_t)(*prefix_of(ptr) >> 32),
                    NMW_TAGF_EXT_INDEX(atomic_load(&nmw__tags[btag].flags)), -(int64_t)size);
  release_block(sh, ptr, size, flags);
}

/* The end of a fast free whose class is full or whose rooms need a sync. */
static NMW_NOINLINE void free_finish(nmw_shard_t *sh, nmw_hdr_t *h, void *ptr, uint64_t word,
                                     nmw_tag_t btag, bool due) {
  uint64_t size = word & NMW_SIZE_MASK;
  cache_push(sh, NMW_CLASS_OF(size), 0, h, ptr, word & NMW_LEAD_BIT);
  if (due) nmw__sync(sh, btag);
}

/* Reads the check word before a pointer that may be foreign or misaligned. */
#if defined(__GNUC__) || defined(__clang__)
typedef uint64_t __attribute__((aligned(1), may_alias)) nmw_u64_unaligned_t;
static inline NMW__NO_ASAN uint64_t read_check(uintptr_t p) {
  NMW__LAUNDER(p);
  return *(const nmw_u64_unaligned_t *)(p - 8);
}
#else
static inline uint64_t read_check(uintptr_t p) {
  uint64_t v;
  memcpy(&v, (const void *)(p - 8), sizeof v);
  return v;
}
#endif

/* The fast frees' and realloc's look at a block whose check word matched: one of
 * up to 1 KiB, of the tag the call named (or NMW_ANY_TAG), its canary intact.
 * *word gets its header's word, *btag its tag. */
NMW_INLINE bool small_block_ok(const void *ptr, nmw_tag_t tag, uint64_t check, uint64_t *word,
                               nmw_tag_t *btag) {
  uint64_t w = hdr(ptr)->word, size = w & NMW_SIZE_MASK;
  nmw_tag_t bt = nmw__slot_tag[w >> 48];
  *word = w;
  *btag = bt;
  if (NMW_UNLIKELY(tag != bt) && NMW_UNLIKELY(tag != NMW_ANY_TAG)) return false;
  if (NMW_UNLIKELY(size > NMW_CACHE_MAX_SIZE)) return false;
  return NMW_LIKELY(canary_intact(ptr, size, check));
}

/* The end of an external fast free whose class is full, or with a sync or a wake
 * due (its counters are credited). */
static NMW_NOINLINE void free_ext_finish(nmw_shard_t *sh, void *ptr, nmw_tag_t btag,
                                         nmw_ext_ctr_t *page, unsigned due) {
  nmw_hdr_t *h = hdr(ptr);
  nmw_owner_t owner = (nmw_owner_t)(*prefix_of(ptr) >> 32);
  cache_push(sh, NMW_CLASS_OF(h->word & NMW_SIZE_MASK), NMW_EXT_FLAGS, h, ptr, 0);
  ext_finish(sh, btag, page, owner, due);
}

/* Where the fast free's check word did not read LIVE: a live small external block
 * (check, the word read before it, reads NMW_EXT_FLAGS), its canary intact, the tag right, its
 * owner live (or 0), is freed here; the rest by the general free. A leaf: the
 * rare ends are tail calls. */
static NMW_NOINLINE void free_ext_fast(void *ptr, nmw_tag_t tag, nmw_site_t *site,
                                       uint64_t check) {
  nmw_shard_t *sh = nmw__tls_shard;
  nmw_hdr_t *h = hdr(ptr);
  uint64_t word;
  nmw_tag_t btag;
  if (check != (NMW_LIVE_CHECK(ptr) ^ NMW_EXT_FLAGS)) goto slow;
  if (!small_block_ok(ptr, tag, check, &word, &btag)) goto slow;
  uint64_t size = word & NMW_SIZE_MASK;
  uint32_t slot = (uint32_t)(word >> 48);
  nmw_owner_t owner = (nmw_owner_t)(*prefix_of(ptr) >> 32);
  nmw_ext_ctr_t *page = ext_page_of(sh, owner);
  if (NMW_UNLIKELY(page == NULL)) goto slow;
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(c->frees, 1);
  NMW_ADD(c->bytes_out, (int64_t)size);
  NMW_ADD(sh->padding_bytes, -(int64_t)padding_of(NMW_EXT_FLAGS, size));
  unsigned due = nmw__pend_fall(sh, btag, (int64_t)size, 1) ? EXT_DUE : 0;
  unsigned flags = atomic_load_explicit(&nmw__tags[btag].flags, memory_order_relaxed);
  if (nmw__ext_page_add(page, owner, NMW_TAGF_EXT_INDEX(flags), -(int64_t)size)) due |= EXT_WAKE;
  nmw_bin_t *bin = &sh->ext_bins[NMW_CLASS_OF(size)];
  int64_t cached = NMW_LOAD(sh->cache_bytes) + bin->alloc;
  bool full = (bin->count >= NMW_CACHE_CLASS_BLOCKS) | (cached > NMW_CACHE_THREAD_BYTES);
  if (NMW_UNLIKELY(full | due)) return free_ext_finish(sh, ptr, btag, page, due);
  bin_push(sh, bin, h, NMW_DEAD_CHECK(ptr) ^ NMW_EXT_FLAGS, 0, cached);
  return;
slow:
  free_slow(ptr, tag, site);
}

/* The fast path: a live block without flags, its canary intact, the tag right.
 * Every way out of it is a tail call, so it needs no callee-saved register. A
 * misaligned pointer cannot match its check word (the magic is tied to the
 * address), so only the page rule is tested before the read. */
void nmw_core_free(void *ptr, nmw_tag_t tag, nmw_site_t *site) {
  uintptr_t p = (uintptr_t)ptr;
  nmw_shard_t *sh = nmw__tls_shard;
  if (NMW_UNLIKELY(p < 4096 + 32)) goto slow;
  if (NMW_UNLIKELY((p & 4095u) < NMW_HDR)) goto slow;
  if (NMW_UNLIKELY(sh == NULL)) goto slow;
  uint64_t check = read_check(p);
  if (NMW_UNLIKELY(check != NMW_LIVE_CHECK(p))) return free_ext_fast(ptr, tag, site, check);
  nmw_hdr_t *h = hdr(ptr);
  uint64_t word;
  nmw_tag_t btag;
  if (!small_block_ok(ptr, tag, check, &word, &btag)) goto slow;
  uint64_t size = word & NMW_SIZE_MASK;
  uint32_t slot = (uint32_t)(word >> 48);
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(c->frees, 1);
  NMW_ADD(c->bytes_out, (int64_t)size);
  bool due = nmw__pend_fall(sh, btag, (int64_t)size, 1);
  nmw_bin_t *bin = &sh->bins[NMW_CLASS_OF(size)];
  int64_t cached = NMW_LOAD(sh->cache_bytes) + bin->alloc;
  if (NMW_UNLIKELY(due) || NMW_UNLIKELY(bin->count >= NMW_CACHE_CLASS_BLOCKS) ||
      NMW_UNLIKELY(cached > NMW_CACHE_THREAD_BYTES))
    return free_finish(sh, h, ptr, word, btag, due);
  bin_push(sh, bin, h, NMW_DEAD_CHECK(ptr), word >> 47 & 1u, cached);
  return;
slow:
  free_slow(ptr, tag, site);
}

static NMW_NOINLINE void *realloc_slow(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site);

/* realloc's leaf fast path: a plain live block resized within its 16-byte class
 * (the block already has the room): header, canary and counters, no copy. */
void *nmw_core_realloc(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  uintptr_t p = (uintptr_t)ptr;
  nmw_shard_t *sh = nmw__tls_shard;
  if (NMW_UNLIKELY(p < 4096 + 32)) goto slow;
  if (NMW_UNLIKELY((p & 4095u) < NMW_HDR)) goto slow;
  if (NMW_UNLIKELY(sh == NULL)) goto slow;
  uint64_t check = read_check(p);
  if (NMW_UNLIKELY(check != NMW_LIVE_CHECK(p))) goto slow;
  nmw_hdr_t *h = hdr(ptr);
  uint64_t word;
  nmw_tag_t btag;
  if (NMW_UNLIKELY(size == 0 || size > NMW_CACHE_MAX_SIZE)) goto slow;
  if (!small_block_ok(ptr, tag, check, &word, &btag)) goto slow;
  uint64_t old_size = word & NMW_SIZE_MASK;
  uint32_t slot = (uint32_t)(word >> 48);
  if (NMW_UNLIKELY(NMW_CLASS_OF(size) != NMW_CLASS_OF(old_size))) goto slow;
  /* A growth checks the gate as an allocation does (limits, rooms' validity). */
  if (NMW_UNLIKELY(atomic_load_explicit(&nmw__tags[btag].gate, memory_order_relaxed) !=
                   sh->tags[btag].gate))
    goto slow;
  h->word = (word & ~NMW_SIZE_MASK) | (uint64_t)size;
  write_canary(ptr, size, check);
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(sh->reallocs[slot], 1);
  int64_t delta = (int64_t)size - (int64_t)old_size;
  bool due;
  if (delta >= 0) {
    NMW_ADD(c->bytes_in, delta);
    due = nmw__pend_grow(sh, btag, delta, 0);
  } else {
    NMW_ADD(c->bytes_out, -delta);
    due = nmw__pend_fall(sh, btag, -delta, 0);
  }
  if (NMW_UNLIKELY(due)) return fold_after_alloc(sh, btag, ptr);
  return ptr;
slow:
  return realloc_slow(ptr, size, tag, site);
}

static NMW_NOINLINE void *realloc_slow(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  /* NMW_ANY_TAG skips the tag check on an existing block; a new one is untagged. */
  if (ptr == NULL) return nmw_core_malloc(size, tag == NMW_ANY_TAG ? NMW_UNTAGGED : tag, site);
  unsigned flags = 0;
  block_state_t state = classify(ptr, &flags);
  if (state == BLOCK_PLAIN && size == 0) {
    nmw__plain_free(ptr);
    return NULL;
  }
  if (state == BLOCK_PLAIN) {
    /* A fallback block becomes a tracked one. */
    const nmw_block_header_t *plain = nmw__header_of(ptr);
    size_t old = plain->size, alignment = nmw__plain_alignment(plain);
    nmw_tag_t new_tag = tag == NMW_ANY_TAG ? NMW_UNTAGGED : tag;
    void *fresh = alignment ? aligned_block(alignment, size, new_tag, site, OWNER_OF_THREAD)
                            : nmw_core_malloc(size, new_tag, site);
    if (!fresh) return NULL;
    memcpy(fresh, ptr, old < size ? old : size);
    nmw__plain_free(ptr);
    return fresh;
  }
  if (refuse_bad_pointer(state, "realloc", ptr, site)) return NULL;
  nmw_hdr_t *h = hdr(ptr);
  nmw_tag_t btag = blk_tag(h);
  if (tag != NMW_ANY_TAG && tag != btag) report_tag_mismatch(btag, tag, "realloc", site);
  if (size == 0) {
    nmw_core_free(ptr, NMW_ANY_TAG, site);
    return NULL;
  }
  check_canary(h, ptr);
  uint32_t slot = blk_slot(h);
  uint64_t old_size = blk_size(h);
  if (size > NMW_SIZE_MASK) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned tag_flags = atomic_load(&nmw__tags[btag].flags);
  bool limited = tag_flags & NMW_TAGF_LIMITED;
  if (limited) {
    uv_mutex_lock(&nmw__g.limit_lock);
    if (!limit_admits(btag, size > old_size ? size - old_size : 0)) {
      uv_mutex_unlock(&nmw__g.limit_lock);
      errno = ENOMEM;
      return NULL;
    }
  }
  nmw_shard_t *sh = nmw__shard();
  nmw_owner_t owner = (flags & NMW_BLK_PREFIX) ? (nmw_owner_t)(*prefix_of(ptr) >> 32) : 0;
  size_t keep = old_size < size ? old_size : size;
  uint64_t old_lead = h->word & NMW_LEAD_BIT, lead = old_lead;
  void *user = NULL;
  unsigned new_flags = flags;
  bool repadded = false; /* padding already moved from the old block to the new */
  bool old_small = old_size <= NMW_CACHE_MAX_SIZE, new_small = size <= NMW_CACHE_MAX_SIZE;
  /* The usual layout of an unprefixed block: small ones start their allocation,
   * larger ones are 16 bytes in. */
  unsigned layout = NMW_BLK_LAYOUT(flags), strict = flags & NMW_BLK_STRICT;
  bool usual = layout == 0 && (old_small ? old_lead == 0 : old_lead != 0);
  if (layout == 0 && old_small && new_small && NMW_CLASS_OF(size) == NMW_CLASS_OF(old_size)) {
    user = ptr; /* the same class: the block already has the room */
  } else if (usual && old_small == new_small) {
    /* libc realloc, same layout: the header stays where it is in the allocation.
     * The old header is marked dead first (if libc moves the block the old address
     * must read as freed) and restored if libc fails. */
    size_t at = new_small ? 0 : NMW_HDR;
    unsigned char *raw = (unsigned char *)ptr - NMW_HDR - at;
    size_t bytes = new_small ? NMW_CLASS_ALLOC(NMW_CLASS_OF(size))
                             : size + NMW_TRACKED_OVERHEAD + NMW_LARGE_EXTRA;
    h->check = NMW_DEAD_CHECK(ptr);
    unsigned char *moved = realloc(raw, bytes);
    if (!moved) {
      h->check = NMW_LIVE_CHECK(ptr) ^ flags;
    } else if (!page_start((uintptr_t)moved + at + NMW_HDR)) {
      user = moved + at + NMW_HDR;
    } else if (!new_small) {
      /* Would start a page: the header moves to the allocation's start. */
      memmove(moved, moved + NMW_HDR, NMW_HDR + keep);
      user = moved + NMW_HDR;
      lead = 0;
      NMW_ADD(sh->rejects, 1);
    } else {
      unsigned f;
      void *fresh = make_block(sh, size, 16, false, false, 0, &f, &lead);
      if (fresh) {
        memcpy(fresh, moved + NMW_HDR, keep);
        free(moved);
        user = fresh;
        new_flags = f | strict;
      } else {
        user = moved + NMW_HDR; /* page aligned: probed at free */
      }
    }
  } else {
    /* Another layout (aligned, external, moved, or across the cache's sizes): a
     * new block. */
    unsigned f;
    void *fresh = make_block(sh, size, (flags & NMW_BLK_PREFIX) ? alignment_of(flags) : 16, false,
                             flags & NMW_BLK_EXTERNAL, owner, &f, &lead);
    if (fresh) {
      memcpy(fresh, ptr, keep);
      release_block(sh, ptr, old_size, flags);
      size_t pad = padding_of(f, size);
      if (pad) NMW_ADD(sh->padding_bytes, (int64_t)pad);
      user = fresh;
      new_flags = f | strict;
      repadded = true;
    }
  }
  if (user) {
    if (!repadded) {
      /* Unprefixed blocks: their padding follows their size. */
      int64_t delta = (int64_t)padding_of(new_flags, size) - (int64_t)padding_of(flags, old_size);
      if (delta) NMW_ADD(sh->padding_bytes, delta);
    }
    h = hdr(user);
    h->word = (uint64_t)size | lead | (uint64_t)slot << 48;
    uint64_t check = NMW_LIVE_CHECK(user) ^ new_flags;
    h->check = check;
    write_canary(user, size, check);
    nmw__credit_realloc(sh, slot, btag, old_size, size);
  } else {
    errno = ENOMEM;
  }
  if (limited) uv_mutex_unlock(&nmw__g.limit_lock);
  if (user && (new_flags & NMW_BLK_EXTERNAL)) {
    /* After the limit lock, as in alloc_block: this may report to V8 at once. */
    unsigned ei = NMW_TAGF_EXT_INDEX(atomic_load(&nmw__tags[btag].flags));
    if (owner != 0 && !nmw__owner_live(owner)) {
      /* Its environment is gone: the old bytes die with it, the block is re-homed. */
      nmw__ext_credit(sh, owner, ei, -(int64_t)old_size);
      nmw_owner_t fresh_owner = resolve_owner(OWNER_OF_THREAD);
      set_prefix_owner(user, fresh_owner);
      nmw__ext_credit(sh, fresh_owner, ei, (int64_t)size);
    } else {
      nmw__ext_credit(sh, owner, ei, (int64_t)size - (int64_t)old_size);
    }
  }
  return user;
}

size_t nmw_core_block_size(const void *ptr) {
  if (ptr == NULL) return 0;
  unsigned flags;
  block_state_t state = classify(ptr, &flags);
  if (state == BLOCK_LIVE) return (size_t)blk_size(hdr(ptr));
  if (state == BLOCK_PLAIN) return (size_t)nmw__header_of(ptr)->size;
  return 0;
}

nmw_tag_t nmw_core_block_tag(const void *ptr) {
  unsigned flags;
  if (ptr == NULL || classify(ptr, &flags) != BLOCK_LIVE) return NMW_ANY_TAG;
  return blk_tag(hdr(ptr));
}

bool nmw__block_external(const void *ptr, nmw_tag_t *tag) {
  unsigned flags;
  if (ptr == NULL || classify(ptr, &flags) != BLOCK_LIVE || !(flags & NMW_BLK_EXTERNAL)) return false;
  *tag = blk_tag(hdr(ptr));
  return true;
}

uint64_t nmw_core_cache_rejects(void) {
  uint64_t n = 0;
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all)
    n += NMW_LOAD(sh->rejects);
  return n;
}
