/*
 * finalizers.c: the finalizer audit's record pools and counters.
 *
 * Every finalizer registered through the header's twins gets a record. A
 * record's id packs a process-wide slot index with the slot's generation, which
 * changes each time the slot is released. The addon passes the id, plus the
 * record's class in the bits above it (the "hint", see below), as the
 * finalize_hint of its trampoline, so a trampoline call with a stale id is a
 * finalizer that ran twice.
 *
 * Pools, one per registering thread, without a process-wide lock. Node-API makes
 * every call that registers, runs or cancels a finalizer on its environment's
 * JS thread, so each record is changed by one thread: the one that registered
 * it. Records live in that thread's pool (taken on its first registration,
 * handed to the next new thread when it exits, never freed), which only that
 * thread changes, with plain loads and single-writer stores: registering and
 * finalizing take no lock and make no atomic read-modify-write. A pool has
 *  - chunks of 4096 slots, each owned by one pool for good and listed in a
 *    process-wide directory (index >> 12), so an id finds its slot with no
 *    lookup. Per slot: a 4-byte state word (generation, state, flags) in one
 *    array, its class (4 bytes) in another, registration time and data (16
 *    bytes) in a third. With the class in the hint, a finalization reads nothing
 *    of its record but the state word: Node runs finalizers in hash order, so
 *    that is one cache miss in 800 KB for a 200,000-record churn (against 12.8
 *    MB of 64-byte records before). Free slots are a bitmap taken lowest first,
 *    so a churn writes the arrays in order (and the next slot's lines are
 *    fetched ahead), and memory follows the pool's peak of live records;
 *  - classes: what many records share, (finalizer, hint, site, owner, tag,
 *    kind), deduplicated in an open-addressing table; a copy of the last one's
 *    key sits in the pool's first cache line, so the common registration (the
 *    thread's last class again, a free slot at the cursor) reads one pool line
 *    and no class. Slots count the classes they name; a slot keeps its class
 *    until it is reused, so a late (double) finalization still finds its site.
 *    Per-object hints make one class per record: correct, slower;
 *  - rows: the counters of one (owner, tag), each behind its own sequence
 *    counter (odd while its pool's thread changes the row), so a reader on any
 *    thread copies a consistent row without a lock;
 *  - the lazy cancellation indexes and the instance-data list, private to the
 *    pool's thread: a wrap is removed and a reference deleted on the thread that
 *    made them, so cancellation looks in the calling thread's pool only.
 * The trampoline's work is here (nmw_core_fin_trampoline): one lookup, the
 * author's finalizer called in between and timed (TSC), one update of the row.
 *
 * Everything a reader on another thread may look at (state words, classes of
 * slots, times, data, class fields, rows) is written with atomic stores (plain
 * moves on x86-64 and arm64) and read with atomic loads. A reader copies a live
 * record and re-reads its state word: the generation moves on at release, so a
 * copy that changed meanwhile is dropped (the stores that reuse a slot are
 * release stores made after the one that freed it). Readers (stats, listings,
 * the exit report) take `lock`, which orders them against pool and chunk
 * creation; no reader blocks a registration or a finalization.
 *
 * Calls from a thread that does not own the record (the addon makes none; the C
 * API allows them) stay correct: begin, end, cancel and unregister claim the
 * record with a compare-and-swap of its state word, count into the calling
 * thread's own rows (readers sum rows by owner and tag), and hand the slot back
 * through the owning pool's lock-free list of remote releases, which its thread
 * drains before it needs a slot. Cancellation by key or reference, and set_ref,
 * see the calling thread's records only. A record's own thread and another must
 * not change the same record at once (that is a double finalization or a
 * finalization racing its own cancellation, which Node-API cannot produce).
 *
 * Counters are exact; per-pool live counts and peaks are summed, so peak_live is
 * exact with one registering thread and an upper bound with several. Whatever is
 * about individual live records (the oldest one's age, listings, the exit
 * report's per-site groups) is found by scanning the chunks when asked.
 *
 * Registration times come from a coarse clock (a scheduler tick, ~4 ns a read),
 * made strictly increasing per pool so they also order a thread's registrations.
 * The author's finalizer runs between the two halves of a finalization, so it
 * may register or cancel other records.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <x86intrin.h>
#define FIN_TSC 1
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- ids ---- */
#if UINTPTR_MAX > 0xffffffffu
#define ID_INDEX_BITS 32
#define GEN_MASK 0xfffffu /* 20 bits: ids stay below 2^52 */
#else
#define ID_INDEX_BITS 24 /* the id must fit the void * hint */
#define GEN_MASK 0xffu
#endif
#define MAKE_ID(gen, index) (((uint64_t)(gen) << ID_INDEX_BITS) | (uint64_t)(index))
#define ID_INDEX(id) ((uint32_t)((id) & ((UINT64_C(1) << ID_INDEX_BITS) - 1)))
#define ID_GEN(id) (ID_OF((uint64_t)(id)) >> ID_INDEX_BITS) /* a hint's class bits aside */
#define NEXT_GEN(g) ((g) >= GEN_MASK ? 1u : (g) + 1u) /* 1 .. GEN_MASK */

/* ---- atomics on plain fields (GCC and Clang builtins) ---- */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define LDA(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define STR(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, d) __atomic_fetch_add(&(x), (d), __ATOMIC_RELAXED)

/* ---- slots ---- */
#define CHUNK_BITS 12
#define CHUNK (1u << CHUNK_BITS)
#define CHUNKS_MAX 16384 /* 64M records; fewer on 32-bit targets (index bits) */
#define NONE UINT32_MAX
#define CLS_LIMIT 0xffffffu /* classes per pool */

/* The state word: generation << 6 | flags << 2 | state; 0: never used. Only the
 * record's pool's thread stores it, except the compare-and-swap by which
 * another thread claims a live record. */
enum { S_FREE = 0, S_LIVE = 1, S_RUN_GC = 2, S_RUN_TD = 3 };
#define F_KEY (1u << 2)    /* in the pool's wrap index */
#define F_REF (1u << 3)    /* in the pool's reference index */
#define F_STACK (1u << 4)  /* has a captured stack */
#define F_HASREF (1u << 5) /* refs[] holds its napi_ref (begin hands it out) */
#define F_ALL (F_KEY | F_REF | F_STACK | F_HASREF)
#define GS(gen, st) ((uint32_t)(gen) << 6 | (uint32_t)(st))
#define GS_GEN(gs) ((gs) >> 6)
#define GS_STATE(gs) ((gs) & 3u)
#define GS_BARE(gs) ((gs) & ~F_ALL) /* generation and state */

/* The finalize_hint given to Node: the id, and on 64-bit targets the record's
 * class + 1 in bits 52..63 (0: look it up), so a finalization reads no per-record
 * memory but the state word. Ids for JS and listings have no class bits. */
#if UINTPTR_MAX > 0xffffffffu
#define HINT_CLS_SHIFT 52
#define HINT_CLS_MAX 4094u
#define HINT_CLS(h) ((uint32_t)((h) >> HINT_CLS_SHIFT))
#define ID_OF(h) ((h) & ((UINT64_C(1) << HINT_CLS_SHIFT) - 1))
#else
#define HINT_CLS(h) 0u
#define ID_OF(h) (h)
#endif

typedef struct cold {
  uint64_t registered_ns; /* coarse_now(); a remote release's link once freed */
  void *data;             /* the author's; the key of a wrap */
} cold_t;

typedef struct pool pool_t;

typedef struct chunk {
  pool_t *pool;  /* for good, from the grant */
  uint32_t base; /* global index of slot 0 */
  uint32_t pos;  /* in its pool's list */
  const void **refs; /* per slot, with the first reference or instance data (release) */
  char **stacks;     /* per slot, allocated with the first stack; under stack_lock */
  uint64_t free_bits[CHUNK / 64]; /* the pool's thread */
  uint32_t gs[CHUNK];  /* state words: what a finalization reads */
  uint32_t cls[CHUNK]; /* classes in the pool */
  cold_t cold[CHUNK];
} chunk_t;

/* Exponential pages: page k holds indices [(2^k - 1) << b, (2^(k+1) - 1) << b),
 * so a table grows without moving what readers may be looking at. */
#define PG_COUNT 24
static inline uint32_t pg_of(uint32_t i, unsigned b) {
  return 63u - (uint32_t)__builtin_clzll(((uint64_t)i >> b) + 1);
}
static inline uint32_t pg_start(uint32_t pg, unsigned b) {
  return (uint32_t)(((UINT64_C(1) << pg) - 1) << b);
}
static inline uint32_t pg_size(uint32_t pg, unsigned b) { return (uint32_t)(UINT64_C(1) << (pg + b)); }

#define CLS_PG_BITS 6
#define ROW_PG_BITS 3

/* What records share. The fields readers use are written with release stores. */
typedef struct fclass {
  nmw_finalize_fn cb;
  void *hint;
  nmw_site_t *site;
  nmw_owner_t owner;
  uint32_t row; /* its (owner, tag) row in the pool */
  uint16_t tag;
  uint8_t kind;
  uint8_t used;
  uint32_t refs;      /* slots naming it: the pool's thread */
  uint32_t next_free; /* the pool's thread */
  struct row *rowp;   /* its row (the pool's thread) */
  /* For the trampoline's common case (the pool's thread): the owner's slots, and
   * whether the kind and owner allow that case at all (attributed, not an
   * external (array) buffer or instance data). */
  const nmw_owner_slot_t *oslot;
  bool common;
} fclass_t;

/* The counters of one (owner, tag) in one pool. */
typedef struct row {
  /* What registration and finalization touch: the first cache line. */
  uint32_t seq; /* odd while the pool's thread changes the row */
  nmw_owner_t owner;
  uint16_t tag;
  uint8_t used;
  uint8_t exiting;  /* a copy of its environment's exiting flag (the trampoline reads it) */
  uint32_t classes; /* classes naming it: the pool's thread */
  uint64_t registered;
  uint64_t live; /* modular: a row of remote finalizations goes below zero */
  uint64_t finalized_gc, finalized_teardown, total_ns, max_ns;
  uint64_t cancelled;
  uint64_t hist[NMW_FIN_HIST_BUCKETS];
} NMW_ALIGNED(NMW_CACHE_LINE) row_t; /* line-aligned: the trampoline fetches lines ahead */

/* A lazy index: open addressing (linear probing) of global slot indices. */
typedef struct index {
  uint32_t *slots; /* NONE: empty */
  uint32_t cap;    /* power of two */
  uint32_t count;
  bool on, wrap;
} index_t;

struct pool {
  /* The pool's thread, except what readers load atomically. Line 0: what a
   * registration reads, the key of its last class first (its copy: the class
   * itself need not be read). */
  nmw_finalize_fn k_cb;
  void *k_hint;
  nmw_site_t *k_site;
  nmw_owner_t k_owner;
  uint16_t k_tag;
  uint8_t k_kind; /* NMW_FIN_KIND_COUNT: no last class */
  bool k_slow;    /* the last class is of wraps and the wrap index is on: the long way */
  uint32_t last_cls;
  uint32_t cur_key; /* the cursor: no free bit before word (cur_key & 63) of chunk
                      * (cur_key >> 6) in the pool's list */
  row_t *last_row;  /* the last class's row */
  chunk_t *cur;     /* the cursor's chunk */
  const void *k_env; /* the napi_env of the last registration, whose owner is k_owner */
  /* Line 1: counters, and what a finalization reads. */
  uint64_t last_ns;
  int64_t live, peak; /* records in the pool (less those other threads released) */
  uint32_t ncls;
  fclass_t *cls_pages[PG_COUNT]; /* published with release */
  uint32_t cls_free, live_cls;
  uint32_t *cls_hash;
  uint32_t cls_hash_cap, cls_hash_count;
  chunk_t **chunks;
  uint32_t nchunks, chunks_cap;
  uint64_t remote; /* atomic: released by other threads, global index + 1 */
  row_t *row_pages[PG_COUNT]; /* published with release */
  uint32_t nrows;             /* published with release */
  uint32_t *row_hash;
  uint32_t row_hash_cap, row_hash_count;
  index_t wrap_index, ref_index;
  uint32_t *instance_slots; /* live instance-data records (few): a plain list */
  uint32_t instance_count, instance_cap;
  pool_t *next_all;  /* every pool, newest first (under lock) */
  pool_t *next_free; /* pools whose thread exited (under lock) */
};

typedef struct env {
  nmw_owner_t id; /* the owner these counters belong to (valid with used) */
  bool used;
  bool exiting; /* nmw_core_fin_mark_exiting */
  int64_t thread_id;
} env_t;

static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t lock;       /* readers; pool, chunk and environment changes */
static uv_mutex_t stack_lock; /* captured stacks */
static pthread_key_t pool_key;
static _Thread_local pool_t *tls_pool __attribute__((tls_model("initial-exec")));
/* The chunk directory; its first line also holds what every finalization reads
 * besides (the chunk count, the clock's factor). An entry names the chunk's pool
 * too, so a finalization need not read the chunk's header. */
typedef struct dir_entry {
  chunk_t *chunk;
  pool_t *pool;
} dir_entry_t;
static struct {
  uint32_t ndir;      /* published with release after dir[ndir - 1] */
  uint64_t tick_mult; /* atomic; ns per TSC tick, 32.32 fixed point; 0: not calibrated (yet) */
  dir_entry_t dir[CHUNKS_MAX];
} top NMW_ALIGNED(NMW_CACHE_LINE);
#define ndir (top.ndir)
#define tick_mult (top.tick_mult)
static pool_t *all_pools, *free_pools;
static uint32_t npools;
static env_t envs[NMW_OWNER_MAX];
static uint64_t record_bytes, index_bytes, env_bytes, failed_count; /* atomic adds */
static _Atomic uint64_t stack_bytes;
static _Atomic bool exit_final;

static const char *const kind_names[NMW_FIN_KIND_COUNT] = {
    "wrap", "finalizer", "external", "external_arraybuffer", "external_buffer", "instance_data",
};

static void on_thread_exit(void *value);

static atomic_bool inited;
static void init_once(void) {
  nmw__init();
  uv_mutex_init(&lock);
  uv_mutex_init(&stack_lock);
  pthread_key_create(&pool_key, on_thread_exit);
  atomic_store_explicit(&inited, true, memory_order_release);
}
/* uv_once without its call once initialised. */
#define INIT() \
  (atomic_load_explicit(&inited, memory_order_acquire) ? (void)0 : uv_once(&once, init_once))

const char *nmw_core_fin_kind_name(nmw_fin_kind_t kind) {
  return (unsigned)kind < NMW_FIN_KIND_COUNT ? kind_names[kind] : "unknown";
}

/* Registration times and ages: a coarse clock (a scheduler tick, ~4 ns a read)
 * is enough there; durations use the addon's clock. */
NMW_INLINE uint64_t coarse_now(void) {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
#endif
  return uv_hrtime();
}

uint64_t nmw_core_fin_now(void) { return coarse_now(); }

static void account_stack(const char *stack, bool add) {
  if (!stack) return;
  size_t n = strlen(stack) + 1;
  if (add) {
    atomic_fetch_add(&stack_bytes, n);
    atomic_fetch_add_explicit(&nmw__g.metadata_bytes, n, memory_order_relaxed);
  } else {
    atomic_fetch_sub(&stack_bytes, n);
    atomic_fetch_sub_explicit(&nmw__g.metadata_bytes, n, memory_order_relaxed);
  }
}

static void free_stack(char *stack) {
  account_stack(stack, false);
  free(stack);
}

/* ---- slots, classes, rows: lookups ---- */

/* The chunk of a well-formed id (any thread), else NULL. */
static inline chunk_t *chunk_of(nmw_fin_id_t id, uint32_t *off) {
  uint64_t gen = ID_GEN(id);
  uint32_t index = ID_INDEX(id);
  if (gen == 0 || gen > GEN_MASK || (index >> CHUNK_BITS) >= LDA(ndir)) return NULL;
  *off = index & (CHUNK - 1);
  return top.dir[index >> CHUNK_BITS].chunk;
}

static inline chunk_t *chunk_at(uint32_t index) { return top.dir[index >> CHUNK_BITS].chunk; }

/* The pool's thread. */
static inline fclass_t *class_at(const pool_t *p, uint32_t i) {
  if (NMW_LIKELY(i < (1u << CLS_PG_BITS))) return &p->cls_pages[0][i];
  uint32_t pg = pg_of(i, CLS_PG_BITS);
  return &p->cls_pages[pg][i - pg_start(pg, CLS_PG_BITS)];
}

/* Any thread (a class word read atomically from a slot). */
static inline const fclass_t *class_at_ro(const pool_t *p, uint32_t i) {
  uint32_t pg = pg_of(i, CLS_PG_BITS);
  if (pg >= PG_COUNT) return NULL;
  const fclass_t *page = LDA(p->cls_pages[pg]);
  return page ? &page[i - pg_start(pg, CLS_PG_BITS)] : NULL;
}

static inline row_t *row_at(const pool_t *p, uint32_t i) {
  uint32_t pg = pg_of(i, ROW_PG_BITS);
  row_t *page = LDA(p->row_pages[pg]);
  return &page[i - pg_start(pg, ROW_PG_BITS)];
}

/* nmw__owner_live, always inline (the common registration calls it). */
NMW_INLINE bool owner_live(nmw_owner_t id) {
  const nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(id)];
  return id != 0 && atomic_load_explicit(&o->id, memory_order_acquire) == id &&
         atomic_load_explicit(&o->state, memory_order_acquire) == NMW_OWNER_LIVE;
}

/* Whether owner's counters are the ones its environment slot keeps: a later
 * environment that registered in the same slot hides them (and makes its live
 * records orphans). */
static inline bool owner_current(nmw_owner_t owner) {
  const env_t *e = &envs[NMW_OWNER_INDEX(owner)];
  return LD(e->used) && LD(e->id) == owner;
}

/* Claims the environment slot for owner (a newer owner resets it). */
static void env_claim_locked(nmw_owner_t owner) {
  env_t *e = &envs[NMW_OWNER_INDEX(owner)];
  if (e->used && e->id == owner) return;
  /* An owner that is gone does not take the slot from a live one (so a live
   * owner keeps its slot for good: the common registration need not look). */
  if (e->used && owner != 0 && !nmw__owner_live(owner) && nmw__owner_live(e->id)) return;
  ST(e->id, owner);
  ST(e->thread_id, (int64_t)-1);
  ST(e->exiting, false);
  ST(e->used, true);
}

static NMW_NOINLINE void env_claim(nmw_owner_t owner) {
  uv_mutex_lock(&lock);
  env_claim_locked(owner);
  uv_mutex_unlock(&lock);
}

/* ---- pools ---- */

static pool_t *pool_new_locked(void) {
  pool_t *p = nmw__meta_calloc(1, sizeof *p);
  if (!p) return NULL;
  p->cls_free = NONE;
  p->last_cls = NONE;
  p->k_kind = NMW_FIN_KIND_COUNT;
  p->wrap_index.wrap = true;
  ADD(env_bytes, (uint64_t)sizeof *p);
  p->next_all = all_pools;
  all_pools = p;
  npools++;
  return p;
}

static void pool_drain(pool_t *p);

/* The calling thread's pool: one handed back by an exited thread, else a new one. */
static NMW_NOINLINE pool_t *pool_acquire(void) {
  INIT();
  uv_mutex_lock(&lock);
  pool_t *p = free_pools;
  if (p)
    free_pools = p->next_free;
  else
    p = pool_new_locked();
  uv_mutex_unlock(&lock);
  if (!p) return NULL;
  tls_pool = p;
  pthread_setspecific(pool_key, p);
  pool_drain(p);
  return p;
}

static inline pool_t *pool_get(void) {
  pool_t *p = tls_pool;
  return NMW_LIKELY(p != NULL) ? p : pool_acquire();
}

static void on_thread_exit(void *value) {
  pool_t *p = value;
  tls_pool = NULL;
  uv_mutex_lock(&lock);
  p->next_free = free_pools;
  free_pools = p;
  uv_mutex_unlock(&lock);
}

/* A new chunk for p (the pool's thread). */
static bool pool_grow(pool_t *p) {
  if (p->nchunks == p->chunks_cap) {
    uint32_t cap = p->chunks_cap ? p->chunks_cap * 2 : 8;
    chunk_t **grown = nmw__meta_calloc(cap, sizeof *grown);
    if (!grown) return false;
    if (p->chunks) {
      memcpy(grown, p->chunks, (size_t)p->nchunks * sizeof *grown);
      nmw__meta_free(p->chunks, p->chunks_cap, sizeof *p->chunks);
    }
    ADD(record_bytes, (uint64_t)(cap - p->chunks_cap) * sizeof *grown);
    p->chunks = grown;
    p->chunks_cap = cap;
  }
  uint64_t limit = (uint64_t)CHUNKS_MAX * CHUNK;
  if (limit > (UINT64_C(1) << ID_INDEX_BITS)) limit = UINT64_C(1) << ID_INDEX_BITS;
  chunk_t *c = nmw__meta_calloc(1, sizeof *c);
  if (!c) return false;
  uv_mutex_lock(&lock);
  uint32_t n = ndir;
  bool room = (uint64_t)(n + 1) * CHUNK <= limit;
  if (room) {
    c->pool = p;
    c->base = n * CHUNK;
    c->pos = p->nchunks;
    memset(c->free_bits, 0xff, sizeof c->free_bits);
    top.dir[n] = (dir_entry_t){c, p};
    STR(ndir, n + 1);
  }
  uv_mutex_unlock(&lock);
  if (!room) {
    nmw__meta_free(c, 1, sizeof *c);
    return false;
  }
  ADD(record_bytes, (uint64_t)sizeof *c);
  p->chunks[p->nchunks++] = c;
  /* Every slot before it is taken: the cursor moves to it. */
  p->cur = c;
  p->cur_key = c->pos << 6;
  return true;
}

/* The lowest free slot of p, else one of a new chunk. The next slot's lines are
 * fetched ahead: a churn takes slots in order, and the next registration comes
 * after a few hundred nanoseconds of Node-API work. */
static inline chunk_t *slot_take(pool_t *p, uint32_t *off) {
  for (bool drained = false;;) {
    chunk_t *c = p->cur;
    for (uint32_t ci = p->cur_key >> 6, w = p->cur_key & 63; c != NULL;) {
      uint64_t bits = c->free_bits[w];
      if (NMW_LIKELY(bits != 0)) {
        c->free_bits[w] = bits & (bits - 1);
        p->cur_key = ci << 6 | w;
        p->cur = c;
        uint32_t o = w * 64 + (uint32_t)__builtin_ctzll(bits);
        if (o + 1 < CHUNK) {
          __builtin_prefetch(&c->gs[o + 1], 1);
          __builtin_prefetch(&c->cls[o + 1], 1);
          __builtin_prefetch(&c->cold[o + 1], 1);
        }
        *off = o;
        return c;
      }
      if (++w == CHUNK / 64) {
        if (ci + 1 == p->nchunks) break; /* the cursor stays in the last word */
        w = 0;
        c = p->chunks[++ci];
      }
    }
    /* Full from the cursor on: slots other threads gave back, else a new chunk. */
    if (!drained && LD(p->remote) != 0) {
      pool_drain(p);
      drained = true;
      continue;
    }
    if (!pool_grow(p)) return NULL;
  }
}

_Static_assert(CHUNK / 64 == 64, "the cursor keeps a word index in 6 bits");

static inline void slot_give_back(pool_t *p, chunk_t *c, uint32_t off) {
  uint32_t w = off / 64, key = c->pos << 6 | w;
  c->free_bits[w] |= UINT64_C(1) << (off % 64);
  if (key < p->cur_key) {
    p->cur_key = key;
    p->cur = c;
  }
}

/* ---- rows (the pool's thread) ---- */

/* Duration histogram bucket (NMW_FIN_HIST_BUCKETS). */
static inline unsigned hist_bucket(uint64_t ns) {
  if (ns <= 1) return 0;
  unsigned b = 64u - (unsigned)__builtin_clzll(ns - 1);
  return b < NMW_FIN_HIST_BUCKETS - 1 ? b : NMW_FIN_HIST_BUCKETS - 1;
}


static inline void row_begin(row_t *r) {
  /* Odd: a reader that saw any store below sees this one too (they are releases). */
  ST(r->seq, r->seq + 1);
}
static inline void row_end(row_t *r) { STR(r->seq, r->seq + 1); }
#define ROW_ADD(r, field, d) STR((r)->field, (r)->field + (d))

static inline uint32_t hash_mix(uint64_t h) {
  h *= UINT64_C(0x9E3779B97F4A7C15);
  return (uint32_t)(h >> 32);
}

static inline uint32_t hash_ptr(const void *p, nmw_owner_t owner, uint32_t cap) {
  return hash_mix((uint64_t)(uintptr_t)p ^ ((uint64_t)owner << 48)) & (cap - 1);
}

static inline uint32_t row_home(const pool_t *p, uint32_t i, uint32_t cap) {
  const row_t *r = row_at(p, i);
  return hash_mix((uint64_t)r->owner << 16 | r->tag) & (cap - 1);
}

/* Open-addressing helpers over uint32 ids with a home function. */
typedef uint32_t (*home_fn)(const pool_t *p, uint32_t id, uint32_t cap);

static void oa_put(const pool_t *p, uint32_t *slots, uint32_t cap, uint32_t id, home_fn home) {
  uint32_t h = home(p, id, cap);
  while (slots[h] != NONE) h = (h + 1) & (cap - 1);
  slots[h] = id;
}

/* Room for one more at a load of at most one half; rehashes into a bigger table. */
static bool oa_reserve(const pool_t *p, uint32_t **slots, uint32_t *cap, uint32_t count,
                       home_fn home) {
  if (*cap != 0 && (count + 1) * 2 <= *cap) return true;
  uint32_t old_cap = *cap, *old = *slots;
  uint32_t ncap = old_cap ? old_cap * 2 : 64;
  uint32_t *fresh = nmw__meta_calloc(ncap, sizeof *fresh);
  if (!fresh) return false;
  memset(fresh, 0xff, (size_t)ncap * sizeof *fresh);
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i] != NONE) oa_put(p, fresh, ncap, old[i], home);
  if (old) nmw__meta_free(old, old_cap, sizeof *old);
  ADD(index_bytes, (uint64_t)(ncap - old_cap) * sizeof *fresh);
  *slots = fresh;
  *cap = ncap;
  return true;
}

/* Removes id; backward-shift deletion keeps every probe sequence intact. */
static void oa_remove(const pool_t *p, uint32_t *slots, uint32_t cap, uint32_t id, home_fn home) {
  uint32_t mask = cap - 1, i = home(p, id, cap);
  while (slots[i] != id) i = (i + 1) & mask;
  slots[i] = NONE;
  for (uint32_t j = (i + 1) & mask; slots[j] != NONE; j = (j + 1) & mask) {
    uint32_t k = home(p, slots[j], cap);
    /* Move the entry at j into the hole at i unless its home lies in (i, j]. */
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    slots[i] = slots[j];
    slots[j] = NONE;
    i = j;
  }
}

static void row_reset(row_t *r, nmw_owner_t owner, nmw_tag_t tag) {
  row_begin(r);
  STR(r->exiting, (uint8_t)0);
  __atomic_store_n(&r->owner, owner, __ATOMIC_SEQ_CST); /* see row_exiting */
  STR(r->tag, (uint16_t)tag);
  STR(r->used, (uint8_t)1);
  STR(r->registered, 0);
  STR(r->finalized_gc, 0);
  STR(r->finalized_teardown, 0);
  STR(r->cancelled, 0);
  STR(r->live, 0);
  for (int b = 0; b < NMW_FIN_HIST_BUCKETS; b++) STR(r->hist[b], 0);
  STR(r->max_ns, 0);
  STR(r->total_ns, 0);
  row_end(r);
  r->classes = 0;
}

/* The row of (owner, tag) in p, made on first use: a row that nothing names any
 * more and whose owner was replaced in its environment slot is reused. */
static uint32_t row_for(pool_t *p, nmw_owner_t owner, nmw_tag_t tag) {
  if (p->row_hash_cap) {
    uint32_t mask = p->row_hash_cap - 1;
    for (uint32_t h = hash_mix((uint64_t)owner << 16 | tag) & mask; p->row_hash[h] != NONE;
         h = (h + 1) & mask) {
      const row_t *r = row_at(p, p->row_hash[h]);
      if (r->owner == owner && r->tag == tag) return p->row_hash[h];
    }
  }
  if (!oa_reserve(p, &p->row_hash, &p->row_hash_cap, p->row_hash_count, row_home)) return NONE;
  uint32_t i = NONE;
  for (uint32_t k = 0; k < p->nrows; k++) {
    const row_t *r = row_at(p, k);
    if (r->classes == 0 && r->live == 0 && !owner_current(r->owner)) {
      oa_remove(p, p->row_hash, p->row_hash_cap, k, row_home);
      p->row_hash_count--;
      i = k;
      break;
    }
  }
  if (i == NONE) {
    i = p->nrows;
    uint32_t pg = pg_of(i, ROW_PG_BITS);
    if (pg >= PG_COUNT) return NONE;
    if (p->row_pages[pg] == NULL) {
      row_t *page = nmw__meta_calloc(pg_size(pg, ROW_PG_BITS), sizeof *page);
      if (!page) return NONE;
      ADD(env_bytes, (uint64_t)pg_size(pg, ROW_PG_BITS) * sizeof *page);
      STR(p->row_pages[pg], page);
    }
  }
  row_t *r = row_at(p, i);
  row_reset(r, owner, tag);
  if (i == p->nrows) __atomic_store_n(&p->nrows, i + 1, __ATOMIC_SEQ_CST);
  /* nmw_core_fin_mark_exiting stores the flag, then reads the rows; this stores
   * the row, then reads the flag (all sequentially consistent): one of the two
   * sees the other. */
  const env_t *e = &envs[NMW_OWNER_INDEX(owner)];
  if (__atomic_load_n(&e->exiting, __ATOMIC_SEQ_CST) && LD(e->id) == owner && LD(e->used))
    STR(r->exiting, (uint8_t)1);
  oa_put(p, p->row_hash, p->row_hash_cap, i, row_home);
  p->row_hash_count++;
  return i;
}

/* ---- classes (the pool's thread) ---- */

static inline uint32_t class_hash(nmw_finalize_fn cb, const void *hint, const nmw_site_t *site,
                                  nmw_owner_t owner, uint32_t tag, uint32_t kind) {
  uint64_t h = (uint64_t)(uintptr_t)cb;
  h = (h ^ (uint64_t)(uintptr_t)hint) * UINT64_C(0xff51afd7ed558ccd);
  h = (h ^ (uint64_t)(uintptr_t)site) * UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= (uint64_t)owner << 32 | tag << 4 | kind;
  return hash_mix(h);
}

static uint32_t class_home(const pool_t *p, uint32_t i, uint32_t cap) {
  const fclass_t *k = class_at(p, i);
  return class_hash(k->cb, k->hint, k->site, k->owner, k->tag, k->kind) & (cap - 1);
}

static inline bool class_is(const fclass_t *k, const nmw_fin_reg_t *reg, nmw_tag_t tag) {
  return k->cb == reg->cb && k->hint == reg->hint && k->site == reg->site &&
         k->owner == reg->owner && k->tag == tag && k->kind == (uint8_t)reg->kind;
}

static NMW_NOINLINE uint32_t class_find(pool_t *p, const nmw_fin_reg_t *reg, nmw_tag_t tag) {
  uint32_t h0 = class_hash(reg->cb, reg->hint, reg->site, reg->owner, tag, (uint32_t)reg->kind);
  if (p->cls_hash_cap) {
    uint32_t mask = p->cls_hash_cap - 1;
    for (uint32_t h = h0 & mask; p->cls_hash[h] != NONE; h = (h + 1) & mask)
      if (class_is(class_at(p, p->cls_hash[h]), reg, tag)) return p->cls_hash[h];
  }
  if (!oa_reserve(p, &p->cls_hash, &p->cls_hash_cap, p->cls_hash_count, class_home)) return NONE;
  uint32_t row = row_for(p, reg->owner, tag);
  if (row == NONE) return NONE;
  uint32_t i = p->cls_free;
  if (i != NONE) {
    p->cls_free = class_at(p, i)->next_free;
  } else {
    i = p->ncls;
    uint32_t pg = pg_of(i, CLS_PG_BITS);
    if (i >= CLS_LIMIT || pg >= PG_COUNT) return NONE;
    if (p->cls_pages[pg] == NULL) {
      fclass_t *page = nmw__meta_calloc(pg_size(pg, CLS_PG_BITS), sizeof *page);
      if (!page) return NONE;
      ADD(env_bytes, (uint64_t)pg_size(pg, CLS_PG_BITS) * sizeof *page);
      STR(p->cls_pages[pg], page);
    }
    p->ncls++;
  }
  fclass_t *k = class_at(p, i);
  STR(k->cb, reg->cb);
  STR(k->hint, reg->hint);
  STR(k->site, reg->site);
  STR(k->owner, reg->owner);
  STR(k->tag, (uint16_t)tag);
  STR(k->kind, (uint8_t)reg->kind);
  STR(k->row, row);
  k->rowp = row_at(p, row);
  k->oslot = &nmw__owners[NMW_OWNER_INDEX(reg->owner)];
  k->common = reg->owner != 0 && reg->kind < NMW_FIN_EXTERNAL_ARRAYBUFFER;
  k->used = 1;
  k->refs = 0;
  row_at(p, row)->classes++;
  oa_put(p, p->cls_hash, p->cls_hash_cap, i, class_home);
  p->cls_hash_count++;
  ST(p->live_cls, p->live_cls + 1);
  return i;
}

/* The class of a registration (the last one used, usually: then the tag was
 * checked when the class was made). */
static inline uint32_t class_for(pool_t *p, const nmw_fin_reg_t *reg) {
  if (NMW_LIKELY(p->k_cb == reg->cb && p->k_hint == reg->hint && p->k_site == reg->site &&
                 p->k_owner == reg->owner && p->k_tag == reg->tag &&
                 p->k_kind == (uint8_t)reg->kind))
    return p->last_cls;
  nmw_tag_t tag =
      reg->tag < atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire) ? reg->tag
                                                                                : NMW_UNTAGGED;
  uint32_t i = class_find(p, reg, tag);
  if (i != NONE) {
    fclass_t *k = class_at(p, i);
    p->last_cls = i;
    p->last_row = k->rowp;
    p->k_cb = k->cb;
    p->k_hint = k->hint;
    p->k_site = k->site;
    p->k_owner = k->owner;
    p->k_tag = k->tag;
    p->k_kind = k->kind;
    p->k_slow = k->kind == NMW_FIN_WRAP && p->wrap_index.on;
  }
  return i;
}

static void class_unref(pool_t *p, uint32_t i) {
  fclass_t *k = class_at(p, i);
  if (--k->refs != 0) return;
  oa_remove(p, p->cls_hash, p->cls_hash_cap, i, class_home);
  p->cls_hash_count--;
  row_at(p, k->row)->classes--;
  k->used = 0;
  k->next_free = p->cls_free;
  p->cls_free = i;
  if (p->last_cls == i) {
    p->last_cls = NONE;
    p->k_kind = NMW_FIN_KIND_COUNT; /* matches no registration */
  }
  ST(p->live_cls, p->live_cls - 1);
}

/* ---- lazy indexes (the pool's thread) ---- */

static inline const void *ref_of(const chunk_t *c, uint32_t off) {
  return c->refs ? c->refs[off] : NULL;
}

static uint32_t wrap_home(const pool_t *p, uint32_t slot, uint32_t cap) {
  const chunk_t *c = chunk_at(slot);
  uint32_t off = slot & (CHUNK - 1);
  return hash_ptr(c->cold[off].data, class_at(p, c->cls[off])->owner, cap);
}

static uint32_t ref_home(const pool_t *p, uint32_t slot, uint32_t cap) {
  (void)p;
  return hash_ptr(ref_of(chunk_at(slot), slot & (CHUNK - 1)), 0, cap);
}

static inline home_fn index_home(const index_t *ix) { return ix->wrap ? wrap_home : ref_home; }

static bool index_reserve(pool_t *p, index_t *ix) {
  return oa_reserve(p, &ix->slots, &ix->cap, ix->count, index_home(ix));
}

/* Indexes slot; returns its flag for the caller to set in the state word. */
static uint32_t index_put(pool_t *p, index_t *ix, uint32_t slot) {
  oa_put(p, ix->slots, ix->cap, slot, index_home(ix));
  ix->count++;
  return ix->wrap ? F_KEY : F_REF;
}

static void index_remove(pool_t *p, index_t *ix, uint32_t slot) {
  oa_remove(p, ix->slots, ix->cap, slot, index_home(ix));
  ix->count--;
}

/* Sets flags on a published live record: another thread may claim it at once. */
static void set_flags(uint32_t *gs, uint32_t flags) { __atomic_fetch_or(gs, flags, __ATOMIC_RELAXED); }

/* Turns a lazy index on: indexes what is live in p; registrations follow. */
static bool index_on(pool_t *p, index_t *ix) {
  if (ix->on) return true;
  for (uint32_t ci = 0; ci < p->nchunks; ci++) {
    chunk_t *c = p->chunks[ci];
    for (uint32_t off = 0; off < CHUNK; off++) {
      if (GS_STATE(LD(c->gs[off])) != S_LIVE) continue;
      uint8_t kind = class_at(p, c->cls[off])->kind;
      if (ix->wrap ? kind != NMW_FIN_WRAP
                   : ref_of(c, off) == NULL || kind == NMW_FIN_INSTANCE_DATA)
        continue;
      if (!index_reserve(p, ix)) return false;
      set_flags(&c->gs[off], index_put(p, ix, c->base + off));
    }
  }
  ix->on = true;
  if (ix->wrap && p->k_kind == NMW_FIN_WRAP) p->k_slow = true; /* wraps enter it */
  return true;
}

/* The chunk's reference array, made on first use (the pool's thread). */
static bool refs_ready(chunk_t *c) {
  if (c->refs) return true;
  const void **refs = nmw__meta_calloc(CHUNK, sizeof *refs);
  if (!refs) return false;
  ADD(record_bytes, (uint64_t)CHUNK * sizeof *refs);
  STR(c->refs, refs);
  return true;
}

/* ---- stacks ---- */

static bool stack_put(chunk_t *c, uint32_t off, char *stack) {
  uv_mutex_lock(&stack_lock);
  if (c->stacks == NULL) {
    c->stacks = nmw__meta_calloc(CHUNK, sizeof *c->stacks);
    if (c->stacks) ADD(record_bytes, (uint64_t)CHUNK * sizeof *c->stacks);
  }
  bool ok = c->stacks != NULL;
  if (ok) c->stacks[off] = stack;
  uv_mutex_unlock(&stack_lock);
  if (!ok) free_stack(stack);
  return ok;
}

static void stack_drop(chunk_t *c, uint32_t off) {
  uv_mutex_lock(&stack_lock);
  char *stack = c->stacks ? c->stacks[off] : NULL;
  if (stack) c->stacks[off] = NULL;
  uv_mutex_unlock(&stack_lock);
  free_stack(stack);
}

/* ---- releasing a slot (the pool's thread) ---- */

static void instance_remove(pool_t *p, uint32_t index) {
  for (uint32_t i = 0; i < p->instance_count; i++)
    if (p->instance_slots[i] == index) {
      p->instance_slots[i] = p->instance_slots[--p->instance_count];
      return;
    }
}

/* What a released slot still holds besides its bit (flags of its last state
 * word): index entries, a stack, its reference, its place in the instance list.
 * The class stays until the slot is reused. */
static NMW_NOINLINE void slot_extras(pool_t *p, chunk_t *c, uint32_t off, uint32_t flags,
                                     uint8_t kind) {
  uint32_t index = c->base + off;
  if (flags & F_KEY) index_remove(p, &p->wrap_index, index);
  if (flags & F_REF) index_remove(p, &p->ref_index, index);
  if (flags & F_STACK) stack_drop(c, off);
  if (kind == NMW_FIN_INSTANCE_DATA) instance_remove(p, index);
  if (c->refs && c->refs[off]) STR(c->refs[off], NULL);
}

/* Releases a live or running slot of the calling thread's pool. */
NMW_INLINE void slot_release(pool_t *p, chunk_t *c, uint32_t off, uint32_t gs, uint8_t kind) {
  uint32_t next = (gs & ~(uint32_t)0x3f) + GS(1, 0); /* the next generation, free */
  STR(c->gs[off], NMW_LIKELY(GS_GEN(next) <= GEN_MASK) ? next : GS(1, S_FREE));
  if (NMW_UNLIKELY((gs & F_ALL) || kind == NMW_FIN_INSTANCE_DATA))
    slot_extras(p, c, off, gs & F_ALL, kind);
  slot_give_back(p, c, off);
  ST(p->live, p->live - 1);
}

/* Takes back the slots other threads released (count_remote): their state words
 * are free; each entry carries the flags the record ended with. */
static void pool_drain(pool_t *p) {
  uint64_t head = __atomic_exchange_n(&p->remote, 0, __ATOMIC_ACQUIRE);
  while (head != 0) {
    uint32_t index = (uint32_t)head - 1;
    uint32_t flags = (uint32_t)(head >> 32);
    chunk_t *c = chunk_at(index);
    uint32_t off = index & (CHUNK - 1);
    head = LD(c->cold[off].registered_ns);
    uint8_t kind = class_at(p, c->cls[off])->kind;
    if (flags || kind == NMW_FIN_INSTANCE_DATA) slot_extras(p, c, off, flags, kind);
    slot_give_back(p, c, off);
  }
}

/* ---- registration ---- */

/* Room in the wrap index (when on) and the instance list for one more. */
static NMW_NOINLINE int register_room(pool_t *p, bool keyed, bool instance) {
  if (keyed && !index_reserve(p, &p->wrap_index)) return NMW_ENOMEM;
  if (instance && p->instance_count == p->instance_cap) {
    uint32_t cap = p->instance_cap ? p->instance_cap * 2 : 16;
    uint32_t *grown = nmw__meta_calloc(cap, sizeof *grown);
    if (!grown) return NMW_ENOMEM;
    if (p->instance_slots) {
      memcpy(grown, p->instance_slots, (size_t)p->instance_count * sizeof *grown);
      nmw__meta_free(p->instance_slots, p->instance_cap, sizeof *grown);
    }
    ADD(env_bytes, (uint64_t)(cap - p->instance_cap) * sizeof *grown);
    p->instance_slots = grown;
    p->instance_cap = cap;
  }
  return NMW_OK;
}

static NMW_NOINLINE int register_failed(pool_t *p, uint32_t ci, int rc, char *stack) {
  if (p && ci != NONE) {
    fclass_t *k = class_at(p, ci);
    if (k->refs == 0) { /* made for this registration: unmade */
      k->refs = 1;
      class_unref(p, ci);
    }
  }
  ADD(failed_count, 1);
  free_stack(stack);
  return rc;
}

/* Gives slot off of c class ci (the class of its last record, kept until now,
 * loses it); returns the slot's generation. */
NMW_INLINE uint32_t slot_class(pool_t *p, chunk_t *c, uint32_t off, uint32_t ci) {
  uint32_t gen = GS_GEN(LD(c->gs[off]));
  if (NMW_UNLIKELY(gen == 0)) {
    gen = 1; /* never used */
    class_at(p, ci)->refs++;
    STR(c->cls[off], ci);
  } else if (NMW_UNLIKELY(c->cls[off] != ci)) {
    class_at(p, ci)->refs++;
    class_unref(p, c->cls[off]);
    STR(c->cls[off], ci);
  }
  return gen;
}

/* Completes a registration in slot off of c (its class given): what every
 * registration ends with. */
NMW_INLINE nmw_fin_id_t record_write(pool_t *p, chunk_t *c, uint32_t off, uint32_t gen,
                                            uint32_t ci, void *data, uint32_t flags,
                                            uint64_t *hint) {
  /* Strictly increasing: the time also orders the thread's registrations. */
  uint64_t now = coarse_now();
  if (now <= p->last_ns) now = p->last_ns + 1;
  p->last_ns = now;
  STR(c->cold[off].registered_ns, now);
  STR(c->cold[off].data, data);
  STR(c->gs[off], GS(gen, S_LIVE) | flags);
  row_t *r = p->last_row;
  uint32_t seq = r->seq;
  ST(r->seq, seq + 1); /* odd: see row_begin */
  ROW_ADD(r, registered, 1);
  ROW_ADD(r, live, 1);
  STR(r->seq, seq + 2);
  ST(p->live, p->live + 1);
  if (p->live > p->peak) ST(p->peak, p->live);
  nmw_fin_id_t id = MAKE_ID(gen, c->base + off);
#ifdef HINT_CLS_SHIFT
  *hint = id | (ci < HINT_CLS_MAX ? (uint64_t)(ci + 1) << HINT_CLS_SHIFT : 0);
#else
  (void)ci;
  *hint = id;
#endif
  return id;
}

/* Every registration the common case does not take: a first one on the thread,
 * a new class or environment, instance data, a stack, the wrap index on, a new
 * chunk, failures. */
static NMW_NOINLINE int register_slow(const nmw_fin_reg_t *given, nmw_fin_id_t *out,
                                      uint64_t *hint) {
  nmw_fin_reg_t copy = *given;
  const nmw_fin_reg_t *reg = &copy;
  if (given->env) copy.owner = nmw_core_owner_of_env(given->env);
  if (NMW_UNLIKELY(reg->stack != NULL)) account_stack(reg->stack, true); /* ours from here */
  if (NMW_UNLIKELY((unsigned)reg->kind >= NMW_FIN_KIND_COUNT)) {
    free_stack(reg->stack);
    return NMW_EINVAL;
  }
  pool_t *p = pool_get();
  if (NMW_UNLIKELY(!p)) return register_failed(NULL, NONE, NMW_ENOMEM, reg->stack);
  if (NMW_UNLIKELY(!owner_current(reg->owner))) env_claim(reg->owner);
  uint32_t ci = class_for(p, reg);
  if (NMW_UNLIKELY(ci == NONE)) return register_failed(p, NONE, NMW_ENOMEM, reg->stack);
  p->k_env = reg->env;
  bool instance = reg->kind == NMW_FIN_INSTANCE_DATA;
  bool keyed = p->wrap_index.on && reg->kind == NMW_FIN_WRAP;
  if (keyed || instance) {
    int rc = register_room(p, keyed, instance);
    if (rc != NMW_OK) return register_failed(p, ci, rc, reg->stack);
  }
  uint32_t off;
  chunk_t *c = slot_take(p, &off);
  if (NMW_UNLIKELY(!c))
    return register_failed(p, ci,
                           (uint64_t)LD(ndir) * CHUNK >= (uint64_t)CHUNKS_MAX * CHUNK ? NMW_ENOSPC
                                                                                     : NMW_ENOMEM,
                           reg->stack);
  if (instance && !refs_ready(c)) {
    slot_give_back(p, c, off);
    return register_failed(p, ci, NMW_ENOMEM, reg->stack);
  }
  uint32_t index = c->base + off, flags = 0;
  uint32_t gen = slot_class(p, c, off, ci);
  if (instance) {
    STR(c->refs[off], reg->key);
    p->instance_slots[p->instance_count++] = index;
  }
  if (reg->stack != NULL && stack_put(c, off, reg->stack)) flags |= F_STACK;
  if (keyed) {
    STR(c->cold[off].data, reg->data); /* the index hashes it */
    flags |= index_put(p, &p->wrap_index, index);
  }
  uint64_t h;
  *out = record_write(p, c, off, gen, ci, reg->data, flags, &h);
  if (hint) *hint = h;
  return NMW_OK;
}

int nmw_core_fin_register_hint(const nmw_fin_reg_t *reg, nmw_fin_id_t *out, uint64_t *hint) {
  pool_t *p = tls_pool;
  /* The common case: the thread's last class again, a free slot at the cursor. */
  if (NMW_LIKELY(p != NULL) && p->k_cb == reg->cb && p->k_hint == reg->hint &&
      p->k_site == reg->site && p->k_tag == reg->tag && p->k_kind == (uint8_t)reg->kind &&
      reg->kind != NMW_FIN_INSTANCE_DATA && !p->k_slow && reg->stack == NULL &&
      (reg->env != NULL ? reg->env == p->k_env && owner_live(p->k_owner)
                        : reg->owner == p->k_owner &&
                              (p->k_owner == 0 ? owner_current(0) : owner_live(p->k_owner)))) {
    /* A live owner keeps its environment slot (env_claim_locked), which its
     * first registration here claimed: no need to look at it. */
    chunk_t *c = p->cur;
    uint32_t w = p->cur_key & 63;
    uint64_t bits = c->free_bits[w];
    if (NMW_LIKELY(bits != 0)) {
      c->free_bits[w] = bits & (bits - 1);
      uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(bits);
      if (off + 1 < CHUNK) {
        __builtin_prefetch(&c->gs[off + 1], 1);
        __builtin_prefetch(&c->cls[off + 1], 1);
        __builtin_prefetch(&c->cold[off + 1], 1);
      }
      uint32_t ci = p->last_cls;
      uint32_t gen = slot_class(p, c, off, ci);
      uint64_t h;
      *out = record_write(p, c, off, gen, ci, reg->data, 0, &h);
      if (hint) *hint = h;
      return NMW_OK;
    }
  }
  return register_slow(reg, out, hint);
}

int nmw_core_fin_register(const nmw_fin_reg_t *reg, nmw_fin_id_t *out) {
  return nmw_core_fin_register_hint(reg, out, NULL);
}

/* ---- other threads' records ---- */

/* Claims a record of another pool: its state word from want to to. */
static bool claim(uint32_t *gs, uint32_t want, uint32_t to) {
  return __atomic_compare_exchange_n(gs, &want, to, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Counts the end of a record another pool holds into the calling thread's row
 * of its (owner, tag), then hands the slot back to its pool. The caller freed
 * the state word, which held flags. what: 0 finalized by GC, 1 at teardown,
 * 2 cancelled, 3 unregistered. */
static void count_remote(chunk_t *c, uint32_t off, uint32_t flags, int what,
                         uint64_t duration_ns) {
  const fclass_t *k = class_at_ro(c->pool, LDA(c->cls[off]));
  pool_t *t = pool_get();
  uint32_t ri = k && t ? row_for(t, LDA(k->owner), LDA(k->tag)) : NONE;
  if (ri != NONE) {
    row_t *r = row_at(t, ri);
    row_begin(r);
    if (what == 0) ROW_ADD(r, finalized_gc, 1);
    if (what == 1) ROW_ADD(r, finalized_teardown, 1);
    if (what == 2) ROW_ADD(r, cancelled, 1);
    if (what == 3) ROW_ADD(r, registered, (uint64_t)-1);
    ROW_ADD(r, live, (uint64_t)-1);
    if (what <= 1) {
      ROW_ADD(r, hist[hist_bucket(duration_ns)], 1);
      ROW_ADD(r, total_ns, duration_ns);
      if (duration_ns > r->max_ns) STR(r->max_ns, duration_ns);
    }
    row_end(r);
  }
  if (t) ST(t->live, t->live - 1);
  /* Pushed with its flags: the pool's thread undoes what they say. */
  pool_t *p = c->pool;
  uint64_t head = LD(p->remote), mine = (uint64_t)flags << 32 | (uint64_t)(c->base + off + 1);
  do {
    STR(c->cold[off].registered_ns, head);
  } while (!__atomic_compare_exchange_n(&p->remote, &head, mine, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

/* Cancels (what 2) or unregisters (what 3) a live record of another pool. */
static bool cancel_remote(chunk_t *c, uint32_t off, uint32_t gs, int what) {
  if (!claim(&c->gs[off], gs, GS(NEXT_GEN(GS_GEN(gs)), S_FREE))) return false;
  count_remote(c, off, gs & F_ALL, what, 0);
  return true;
}

/* ---- unregistering, references, cancellation ---- */

/* The chunk of a live record an id names (its state word in *gs), else NULL. */
static inline chunk_t *live_of(nmw_fin_id_t id, uint32_t *off, uint32_t *gs) {
  chunk_t *c = chunk_of(id, off);
  if (!c) return NULL;
  *gs = LDA(c->gs[*off]);
  return GS_BARE(*gs) == GS(ID_GEN(id), S_LIVE) ? c : NULL;
}

/* Ends a live record of the calling thread's pool as cancelled (or unregistered). */
static void cancel_own(pool_t *p, chunk_t *c, uint32_t off, uint32_t gs, bool unregister) {
  const fclass_t *k = class_at(p, c->cls[off]);
  row_t *r = row_at(p, k->row);
  row_begin(r);
  if (unregister)
    ROW_ADD(r, registered, (uint64_t)-1);
  else
    ROW_ADD(r, cancelled, 1);
  ROW_ADD(r, live, (uint64_t)-1);
  row_end(r);
  slot_release(p, c, off, gs, k->kind);
}

static bool cancel_id(nmw_fin_id_t id, bool unregister) {
  uint32_t off, gs;
  chunk_t *c = live_of(id, &off, &gs);
  if (!c) return false;
  if (c->pool != tls_pool) return cancel_remote(c, off, gs, unregister ? 3 : 2);
  cancel_own(c->pool, c, off, gs, unregister);
  return true;
}

void nmw_core_fin_unregister(nmw_fin_id_t id) { (void)cancel_id(id, true); }

bool nmw_core_fin_cancel(nmw_fin_id_t id) { return cancel_id(id, false); }

void nmw_core_fin_set_ref(nmw_fin_id_t id, const void *ref) {
  uint32_t off, gs;
  chunk_t *c = ref ? live_of(id, &off, &gs) : NULL;
  pool_t *p = c ? c->pool : NULL;
  if (!c || p != tls_pool) return; /* another thread's record: not indexed */
  if ((gs & F_HASREF) || class_at(p, c->cls[off])->kind == NMW_FIN_INSTANCE_DATA ||
      !refs_ready(c))
    return;
  STR(c->refs[off], ref);
  uint32_t flags = F_HASREF;
  if (p->ref_index.on && index_reserve(p, &p->ref_index))
    flags |= index_put(p, &p->ref_index, c->base + off);
  set_flags(&c->gs[off], flags);
}

/* The live record of the calling thread's pool with owner, kind and key
 * (preferring tag), or NONE. */
static uint32_t find_key_own(pool_t *p, nmw_owner_t owner, nmw_fin_kind_t kind, const void *key,
                             nmw_tag_t tag) {
  uint32_t found = NONE;
  if (kind == NMW_FIN_INSTANCE_DATA) {
    for (uint32_t i = 0; i < p->instance_count; i++) {
      uint32_t slot = p->instance_slots[i];
      const chunk_t *c = chunk_at(slot);
      uint32_t off = slot & (CHUNK - 1);
      if (ref_of(c, off) == key && GS_STATE(LD(c->gs[off])) == S_LIVE &&
          class_at(p, c->cls[off])->owner == owner)
        return slot;
    }
    return NONE;
  }
  if (kind != NMW_FIN_WRAP || !index_on(p, &p->wrap_index) || p->wrap_index.cap == 0) return NONE;
  const index_t *ix = &p->wrap_index;
  uint32_t mask = ix->cap - 1;
  for (uint32_t h = hash_ptr(key, owner, ix->cap); ix->slots[h] != NONE; h = (h + 1) & mask) {
    uint32_t slot = ix->slots[h];
    const chunk_t *c = chunk_at(slot);
    uint32_t off = slot & (CHUNK - 1);
    const fclass_t *k = class_at(p, c->cls[off]);
    if (c->cold[off].data != key || k->owner != owner || k->kind != NMW_FIN_WRAP ||
        GS_STATE(LD(c->gs[off])) != S_LIVE)
      continue;
    if (tag == NMW_ANY_TAG || k->tag == tag) return slot;
    if (found == NONE) found = slot;
  }
  return found;
}

static uint32_t find_ref_own(pool_t *p, const void *ref) {
  if (ref == NULL || !index_on(p, &p->ref_index) || p->ref_index.cap == 0) return NONE;
  const index_t *ix = &p->ref_index;
  uint32_t mask = ix->cap - 1;
  for (uint32_t h = hash_ptr(ref, 0, ix->cap); ix->slots[h] != NONE; h = (h + 1) & mask) {
    uint32_t slot = ix->slots[h];
    const chunk_t *c = chunk_at(slot);
    uint32_t off = slot & (CHUNK - 1);
    if (ref_of(c, off) == ref && GS_STATE(LD(c->gs[off])) == S_LIVE) return slot;
  }
  return NONE;
}

static nmw_fin_id_t slot_id(uint32_t slot) {
  return MAKE_ID(GS_GEN(LD(chunk_at(slot)->gs[slot & (CHUNK - 1)])), slot);
}

static bool cancel_slot(pool_t *p, uint32_t slot) {
  if (slot == NONE) return false;
  chunk_t *c = chunk_at(slot);
  uint32_t off = slot & (CHUNK - 1);
  cancel_own(p, c, off, LD(c->gs[off]), false);
  return true;
}

bool nmw_core_fin_cancel_key(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key,
                             nmw_tag_t tag) {
  pool_t *p = tls_pool;
  return p && cancel_slot(p, find_key_own(p, owner, kind, key, tag));
}

nmw_fin_id_t nmw_core_fin_find_key(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key) {
  pool_t *p = tls_pool;
  uint32_t slot = p ? find_key_own(p, owner, kind, key, NMW_ANY_TAG) : NONE;
  return slot != NONE ? slot_id(slot) : 0;
}

bool nmw_core_fin_cancel_ref(const void *ref) {
  pool_t *p = tls_pool;
  return p && cancel_slot(p, find_ref_own(p, ref));
}

nmw_fin_id_t nmw_core_fin_find_ref(const void *ref) {
  pool_t *p = tls_pool;
  uint32_t slot = p ? find_ref_own(p, ref) : NONE;
  return slot != NONE ? slot_id(slot) : 0;
}

/* ---- the trampoline ---- */

/* A trampoline call for a record that is not live: it ran already (or is
 * running: called again from inside its own finalizer). When the slot has not
 * been reused since, its site is known. */
static NMW_NOINLINE int begin_stale(nmw_fin_id_t id) {
  nmw_site_t *site = NULL;
  uint32_t off;
  chunk_t *c = chunk_of(id, &off);
  if (c) {
    uint32_t gs = LDA(c->gs[off]), gen = (uint32_t)ID_GEN(id);
    bool same = (GS_STATE(gs) == S_FREE && GS_GEN(gs) == NEXT_GEN(gen)) ||
                (GS_STATE(gs) >= S_RUN_GC && GS_GEN(gs) == gen);
    const fclass_t *k = same ? class_at_ro(c->pool, LDA(c->cls[off])) : NULL;
    if (k) site = LDA(k->site);
    if (LD(c->gs[off]) != gs) site = NULL; /* reused meanwhile */
  }
  char detail[96];
  snprintf(detail, sizeof detail, "the finalizer of record %llu ran again",
           (unsigned long long)ID_OF(id));
  nmw__misuse(NMW_MISUSE_DOUBLE_FINALIZE, site, detail);
  return NMW_ENOENT;
}

static NMW_NOINLINE void report_gone(nmw_fin_id_t id, uint8_t kind, nmw_site_t *site) {
  char detail[128];
  snprintf(detail, sizeof detail,
           "the %s finalizer of record %llu ran after its environment was gone",
           kind_names[kind], (unsigned long long)ID_OF(id));
  nmw__misuse(NMW_MISUSE_FINALIZE_AFTER_TEARDOWN, site, detail);
}

/* Whether a finalization of owner's record counts at teardown: its owner is no
 * longer live (gone: its slot free or reused), or its environment is exiting. */
static inline bool at_teardown_of(nmw_owner_t owner, bool *gone) {
  nmw_owner_state_t state = NMW_OWNER_LIVE;
  if (owner != 0) { /* nmw_core_owner_state, inline */
    nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(owner)];
    state = atomic_load_explicit(&o->id, memory_order_acquire) != owner
                ? NMW_OWNER_FREE
                : (nmw_owner_state_t)atomic_load_explicit(&o->state, memory_order_acquire);
  }
  *gone = state == NMW_OWNER_FREE;
  return state != NMW_OWNER_LIVE || LD(envs[NMW_OWNER_INDEX(owner)].exiting);
}

static NMW_NOINLINE int begin_remote(nmw_fin_id_t id, chunk_t *c, uint32_t off, uint32_t gs,
                                     nmw_fin_call_t *out) {
  const fclass_t *k = class_at_ro(c->pool, LDA(c->cls[off]));
  if (!k) return begin_stale(id);
  bool gone;
  bool teardown = at_teardown_of(LDA(k->owner), &gone);
  if (!claim(&c->gs[off], gs, (gs & ~3u) | (teardown ? S_RUN_TD : S_RUN_GC)))
    return begin_stale(id);
  uint8_t kind = LDA(k->kind);
  out->cb = LDA(k->cb);
  out->hint = LDA(k->hint);
  out->kind = (nmw_fin_kind_t)kind;
  out->at_teardown = teardown;
  const void **refs = LDA(c->refs);
  out->ref = (gs & F_HASREF) && refs ? LDA(refs[off]) : NULL;
  out->id_ = id;
  out->chunk_ = NULL; /* end_call takes the other threads' path */
  out->class_ = NULL;
  out->off_ = 0;
  if (gone) report_gone(id, kind, LDA(k->site));
  return NMW_OK;
}

/* The class of the calling thread's record: from its hint when it has one. */
static inline uint32_t class_of(const pool_t *p, const chunk_t *c, uint32_t off, nmw_fin_id_t id) {
  uint32_t ci = HINT_CLS(id);
  return NMW_LIKELY(ci != 0 && ci <= p->ncls) ? ci - 1 : c->cls[off];
}

int nmw_core_fin_begin(nmw_fin_id_t id, nmw_fin_call_t *out) {
  uint32_t index = ID_INDEX(id), off = index & (CHUNK - 1);
#if UINTPTR_MAX > 0xffffffffu
  /* A generation of 0 matches no live state word (64-bit ids have no larger). */
  if (NMW_UNLIKELY((index >> CHUNK_BITS) >= LDA(ndir))) return begin_stale(id);
  chunk_t *c = top.dir[index >> CHUNK_BITS].chunk;
#else
  chunk_t *c = chunk_of(id, &off);
  if (NMW_UNLIKELY(!c)) return begin_stale(id);
#endif
  uint32_t gs = LDA(c->gs[off]);
  if (NMW_UNLIKELY(GS_BARE(gs) != GS(ID_GEN(id), S_LIVE))) return begin_stale(id);
  pool_t *p = c->pool;
  if (NMW_UNLIKELY(p != tls_pool)) return begin_remote(id, c, off, gs, out);
  const fclass_t *k = class_at(p, class_of(p, c, off, id));
  nmw_owner_t owner = k->owner;
  const nmw_owner_slot_t *o = &nmw__owners[NMW_OWNER_INDEX(owner)];
  bool gone = false, teardown = false;
  /* The common case: the owner live, not exiting. */
  if (NMW_UNLIKELY((owner != 0 && (atomic_load_explicit(&o->id, memory_order_acquire) != owner ||
                                   atomic_load_explicit(&o->state, memory_order_acquire) !=
                                       NMW_OWNER_LIVE)) ||
                   LD(envs[NMW_OWNER_INDEX(owner)].exiting)))
    teardown = at_teardown_of(owner, &gone);
  ST(c->gs[off], (gs & ~3u) | (teardown ? S_RUN_TD : S_RUN_GC));
  out->cb = k->cb;
  out->hint = k->hint;
  out->kind = (nmw_fin_kind_t)k->kind;
  out->at_teardown = teardown;
  out->ref = NMW_UNLIKELY(gs & F_HASREF) ? c->refs[off] : NULL;
  out->id_ = id;
  out->chunk_ = c;
  out->class_ = k;
  out->off_ = off;
  if (NMW_UNLIKELY(gone)) report_gone(id, k->kind, k->site);
  return NMW_OK;
}

/* Ends a running record of the calling thread's pool. */
NMW_INLINE void end_own(pool_t *p, chunk_t *c, uint32_t off, uint32_t gs, const fclass_t *k,
                           uint64_t duration_ns, bool at_teardown) {
  row_t *r = k->rowp;
  uint32_t seq = r->seq;
  ST(r->seq, seq + 1);
  if (GS_STATE(gs) == S_RUN_GC && !at_teardown)
    ROW_ADD(r, finalized_gc, 1);
  else
    ROW_ADD(r, finalized_teardown, 1);
  ROW_ADD(r, live, (uint64_t)-1);
  ROW_ADD(r, hist[hist_bucket(duration_ns)], 1);
  ROW_ADD(r, total_ns, duration_ns);
  if (duration_ns > r->max_ns) STR(r->max_ns, duration_ns);
  STR(r->seq, seq + 2);
  slot_release(p, c, off, gs, k->kind);
}

void nmw_core_fin_end(nmw_fin_id_t id, uint64_t duration_ns, bool at_teardown) {
  uint32_t off;
  chunk_t *c = chunk_of(id, &off);
  if (NMW_UNLIKELY(!c)) return;
  uint32_t gs = LDA(c->gs[off]);
  if (NMW_UNLIKELY(GS_GEN(gs) != ID_GEN(id) || GS_STATE(gs) < S_RUN_GC)) return;
  pool_t *p = c->pool;
  if (NMW_UNLIKELY(p != tls_pool)) {
    bool by_gc = GS_STATE(gs) == S_RUN_GC && !at_teardown;
    if (claim(&c->gs[off], gs, GS(NEXT_GEN(GS_GEN(gs)), S_FREE)))
      count_remote(c, off, gs & F_ALL, by_gc ? 0 : 1, duration_ns);
    return;
  }
  end_own(p, c, off, gs, class_at(p, class_of(p, c, off, id)), duration_ns, at_teardown);
}

void nmw_core_fin_end_call(const nmw_fin_call_t *call, uint64_t duration_ns, bool at_teardown) {
  chunk_t *c = call->chunk_;
  if (NMW_UNLIKELY(c == NULL || c->pool != tls_pool)) {
    nmw_core_fin_end(call->id_, duration_ns, at_teardown);
    return;
  }
  uint32_t gs = LD(c->gs[call->off_]); /* running: only this thread changes it */
  if (NMW_UNLIKELY(GS_GEN(gs) != ID_GEN(call->id_) || GS_STATE(gs) < S_RUN_GC)) return;
  end_own(c->pool, c, call->off_, gs, call->class_, duration_ns, at_teardown);
}

/* ---- the trampoline's clock ----
 * Two reads per finalizer. uv_hrtime (clock_gettime) costs ~24 ns a read here;
 * the invariant TSC of x86-64 ~10 ns, so it is used where the CPU says it is
 * invariant, scaled by a factor (32.32 fixed point) measured against uv_hrtime
 * over the first 50 ms (until then, and elsewhere, uv_hrtime). */
#ifdef FIN_TSC
static uint64_t cal_tick, cal_ns;
static bool cal_started; /* atomic, after cal_tick and cal_ns */
#endif

#ifdef FIN_TSC
static void clock_start_calibration(void) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
      __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8))) {
    cal_tick = __rdtsc();
    cal_ns = uv_hrtime();
    STR(cal_started, true);
  }
}
#endif

void nmw_core_fin_clock_init(void) {
#ifdef FIN_TSC
  static uv_once_t clock_once = UV_ONCE_INIT;
  uv_once(&clock_once, clock_start_calibration);
#endif
}

typedef struct fin_clock {
  uint64_t start;
  uint64_t mult; /* tick_mult when started in ticks, else 0 */
} fin_clock_t;

static inline fin_clock_t clock_start(void) {
#ifdef FIN_TSC
  uint64_t mult = LD(tick_mult);
  if (NMW_LIKELY(mult != 0)) return (fin_clock_t){__rdtsc(), mult};
#endif
  return (fin_clock_t){uv_hrtime(), 0};
}

static inline uint64_t clock_elapsed(fin_clock_t c) {
#ifdef FIN_TSC
  if (NMW_LIKELY(c.mult != 0))
    return (uint64_t)(((unsigned __int128)(__rdtsc() - c.start) * c.mult) >> 32);
#endif
  uint64_t now = uv_hrtime();
#ifdef FIN_TSC
  if (LDA(cal_started) && now - cal_ns > 50000000u) {
    double ns_per_tick = (double)(now - cal_ns) / (double)(__rdtsc() - cal_tick);
    uint64_t mult = (uint64_t)(ns_per_tick * 4294967296.0 + 0.5);
    ST(tick_mult, mult ? mult : 1);
  }
#endif
  return now - c.start;
}

/* What runs on this thread inside nmw_core_fin_trampoline. */
static _Thread_local struct {
  int depth;
  const void *ref;
} running __attribute__((tls_model("initial-exec")));

int nmw_core_fin_running(void) { return running.depth; }
const void *nmw_core_fin_running_ref(void) { return running.ref; }

/* Calls the author's finalizer, timed: its duration. */
static inline uint64_t run_timed(nmw_finalize_fn cb, void *env, void *data, void *hint,
                                 const void *ref) {
  fin_clock_t clock = clock_start();
  if (NMW_LIKELY(cb != NULL)) {
    const void *outer = running.ref;
    running.depth++;
    running.ref = ref;
    cb(env, data, hint);
    running.ref = outer;
    running.depth--;
  }
  return clock_elapsed(clock);
}

/* Node frees external (array) buffers still alive at teardown from its
 * "cleanable" queue, which runs before every env cleanup hook, so before the
 * owner is torn down; from a GC their finalizers are deferred to an immediate.
 * Either way never inside the GC, so stopping may ask Node. */
static inline bool ask_stopping(uint8_t kind, void *env, nmw_fin_stopping_fn stopping) {
  return (kind == NMW_FIN_EXTERNAL_BUFFER || kind == NMW_FIN_EXTERNAL_ARRAYBUFFER) && stopping &&
         stopping(env);
}

static NMW_NOINLINE int trampoline_slow(void *env, void *data, nmw_fin_id_t id,
                                        nmw_fin_stopping_fn stopping) {
  nmw_fin_call_t call;
  int rc = nmw_core_fin_begin(id, &call);
  if (rc != NMW_OK) return rc;
  bool at_teardown = call.at_teardown || ask_stopping((uint8_t)call.kind, env, stopping);
  uint64_t ns = run_timed(call.cb, env, data, call.hint, call.ref);
  nmw_core_fin_end_call(&call, ns, at_teardown);
  return NMW_OK;
}

#if UINTPTR_MAX > 0xffffffffu
_Static_assert(ID_INDEX_BITS == 32 && GS(1, 0) == 1u << 6 && (GEN_MASK << 6 | 0x3f) < (1u << 26),
               "the trampoline reads the generation from bits 32.. of an id");
#endif

int nmw_core_fin_trampoline(void *env, void *data, nmw_fin_id_t id, nmw_fin_stopping_fn stopping) {
#if UINTPTR_MAX > 0xffffffffu
  uint32_t index = ID_INDEX(id), off = index & (CHUNK - 1);
  if (NMW_LIKELY((index >> CHUNK_BITS) < LDA(ndir))) {
    const dir_entry_t *d = &top.dir[index >> CHUNK_BITS];
    chunk_t *c = d->chunk;
    pool_t *p = d->pool;
    uint32_t gs = LDA(c->gs[off]);
    uint32_t ci = HINT_CLS(id);
    /* The common case: a live record of this thread, its class in the hint, its
     * owner live and not exiting, not an external (array) buffer. The state
     * word's generation and state, from the id's bits 32.. shifted into place. */
    if (NMW_LIKELY((gs & ~F_ALL) == ((((uint32_t)(id >> 26)) & (GEN_MASK << 6)) | S_LIVE) &&
                   p == tls_pool && ci != 0 && ci <= p->ncls)) {
      const fclass_t *k = class_at(p, ci - 1);
      const nmw_owner_slot_t *o = k->oslot;
      if (NMW_LIKELY(k->common &&
                     atomic_load_explicit(&o->id, memory_order_acquire) == k->owner &&
                     atomic_load_explicit(&o->state, memory_order_acquire) == NMW_OWNER_LIVE &&
                     !LD(k->rowp->exiting))) {
        uint32_t running_gs = (gs & ~3u) | S_RUN_GC;
        ST(c->gs[off], running_gs);
        const void *ref = NMW_UNLIKELY(gs & F_HASREF) ? c->refs[off] : NULL;
        /* What end_own touches, fetched while the finalizer runs: the row's
         * counters and the histogram's usual buckets, the bitmap word. */
        const row_t *r = k->rowp;
        __builtin_prefetch(&r->hist[4], 1); /* 8 .. 64 ns */
        __builtin_prefetch(&r->hist[8], 1); /* 64 ns .. 8 us */
        __builtin_prefetch(&c->free_bits[off / 64], 1);
        uint64_t ns = run_timed(k->cb, env, data, k->hint, ref);
        /* Running: its flags cannot change (only live records are indexed). */
        end_own(p, c, off, running_gs, k, ns, false);
        return NMW_OK;
      }
    }
  }
#endif
  return trampoline_slow(env, data, id, stopping);
}

/* ---- reading (any thread, under lock) ---- */

/* A consistent copy of a row; false for an unused one. */
static bool row_copy(const row_t *r, nmw_owner_t *owner, nmw_tag_t *tag, nmw_fin_stats_t *s) {
  for (unsigned tries = 0;; tries++) {
    uint32_t seq = LDA(r->seq);
    if (seq & 1u) {
      if (tries > 64) sched_yield();
      continue;
    }
    bool used = LDA(r->used) != 0;
    *owner = LDA(r->owner);
    *tag = LDA(r->tag);
    memset(s, 0, sizeof *s);
    s->registered = LDA(r->registered);
    s->finalized_gc = LDA(r->finalized_gc);
    s->finalized_teardown = LDA(r->finalized_teardown);
    s->cancelled = LDA(r->cancelled);
    s->live = LDA(r->live);
    for (int b = 0; b < NMW_FIN_HIST_BUCKETS; b++) s->hist[b] = LDA(r->hist[b]);
    s->max_ns = LDA(r->max_ns);
    s->total_ns = LDA(r->total_ns);
    if (LD(r->seq) == seq) return used;
  }
}

/* A live record as a reader sees it. */
typedef struct view {
  uint32_t gs;
  nmw_owner_t owner;
  nmw_tag_t tag;
  nmw_fin_kind_t kind;
  nmw_site_t *site;
  uint64_t registered_ns;
} view_t;

static bool view_live(const chunk_t *c, uint32_t off, view_t *v) {
  v->gs = LDA(c->gs[off]);
  if (GS_STATE(v->gs) != S_LIVE) return false;
  const fclass_t *k = class_at_ro(c->pool, LDA(c->cls[off]));
  if (!k) return false;
  v->owner = LDA(k->owner);
  v->tag = LDA(k->tag);
  v->kind = (nmw_fin_kind_t)LDA(k->kind);
  v->site = LDA(k->site);
  v->registered_ns = LDA(c->cold[off].registered_ns);
  /* Unchanged meanwhile: the copy is of this record (its generation would have moved). */
  return GS_BARE(LD(c->gs[off])) == GS_BARE(v->gs) && owner_current(v->owner);
}

static bool selected(nmw_owner_t of, nmw_owner_t owner, bool all) { return all || of == owner; }

static void stats_add(nmw_fin_stats_t *to, const nmw_fin_stats_t *from) {
  to->registered += from->registered;
  to->finalized_gc += from->finalized_gc;
  to->finalized_teardown += from->finalized_teardown;
  to->cancelled += from->cancelled;
  to->live += from->live;
  to->never_run += from->never_run;
  for (int b = 0; b < NMW_FIN_HIST_BUCKETS; b++) to->hist[b] += from->hist[b];
  to->total_ns += from->total_ns;
  if (from->max_ns > to->max_ns) to->max_ns = from->max_ns;
  if (from->oldest_ns != 0 && (to->oldest_ns == 0 || from->oldest_ns < to->oldest_ns))
    to->oldest_ns = from->oldest_ns;
}

/* Calls fn for each current row of owner (all: of every owner). */
typedef void (*row_fn)(void *ctx, nmw_owner_t owner, nmw_tag_t tag, const nmw_fin_stats_t *s);

static void each_row_locked(nmw_owner_t owner, bool all, row_fn fn, void *ctx) {
  bool final = atomic_load(&exit_final);
  for (pool_t *p = all_pools; p; p = p->next_all) {
    uint32_t n = LDA(p->nrows);
    for (uint32_t i = 0; i < n; i++) {
      nmw_owner_t o;
      nmw_tag_t tag;
      nmw_fin_stats_t s;
      if (!row_copy(row_at(p, i), &o, &tag, &s) || !selected(o, owner, all) ||
          !owner_current(o))
        continue;
      /* Once the process is exiting for good, what is live never ran. */
      if (final) {
        s.never_run = s.live;
        s.live = 0;
      }
      fn(ctx, o, tag, &s);
    }
  }
}

typedef struct tag_ctx {
  uint16_t *row_of; /* row index + 1 */
  nmw_fin_tag_stats_t *rows;
  size_t cap, n;
  nmw_fin_stats_t *total;
} tag_ctx_t;

static void add_tag_row(void *ctx_, nmw_owner_t owner, nmw_tag_t tag, const nmw_fin_stats_t *s) {
  (void)owner;
  tag_ctx_t *ctx = ctx_;
  if (ctx->total) stats_add(ctx->total, s);
  size_t row = ctx->n;
  if (ctx->row_of[tag]) {
    row = ctx->row_of[tag] - 1u;
  } else {
    ctx->row_of[tag] = (uint16_t)(ctx->n + 1);
    ctx->n++;
    if (row < ctx->cap) {
      ctx->rows[row].tag = tag;
      memset(&ctx->rows[row].s, 0, sizeof ctx->rows[row].s);
    }
  }
  if (row < ctx->cap) stats_add(&ctx->rows[row].s, s);
}

size_t nmw_core_fin_tag_stats(nmw_owner_t owner, bool all, nmw_fin_tag_stats_t *rows, size_t cap,
                              nmw_fin_stats_t *total) {
  INIT();
  if (total) memset(total, 0, sizeof *total);
  tag_ctx_t ctx = {calloc(NMW_TAG_MAX, sizeof(uint16_t)), rows, cap, 0, total};
  if (!ctx.row_of) return 0;
  uv_mutex_lock(&lock);
  each_row_locked(owner, all, add_tag_row, &ctx);
  /* The oldest live record of each tag: one pass over the chunks. */
  if (ctx.n > 0) {
    uint32_t nd = LDA(ndir);
    for (uint32_t ci = 0; ci < nd; ci++) {
      const chunk_t *c = top.dir[ci].chunk;
      for (uint32_t off = 0; off < CHUNK; off++) {
        view_t v;
        if (!view_live(c, off, &v) || !selected(v.owner, owner, all) || !ctx.row_of[v.tag])
          continue;
        size_t row = ctx.row_of[v.tag] - 1u;
        if (row < cap && (rows[row].s.oldest_ns == 0 || v.registered_ns < rows[row].s.oldest_ns))
          rows[row].s.oldest_ns = v.registered_ns;
        if (total && (total->oldest_ns == 0 || v.registered_ns < total->oldest_ns))
          total->oldest_ns = v.registered_ns;
      }
    }
  }
  uv_mutex_unlock(&lock);
  free(ctx.row_of);
  return ctx.n;
}

static void add_total(void *ctx, nmw_owner_t owner, nmw_tag_t tag, const nmw_fin_stats_t *s) {
  (void)owner;
  (void)tag;
  stats_add(ctx, s);
}

void nmw_core_fin_totals(nmw_owner_t owner, nmw_fin_stats_t *out) {
  INIT();
  memset(out, 0, sizeof *out);
  uv_mutex_lock(&lock);
  each_row_locked(owner, false, add_total, out);
  out->oldest_ns = 0;
  uv_mutex_unlock(&lock);
}

size_t nmw_core_fin_envs(nmw_fin_env_row_t *rows, size_t cap) {
  INIT();
  size_t n = 0;
  uv_mutex_lock(&lock);
  for (int i = 0; i < NMW_OWNER_MAX; i++) {
    const env_t *e = &envs[i];
    if (!e->used) continue;
    if (n < cap) {
      rows[n].owner = e->id;
      rows[n].state = e->id == 0 ? NMW_OWNER_LIVE : nmw_core_owner_state(e->id);
      rows[n].thread_id = e->thread_id;
    }
    n++;
  }
  uv_mutex_unlock(&lock);
  return n;
}

void nmw_core_fin_set_thread_id(nmw_owner_t owner, int64_t thread_id) {
  INIT();
  uv_mutex_lock(&lock);
  env_claim_locked(owner);
  ST(envs[NMW_OWNER_INDEX(owner)].thread_id, thread_id);
  uv_mutex_unlock(&lock);
}

void nmw_core_fin_mark_exiting(nmw_owner_t owner) {
  INIT();
  uv_mutex_lock(&lock);
  env_claim_locked(owner);
  env_t *e = &envs[NMW_OWNER_INDEX(owner)];
  if (e->used && e->id == owner) {
    __atomic_store_n(&e->exiting, true, __ATOMIC_SEQ_CST);
    /* The owner's rows keep a copy for the trampoline (see row_for). */
    for (pool_t *p = all_pools; p; p = p->next_all) {
      uint32_t n = __atomic_load_n(&p->nrows, __ATOMIC_SEQ_CST);
      for (uint32_t i = 0; i < n; i++) {
        row_t *r = row_at(p, i);
        if (__atomic_load_n(&r->owner, __ATOMIC_SEQ_CST) == owner) STR(r->exiting, (uint8_t)1);
      }
    }
  }
  uv_mutex_unlock(&lock);
}

typedef struct found {
  uint64_t ns;
  uint32_t slot;
  view_t v;
} found_t;

static int by_time(const void *a, const void *b) {
  const found_t *x = a, *y = b;
  /* Times are unique per thread; the slot index settles ties between threads. */
  if (x->ns != y->ns) return x->ns < y->ns ? -1 : 1;
  return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Calls visit for every live record of owner (all: of every owner), under the
 * table's lock, until it returns false. */
typedef bool (*live_visit_fn)(const view_t *v, uint32_t slot, void *ctx);
static void scan_live_locked(nmw_owner_t owner, bool all, live_visit_fn visit, void *ctx) {
  uint32_t nd = LDA(ndir);
  for (uint32_t ci = 0; ci < nd; ci++) {
    const chunk_t *c = top.dir[ci].chunk;
    for (uint32_t off = 0; off < CHUNK; off++) {
      view_t v;
      if (!view_live(c, off, &v) || !selected(v.owner, owner, all)) continue;
      if (!visit(&v, c->base + off, ctx)) return;
    }
  }
}

typedef struct live_list {
  nmw_tag_t tag;
  uint64_t registered_before_ns;
  found_t *list;
  size_t found, room;
} live_list_t;

static bool collect_live(const view_t *v, uint32_t slot, void *ctx) {
  live_list_t *l = ctx;
  if ((l->tag != NMW_ANY_TAG && v->tag != l->tag) || v->registered_ns > l->registered_before_ns)
    return true;
  if (l->found == l->room) {
    size_t more = l->room ? l->room * 2 : 256;
    found_t *grown = realloc(l->list, more * sizeof *grown);
    if (!grown) return false; /* what was found so far is reported */
    l->list = grown;
    l->room = more;
  }
  l->list[l->found++] = (found_t){v->registered_ns, slot, *v};
  return true;
}

size_t nmw_core_fin_live(nmw_owner_t owner, bool all, nmw_tag_t tag, uint64_t registered_before_ns,
                         bool with_stacks, nmw_fin_live_row_t *rows, size_t cap) {
  INIT();
  if (cap == 0) return 0;
  live_list_t l = {tag, registered_before_ns, NULL, 0, 0};
  uv_mutex_lock(&lock);
  scan_live_locked(owner, all, collect_live, &l);
  if (l.found > 1) qsort(l.list, l.found, sizeof *l.list, by_time); /* registration order */
  size_t n = l.found < cap ? l.found : cap;
  for (size_t k = 0; k < n; k++) {
    const view_t *v = &l.list[k].v;
    uint32_t slot = l.list[k].slot;
    nmw_fin_live_row_t *row = &rows[k];
    row->id = MAKE_ID(GS_GEN(v->gs), slot);
    row->owner = v->owner;
    row->kind = v->kind;
    row->tag = v->tag;
    row->file = v->site ? v->site->file : NULL;
    row->func = v->site ? v->site->func : NULL;
    row->line = v->site ? v->site->line : 0;
    row->registered_ns = v->registered_ns;
    row->stack = NULL;
    if (with_stacks && (v->gs & F_STACK)) {
      const chunk_t *c = chunk_at(slot);
      uint32_t off = slot & (CHUNK - 1);
      uv_mutex_lock(&stack_lock);
      /* Still the same record: its stack cannot be freed while the lock is held. */
      const char *stack =
          c->stacks && GS_BARE(LD(c->gs[off])) == GS_BARE(v->gs) ? c->stacks[off] : NULL;
      if (stack) {
        size_t len = strlen(stack) + 1;
        row->stack = malloc(len);
        if (row->stack) memcpy(row->stack, stack, len);
      }
      uv_mutex_unlock(&stack_lock);
    }
  }
  uv_mutex_unlock(&lock);
  free(l.list);
  return n;
}

typedef struct site_groups {
  nmw_fin_site_row_t *rows;
  size_t cap, n, last;
} site_groups_t;

static bool same_group(const nmw_fin_site_row_t *g, const view_t *v, const char *file,
                       const char *func, uint32_t line) {
  return g->owner == v->owner && g->tag == v->tag && g->kind == v->kind && g->line == line &&
         g->file == file && g->func == func;
}

static bool count_site(const view_t *v, uint32_t slot, void *ctx) {
  (void)slot;
  site_groups_t *s = ctx;
  const char *file = v->site ? v->site->file : NULL;
  const char *func = v->site ? v->site->func : NULL;
  uint32_t line = v->site ? v->site->line : 0;
  /* Neighbours usually share a group: try the last one first. */
  size_t g = SIZE_MAX;
  if (s->last < s->n && s->last < s->cap && same_group(&s->rows[s->last], v, file, func, line))
    g = s->last;
  for (size_t j = 0; g == SIZE_MAX && j < s->n && j < s->cap; j++)
    if (same_group(&s->rows[j], v, file, func, line)) g = j;
  if (g == SIZE_MAX) {
    g = s->n++;
    if (g < s->cap)
      s->rows[g] = (nmw_fin_site_row_t){v->owner, v->tag, v->kind, file, func, line, 0,
                                        v->registered_ns};
  }
  if (g < s->cap) {
    s->rows[g].count++;
    if (v->registered_ns < s->rows[g].oldest_ns) s->rows[g].oldest_ns = v->registered_ns;
  }
  s->last = g;
  return true;
}

size_t nmw_core_fin_live_sites(nmw_owner_t owner, bool all, nmw_fin_site_row_t *rows, size_t cap) {
  INIT();
  site_groups_t s = {rows, cap, 0, SIZE_MAX};
  uv_mutex_lock(&lock);
  scan_live_locked(owner, all, count_site, &s);
  uv_mutex_unlock(&lock);
  return s.n;
}

void nmw_core_fin_set_exit(bool final) { atomic_store(&exit_final, final); }

bool nmw_core_fin_exit_final(void) { return atomic_load(&exit_final); }

void nmw_core_fin_global(nmw_fin_global_t *out) {
  INIT();
  memset(out, 0, sizeof *out);
  uv_mutex_lock(&lock);
  uint64_t live = 0, peak = 0, orphans = 0, classes = 0;
  for (pool_t *p = all_pools; p; p = p->next_all) {
    live += (uint64_t)LD(p->live);
    peak += (uint64_t)LD(p->peak);
    classes += LD(p->live_cls);
    /* Orphans: what is live of owners replaced in their environment slot. */
    uint32_t n = LDA(p->nrows);
    for (uint32_t i = 0; i < n; i++) {
      nmw_owner_t o;
      nmw_tag_t tag;
      nmw_fin_stats_t s;
      if (row_copy(row_at(p, i), &o, &tag, &s) && !owner_current(o)) orphans += s.live;
    }
  }
  out->record_bytes = LD(record_bytes);
  out->hash_bytes = LD(index_bytes);
  out->env_bytes = LD(env_bytes);
  out->stack_bytes = atomic_load(&stack_bytes);
  out->total_bytes = out->record_bytes + out->hash_bytes + out->env_bytes + out->stack_bytes;
  out->capacity = (uint64_t)LD(ndir) * CHUNK;
  out->live = live;
  out->peak_live = peak;
  out->orphans = orphans;
  out->register_failed = LD(failed_count);
  out->pools = npools;
  out->classes = classes;
  uv_mutex_unlock(&lock);
}

bool nmw_core_note_double_reported(const void *ptr, nmw_site_t *site) {
  nmw_tag_t tag;
  if (!nmw__block_external(ptr, &tag)) return false;
  char detail[128];
  snprintf(detail, sizeof detail,
           "block %p of external tag \"%s\" handed to V8 as an external buffer (counted twice)",
           ptr, nmw_core_tag_name(tag));
  nmw__misuse(NMW_MISUSE_DOUBLE_REPORTED, site, detail);
  return true;
}
