/*
 * internal.h: state shared by the core's files. Nothing here is API.
 *
 * How a byte is counted: every thread owns a shard; a shard holds, per (site, tag)
 * slot, monotonic counters (allocs, frees, reallocs, bytes in, bytes out) that only
 * its thread writes, with relaxed atomic loads and stores (no lock, no RMW, no
 * shared cache line). Readers sum all shards. Peaks need a view of the current
 * total, so each shard also keeps, per tag and for the total, a *room*: how much
 * it may still grow before it must look at the others (docs/architecture.md#peaks).
 */
#ifndef NMW_INTERNAL_H
#define NMW_INTERNAL_H

#include "core.h"

#include <stdatomic.h>
#include <uv.h>

#if defined(__GNUC__) || defined(__clang__)
#define NMW_LIKELY(x) __builtin_expect(!!(x), 1)
#define NMW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NMW_HIDDEN __attribute__((visibility("hidden")))
#define NMW_ALIGNED(n) __attribute__((aligned(n)))
#define NMW_INLINE static inline __attribute__((always_inline))
#define NMW_NOINLINE __attribute__((noinline))
#else
#define NMW_NOINLINE
#define NMW_INLINE static inline
#define NMW_LIKELY(x) (x)
#define NMW_UNLIKELY(x) (x)
#define NMW_HIDDEN
#define NMW_ALIGNED(n)
#endif

#define NMW_CACHE_LINE 64

/* Slot ids: 0 .. NMW_TAG_MAX-1 are "no site" slots, one per tag (slot == tag);
 * site slots follow. Slot ids fit the 16 bits a block header keeps for them. */
#if NMW_SLOT_MAX > 65536
#error "slot ids must fit 16 bits"
#endif

/* Peaks (docs/architecture.md#peaks). A shard keeps, per tag and for the total, a
 * room: what it may still grow without a look at the others. An allocation takes
 * its size from the room, a free gives it back; a room below zero, or above
 * NMW_ROOM_FALL (frees piling up on one thread), sends the shard to its sync: its
 * unfolded change (base - room) is folded into the global counter, the exact
 * current value is summed over every shard, the peak raised to it, and the room
 * set again: min(peak - exact, NMW_ROOM_GROW). So a shard's unfolded change stays
 * within [-NMW_ROOM_FALL, NMW_ROOM_GROW], and while the others stand still the
 * room is exact: a peak is missed only by growth of other shards that is not
 * folded yet, at most NMW_ROOM_GROW + NMW_ROOM_FALL per other shard that used
 * the tag (the reported peakErrorBound). */
#define NMW_ROOM_GROW_BYTES (64 * 1024)
#define NMW_ROOM_GROW_BLOCKS 64
#define NMW_ROOM_FALL_BYTES (2 * NMW_ROOM_GROW_BYTES)
#define NMW_ROOM_FALL_BLOCKS (2 * NMW_ROOM_GROW_BLOCKS)
/* The error a peak may have per other shard that used the tag. */
#define NMW_PEAK_ERROR_BYTES (NMW_ROOM_GROW_BYTES + NMW_ROOM_FALL_BYTES)
#define NMW_PEAK_ERROR_BLOCKS (NMW_ROOM_GROW_BLOCKS + NMW_ROOM_FALL_BLOCKS)

/* Check words and the canary. */
#define NMW_MAGIC_LIVE UINT64_C(0x6e6d772d6c697665) /* "nmw-live" */
#define NMW_MAGIC_DEAD UINT64_C(0x6e6d772d64656164) /* "nmw-dead" */
#define NMW_CANARY_XOR UINT64_C(0xa5c3e1f00f1e3c5a)

/* ---- the tracked block ----
 * [prefix 8 B, only with NMW_BLK_PREFIX][word 8 B][check 8 B][user bytes][canary 8 B]
 *
 * word:   size asked for (bits 0..46) | LEAD (bit 47: the allocation starts 16
 *         bytes before the header) | (site, tag) slot (bits 48..63)
 * check:  the block's address ^ NMW_MAGIC_LIVE (DEAD once freed) ^ the block's
 *         flags (low 16 bits). A plain block (everything on the fast path) has no
 *         flags, so one compare both checks the block and says "nothing special".
 * prefix: offset from the allocation's start to the block (low 32 bits) and the
 *         owner of external bytes (high 32): aligned and external blocks only.
 * Without a prefix the allocation starts at the header, or 16 bytes before it.
 *
 * The check word sits right before the block, where the plain blocks of the
 * public header's fallback (ABI 1, 32-byte header) keep theirs, so both kinds are
 * told apart by one read. Blocks of our own cache keep their DEAD mark. */
typedef struct nmw_hdr {
  uint64_t word;
  uint64_t check;
} nmw_hdr_t;

#define NMW_HDR 16
#define NMW_TRACKED_OVERHEAD (NMW_HDR + NMW_CANARY_SIZE) /* 24 bytes per block */
#define NMW_SIZE_MASK ((UINT64_C(1) << 47) - 1)
/* In the header's word: the allocation starts 16 bytes before the header (blocks
 * above the cache's sizes, and small blocks moved off a page start). */
#define NMW_LEAD_BIT (UINT64_C(1) << 47)
#define NMW_LIVE_CHECK(p) ((uint64_t)(uintptr_t)(p) ^ NMW_MAGIC_LIVE)
#define NMW_DEAD_CHECK(p) ((uint64_t)(uintptr_t)(p) ^ NMW_MAGIC_DEAD)

/* Block flags (in the check word). */
#define NMW_BLK_ALIGNED 0x1u  /* log2(alignment) in bits 8..12 */
#define NMW_BLK_EXTERNAL 0x2u /* counted as external for the prefix's owner */
#define NMW_BLK_PREFIX 0x4u   /* a prefix word precedes the header */
#define NMW_BLK_STRICT 0x8u   /* of a strict-peaks tag (keeps it off the free fast path) */
/* The flags that change a block's layout (the others only send it to slow paths). */
#define NMW_BLK_LAYOUT(flags) ((flags) & ~NMW_BLK_STRICT)
#define NMW_BLK_FLAGS_MASK 0xffffu

/* ---- the per-thread cache of freed blocks ----
 * Freed blocks of up to NMW_CACHE_MAX_SIZE bytes are kept per thread in classes of
 * 16 bytes of capacity (class k holds blocks made for 16k bytes: every block of up
 * to 1 KiB is allocated with its class's capacity, which costs no memory: glibc's
 * chunk for 16k + 24 bytes is the chunk it would give for any size of the class).
 * Bounds: NMW_CACHE_CLASS_BLOCKS blocks per class (a push to a full class first
 * gives half of it back to libc) and NMW_CACHE_THREAD_BYTES per thread (a push
 * that would pass it gives the thread's whole cache back). Flushed at thread exit. */
#define NMW_CACHE_MAX_SIZE 1024
#define NMW_CACHE_CLASSES (NMW_CACHE_MAX_SIZE / 16 + 1)
#define NMW_CACHE_CLASS_BLOCKS 64
#define NMW_CACHE_THREAD_BYTES (256 * 1024)
#define NMW_CLASS_OF(size) (((size) + 15) >> 4)
/* Bytes asked of libc for class k (class 0 as class 1: room to move off a page). */
#define NMW_CLASS_ALLOC(k) ((((size_t)(k) ? (size_t)(k) : 1u) << 4) + NMW_TRACKED_OVERHEAD)
/* External-tagged blocks of up to NMW_CACHE_MAX_SIZE bytes (unaligned) have their
 * own classes: [spare][prefix][header][16k bytes][canary], asked of libc as
 * NMW_EXT_CLASS_ALLOC(k) (a prefixed block's 40 bytes beyond a plain one's), kept
 * in the shard's ext_bins with their DEAD mark and their prefix (the offset stays
 * right; the owner is written again at reuse). */
#define NMW_EXT_FLAGS (NMW_BLK_PREFIX | NMW_BLK_EXTERNAL)
#define NMW_EXT_CLASS_ALLOC(k) (NMW_CLASS_ALLOC(k) + 40)
/* Blocks above the cache's sizes take 16 more bytes, in front of the header (where
 * libc's free lists write, so a freed block keeps its DEAD mark), or behind the
 * block when that would start it on a page. */
#define NMW_LARGE_EXTRA 16

typedef struct nmw_bin {
  nmw_hdr_t *head; /* linked through the headers' word; bit 0 of a link: LEAD */
  uint32_t count;
  uint32_t alloc; /* bytes asked of libc per block (set when the shard is made) */
} nmw_bin_t;

/* Where the allocation of a cached block starts (link: its header's word). */
static inline void *nmw__cached_raw(nmw_hdr_t *h, uint64_t link, bool ext) {
  unsigned char *b = (unsigned char *)h;
  if (ext) return b - (uint32_t)((const uint64_t *)h)[-1] + NMW_HDR;
  return b - (link & 1u) * NMW_HDR;
}

/* Relaxed load + store of a counter that only its owning thread writes. */
#define NMW_ADD(field, delta)                                                          \
  atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + \
                                      (delta),                                         \
                        memory_order_relaxed)
#define NMW_LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* ---- counters ---- */
typedef struct nmw_slot_ctr {
  _Atomic int64_t allocs, bytes_in, frees, bytes_out;
} nmw_slot_ctr_t;

/* The peak state of one tag (or the total) on one shard. Only the shard's thread
 * writes; readers (the exact sums) read base and room. The unfolded net change is
 * base - room. gate: the tag's gate word when the room was set (0: never). */
typedef struct nmw_pend {
  _Atomic int64_t room_bytes, room_blocks;
  _Atomic int64_t base_bytes, base_blocks;
  uint64_t gate;
} nmw_pend_t;

/* External bytes one shard credited to one owner, per external tag index. Only
 * the shard's thread writes; the owner's JS thread sums them at flush. */
typedef struct nmw_ext_ctr {
  _Atomic int64_t owed[NMW_EXT_TAG_MAX];
  int64_t moved; /* net change since this shard last woke the owner (its thread only) */
} nmw_ext_ctr_t;

/* Flat per-thread arrays, reserved once when the shard is made (address space
 * only: pages are committed when first touched), so the hot path indexes them
 * without any page lookup. */
typedef struct NMW_ALIGNED(NMW_CACHE_LINE) nmw_shard {
  nmw_slot_ctr_t *slots;      /* [NMW_SLOT_MAX] */
  nmw_pend_t *tags;           /* [NMW_TAG_MAX] */
  _Atomic int64_t *reallocs;  /* [NMW_SLOT_MAX] */
  nmw_pend_t total;
  /* Padding of blocks this thread allocated minus those it freed (the sum over
   * shards is what live blocks hold beyond header and canary). */
  _Atomic int64_t padding_bytes;
  /* Bytes this thread's cache holds (its classes' sizes asked of libc). */
  _Atomic int64_t cache_bytes;
  _Atomic uint64_t rejects; /* allocations libc placed on a page start, ever */
  nmw_bin_t bins[NMW_CACHE_CLASSES];
  nmw_bin_t ext_bins[NMW_CACHE_CLASSES]; /* external-tagged blocks */
  _Atomic(nmw_ext_ctr_t *) ext_pages[NMW_OWNER_MAX];
  struct nmw_shard *next_all; /* set before publication, then immutable */
  struct nmw_shard *next_free;
} nmw_shard_t;

/* ---- tags ---- */
#define NMW_TAGF_PUBLIC_MASK (NMW_TAG_EXTERNAL | NMW_TAG_STRICT_PEAKS)
#define NMW_TAGF_LIMITED 0x100u
#define NMW_TAGF_HAS_EXT_INDEX 0x200u /* the index below is assigned (kept for good) */
#define NMW_TAGF_EXT_INDEX_SHIFT 16 /* bits 16..23: the tag's external index */
#define NMW_TAGF_EXT_INDEX(flags) (((flags) >> NMW_TAGF_EXT_INDEX_SHIFT) & 0xffu)

/* A tag's gate word: its epoch (bumped by anything that lowers a peak anyone
 * watches: a peak reset, a region's begin) in the high bits, and the flags that
 * keep the tag off the fast path in the low ones. A shard's room is valid while
 * the gate reads what it read when the room was set; a gate with such a flag
 * never does (the shard keeps it without them). */
#define NMW_GATE_SLOW_MASK UINT64_C(0xff)
#define NMW_GATE_SLOW_LIMITED UINT64_C(0x1)
#define NMW_GATE_SLOW_EXTERNAL UINT64_C(0x2)
#define NMW_GATE_SLOW_STRICT UINT64_C(0x4)
#define NMW_GATE_EPOCH UINT64_C(0x100)

typedef struct NMW_ALIGNED(NMW_CACHE_LINE) nmw_tag_state {
  /* Read by every allocation of the tag. */
  _Atomic uint64_t gate;
  _Atomic uint32_t flags;
  /* Written by syncs and strict-peaks allocations. */
  NMW_ALIGNED(NMW_CACHE_LINE) _Atomic int64_t folded_bytes, folded_blocks;
  _Atomic int64_t peak_bytes, peak_blocks;
  _Atomic uint32_t shards_seen; /* shards that ever set a room for the tag */
  /* Cold. */
  NMW_ALIGNED(NMW_CACHE_LINE) _Atomic uint64_t limit;
  _Atomic uint64_t limit_denied;
  char name[NMW_TAG_NAME_MAX + 1];
} nmw_tag_state_t;

typedef struct NMW_ALIGNED(NMW_CACHE_LINE) nmw_total_state {
  _Atomic int64_t folded_bytes, folded_blocks;
  /* The lowest peak anyone watches (the total's and every open region's): the
   * shards' total rooms are set against it. */
  _Atomic int64_t watermark_bytes, watermark_blocks;
  _Atomic uint32_t shards_seen;
  _Atomic uint32_t regions_open; /* changed under peak_lock */
  NMW_ALIGNED(NMW_CACHE_LINE) _Atomic int64_t peak_bytes, peak_blocks;
} nmw_total_state_t;

/* ---- process-wide state ---- */
typedef struct nmw_globals {
  uv_once_t once;
  uv_mutex_t tag_lock;    /* registration */
  uv_mutex_t shard_lock;  /* the free list of shards */
  uv_mutex_t slot_lock;   /* site slot registration */
  uv_mutex_t peak_lock;   /* total peak, regions, watermark */
  uv_mutex_t limit_lock;  /* allocations under tags that have a limit */
  _Atomic uint32_t tag_count;
  _Atomic(nmw_shard_t *) shards; /* every shard ever made, newest first */
  _Atomic uint32_t shard_count;
  nmw_shard_t *free_shards;
  _Atomic uint64_t metadata_bytes; /* memory the tracker allocated for itself */
  _Atomic int64_t tracked_blocks;  /* live track() records (they have no header) */
} nmw_globals_t;

NMW_HIDDEN extern nmw_globals_t nmw__g;
NMW_HIDDEN extern nmw_tag_state_t nmw__tags[NMW_TAG_MAX];
NMW_HIDDEN extern nmw_total_state_t nmw__total;

/* Bumps a tag's (every tag's) gate epoch: every shard sets its room again at its
 * next allocation of the tag (after a peak reset or a region's begin). */
NMW_HIDDEN void nmw__gate_bump(nmw_tag_t tag);
NMW_HIDDEN void nmw__gate_bump_all(void);

/* Runs the one-time initialisation (locks, tag 0). Cheap after the first call. */
NMW_HIDDEN void nmw__init(void);
/* calloc that counts into metadata_bytes; aborts only never: returns NULL on OOM. */
NMW_HIDDEN void *nmw__meta_calloc(size_t count, size_t size);
/* Frees what nmw__meta_calloc(count, size) returned. */
NMW_HIDDEN void nmw__meta_free(void *p, size_t count, size_t size);

/* ---- shards.c ---- */
NMW_HIDDEN nmw_shard_t *nmw__shard_acquire(void);
/* Gives every block of a shard's cache back to libc. */
NMW_HIDDEN void nmw__cache_flush(nmw_shard_t *sh);
/* Bytes of a shard's flat arrays in use (what the slots and tags so far can touch). */
NMW_HIDDEN uint64_t nmw__shard_metadata(void);
NMW_HIDDEN extern _Thread_local nmw_shard_t *nmw__tls_shard;

NMW_INLINE nmw_shard_t *nmw__shard(void) {
  nmw_shard_t *s = nmw__tls_shard;
  return NMW_LIKELY(s != NULL) ? s : nmw__shard_acquire();
}

/* The sync: folds the shard's unfolded change of the tag and of the total, raises
 * the peaks to the exact values and sets the rooms again. */
NMW_HIDDEN void nmw__sync(nmw_shard_t *sh, nmw_tag_t tag);
/* Folds everything a shard holds unfolded (thread exit), leaving its rooms at 0. */
NMW_HIDDEN void nmw__fold_all(nmw_shard_t *sh);
/* A strict-peaks tag's change: one atomic add on the tag, its peak raised to the
 * value the add returned. */
NMW_HIDDEN void nmw__strict_change(nmw_tag_t tag, int64_t dbytes, int64_t dblocks);

/* The hot path's halves: they take the change from / give it to the rooms of the
 * tag and the total and return true when a sync is due (the caller makes it out
 * of line with nmw__sync). pend_grow also checks the tag's gate. */
NMW_INLINE bool nmw__pend_grow(nmw_shard_t *sh, nmw_tag_t tag, int64_t dbytes, int64_t dblocks) {
  nmw_pend_t *p = &sh->tags[tag];
  nmw_pend_t *tp = &sh->total;
  int64_t pb = NMW_LOAD(p->room_bytes) - dbytes, pk = NMW_LOAD(p->room_blocks) - dblocks;
  int64_t tb = NMW_LOAD(tp->room_bytes) - dbytes, tk = NMW_LOAD(tp->room_blocks) - dblocks;
  atomic_store_explicit(&p->room_bytes, pb, memory_order_relaxed);
  atomic_store_explicit(&p->room_blocks, pk, memory_order_relaxed);
  atomic_store_explicit(&tp->room_bytes, tb, memory_order_relaxed);
  atomic_store_explicit(&tp->room_blocks, tk, memory_order_relaxed);
  return (pb | pk | tb | tk) < 0;
}

NMW_INLINE bool nmw__pend_fall(nmw_shard_t *sh, nmw_tag_t tag, int64_t dbytes, int64_t dblocks) {
  nmw_pend_t *p = &sh->tags[tag];
  nmw_pend_t *tp = &sh->total;
  int64_t pb = NMW_LOAD(p->room_bytes) + dbytes, pk = NMW_LOAD(p->room_blocks) + dblocks;
  int64_t tb = NMW_LOAD(tp->room_bytes) + dbytes, tk = NMW_LOAD(tp->room_blocks) + dblocks;
  atomic_store_explicit(&p->room_bytes, pb, memory_order_relaxed);
  atomic_store_explicit(&p->room_blocks, pk, memory_order_relaxed);
  atomic_store_explicit(&tp->room_bytes, tb, memory_order_relaxed);
  atomic_store_explicit(&tp->room_blocks, tk, memory_order_relaxed);
  return (pb > NMW_ROOM_FALL_BYTES) | (pk > NMW_ROOM_FALL_BLOCKS) | (tb > NMW_ROOM_FALL_BYTES) |
         (tk > NMW_ROOM_FALL_BLOCKS);
}

/* Records a net change of a tag's (and the total's) current bytes/blocks on this
 * shard: the slow paths' version (any tag, any sign, strict peaks, the gate). */
NMW_INLINE void nmw__pend(nmw_shard_t *sh, nmw_tag_t tag, int64_t dbytes, int64_t dblocks) {
  uint64_t gate = atomic_load_explicit(&nmw__tags[tag].gate, memory_order_relaxed);
  if (NMW_UNLIKELY(gate & NMW_GATE_SLOW_STRICT)) {
    /* The tag's own peak is kept strictly; the total's room is still this shard's. */
    nmw__strict_change(tag, dbytes, dblocks);
    nmw_pend_t *tp = &sh->total;
    int64_t tb = NMW_LOAD(tp->room_bytes) - dbytes, tk = NMW_LOAD(tp->room_blocks) - dblocks;
    atomic_store_explicit(&tp->room_bytes, tb, memory_order_relaxed);
    atomic_store_explicit(&tp->room_blocks, tk, memory_order_relaxed);
    if (NMW_UNLIKELY((tb | tk) < 0 || tb > NMW_ROOM_FALL_BYTES || tk > NMW_ROOM_FALL_BLOCKS ||
                     (gate & ~NMW_GATE_SLOW_MASK) != sh->tags[tag].gate))
      nmw__sync(sh, tag);
    return;
  }
  bool due = (dbytes > 0 || dblocks > 0) ? nmw__pend_grow(sh, tag, dbytes, dblocks)
                                         : nmw__pend_fall(sh, tag, -dbytes, -dblocks);
  /* A fall can leave a room below zero too (a realloc's growth with fewer blocks). */
  nmw_pend_t *p = &sh->tags[tag];
  due |= (NMW_LOAD(p->room_bytes) | NMW_LOAD(p->room_blocks) | NMW_LOAD(sh->total.room_bytes) |
          NMW_LOAD(sh->total.room_blocks)) < 0;
  if (NMW_UNLIKELY(due || (gate & ~NMW_GATE_SLOW_MASK) != p->gate)) nmw__sync(sh, tag);
}

/* Credits an allocation / a free / a realloc to a slot and its tag. */
NMW_INLINE void nmw__credit_alloc(nmw_shard_t *sh, uint32_t slot, nmw_tag_t tag,
                                     uint64_t size) {
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(c->allocs, 1);
  NMW_ADD(c->bytes_in, (int64_t)size);
  nmw__pend(sh, tag, (int64_t)size, 1);
}

NMW_INLINE void nmw__credit_free(nmw_shard_t *sh, uint32_t slot, nmw_tag_t tag,
                                    uint64_t size) {
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(c->frees, 1);
  NMW_ADD(c->bytes_out, (int64_t)size);
  nmw__pend(sh, tag, -(int64_t)size, -1);
}

NMW_INLINE void nmw__credit_realloc(nmw_shard_t *sh, uint32_t slot, nmw_tag_t tag,
                                       uint64_t old_size, uint64_t new_size) {
  nmw_slot_ctr_t *c = &sh->slots[slot];
  NMW_ADD(sh->reallocs[slot], 1);
  if (new_size > old_size)
    NMW_ADD(c->bytes_in, (int64_t)(new_size - old_size));
  else
    NMW_ADD(c->bytes_out, (int64_t)(old_size - new_size));
  nmw__pend(sh, tag, (int64_t)new_size - (int64_t)old_size, 0);
}

/* The current bytes/blocks of a tag (tag < NMW_TAG_MAX) or, with tag ==
 * NMW_ANY_TAG, of everything: folded + every shard's unfolded part. */
NMW_HIDDEN void nmw__current(nmw_tag_t tag, int64_t *bytes, int64_t *blocks);

/* region.c: raises the total's and the open regions' peaks to the given current
 * total and recomputes the watermark. Called with peak_lock held. */
NMW_HIDDEN void nmw__raise_peaks_locked(int64_t bytes, int64_t blocks);
/* The same, from a sync whose total is above the watermark: without the lock when
 * no region is open (the watermark is then the total's peak). */
NMW_HIDDEN void nmw__raise_total_peak(int64_t bytes, int64_t blocks);

/* Raises *target to value when value is higher (sequentially consistent). */
NMW_INLINE void nmw__atomic_max(_Atomic int64_t *target, int64_t value) {
  int64_t seen = atomic_load(target);
  while (value > seen && !atomic_compare_exchange_weak(target, &seen, value)) {
  }
}

/* ---- slots.c ---- */
/* The tag of every slot (slot == tag for the "no site" slots); set before the slot
 * is published, never changed. */
NMW_HIDDEN extern uint16_t nmw__slot_tag[NMW_SLOT_MAX];
NMW_HIDDEN uint32_t nmw__slot_lookup_slow(nmw_site_t *site, nmw_tag_t tag);

/* The counter slot of (site, tag). The site record caches its last slot. */
NMW_INLINE uint32_t nmw__slot_for(nmw_site_t *site, nmw_tag_t tag) {
  if (site == NULL) return tag;
  uint64_t cached = __atomic_load_n(&site->impl, __ATOMIC_ACQUIRE);
  if (NMW_LIKELY((cached >> 32) == (uint64_t)tag + 1)) return (uint32_t)cached;
  return nmw__slot_lookup_slow(site, tag);
}

/* The site and tag of a slot (site NULL for the "no site" slots). */
NMW_HIDDEN void nmw__slot_info(uint32_t slot, nmw_site_t **site, nmw_tag_t *tag);
/* One past the highest slot id in use. */
NMW_HIDDEN uint32_t nmw__slot_end(void);

/* Sums every shard's counters for slots [0, nslots) into out (zeroed by caller). */
typedef struct nmw_slot_sum {
  int64_t allocs, frees, reallocs, bytes_in, bytes_out;
} nmw_slot_sum_t;
NMW_HIDDEN void nmw__sum_slots(nmw_slot_sum_t *out, uint32_t nslots);

/* ---- owner.c ---- */
#define NMW_OWNER_INDEX(id) ((id) & 0xffu)

typedef struct nmw_owner_slot {
  _Atomic uint32_t id;    /* current id (generation << 8 | index); 0 while never used */
  _Atomic int state;      /* nmw_owner_state_t */
  uint32_t generation;    /* under owners lock */
  uint64_t torn_down_at;  /* order of teardown, for reuse of the oldest; 0 while live or
                           * still tearing down; under owners lock */
  uv_mutex_t lock;        /* hooks vs teardown; explicit amounts */
  nmw_owner_hooks_t hooks;
  uv_thread_t thread;     /* the JS thread */
  bool flushing;          /* JS thread only */
  int64_t base[NMW_EXT_TAG_MAX];      /* shard sums left by earlier owners of the slot */
  int64_t explicit_owed[NMW_EXT_TAG_MAX];
  uint64_t explicit_calls[NMW_EXT_TAG_MAX];
  uint64_t below_zero[NMW_EXT_TAG_MAX];
  int64_t reported[NMW_EXT_TAG_MAX];  /* JS thread only */
  int64_t reported_total;
  _Atomic uint64_t adjust_calls, off_thread_calls, flushes;
} nmw_owner_slot_t;

NMW_HIDDEN extern nmw_owner_slot_t nmw__owners[NMW_OWNER_MAX];
NMW_HIDDEN extern _Thread_local nmw_owner_t nmw__tls_owner;

/* The last env looked up on this thread and its owner (pool threads usually
 * serve one env): the hot paths read it, nmw_core_owner_of_env fills it. */
typedef struct nmw_env_entry {
  const void *env;
  nmw_owner_t owner;
} nmw_env_entry_t;
NMW_HIDDEN extern _Thread_local nmw_env_entry_t nmw__env_cache;

/* Per slot: the id of its owner while that owner is live, else 0 (one word per
 * slot, so that the hot paths' check is one load). Set last at open, cleared
 * first at teardown. */
NMW_HIDDEN extern _Atomic uint32_t nmw__owner_live_id[NMW_OWNER_MAX];

/* True when id names the slot's current, live owner. */
static inline bool nmw__owner_live(nmw_owner_t id) {
  return id != 0 &&
         atomic_load_explicit(&nmw__owner_live_id[NMW_OWNER_INDEX(id)], memory_order_acquire) == id;
}

/* Tells the owner its pending amount moved by a threshold. */
NMW_HIDDEN void nmw__owner_wake(nmw_owner_t id, bool growing);
/* The highest owner slot index ever used. */
NMW_HIDDEN uint32_t nmw__owner_slots_used(void);
/* external.c: what a teardown does to the owner's external accounting. */
NMW_HIDDEN void nmw__ext_teardown(nmw_owner_slot_t *o, uint32_t index);

/* ---- external.c ---- */
/* Credits delta external bytes of the tag with external index ei to owner id
 * (checks that the owner is still live; a free for a gone owner is counted). */
NMW_HIDDEN void nmw__ext_credit(nmw_shard_t *sh, nmw_owner_t id, unsigned ei, int64_t delta);
NMW_HIDDEN nmw_ext_ctr_t *nmw__ext_page_new(nmw_shard_t *sh, uint32_t index);
NMW_HIDDEN extern _Atomic int64_t nmw__ext_threshold;

/* Moves an external tag's owed bytes on a shard's page of owner id by delta;
 * returns true when the owner must be woken (nmw__ext_wake, once the block is
 * complete: a wake may report to V8 at once). */
NMW_INLINE bool nmw__ext_page_add(nmw_ext_ctr_t *page, nmw_owner_t id, unsigned ei,
                                  int64_t delta) {
  NMW_ADD(page->owed[ei], delta);
  int64_t moved = page->moved + delta, threshold = NMW_LOAD(nmw__ext_threshold);
  page->moved = moved;
  return NMW_OWNER_INDEX(id) != 0 && (moved >= threshold || moved <= -threshold);
}

/* Wakes the owner of a page whose change since the last wake passed the threshold. */
NMW_HIDDEN void nmw__ext_wake(nmw_ext_ctr_t *page, nmw_owner_t id);

/* The same for an owner known to be live (or 0, unattributed): the slow paths of
 * external-tagged blocks. */
NMW_INLINE void nmw__ext_add(nmw_shard_t *sh, nmw_owner_t id, unsigned ei, int64_t delta) {
  uint32_t index = NMW_OWNER_INDEX(id);
  nmw_ext_ctr_t *page = atomic_load_explicit(&sh->ext_pages[index], memory_order_relaxed);
  if (NMW_UNLIKELY(page == NULL) && (page = nmw__ext_page_new(sh, index)) == NULL) return;
  if (NMW_UNLIKELY(nmw__ext_page_add(page, id, ei, delta))) nmw__ext_wake(page, id);
}
/* Sums the shards' external counters of an owner slot index into owed[NMW_EXT_TAG_MAX]. */
NMW_HIDDEN void nmw__ext_sum(uint32_t index, int64_t *owed);

/* ---- alloc.c ---- */
/* True when ptr is a live block of an external tag; *tag gets the tag. */
NMW_HIDDEN bool nmw__block_external(const void *ptr, nmw_tag_t *tag);

/* ---- misuse.c ---- */
/* site: where the misuse was detected (may be NULL); ptr and detail for the message. */
NMW_HIDDEN void nmw__misuse(nmw_misuse_kind_t kind, nmw_site_t *site, const char *detail);

#endif /* NMW_INTERNAL_H */
