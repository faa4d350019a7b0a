/*
 * finalizers.c: the finalizer audit's record table and counters.
 *
 * Every finalizer registered through the header's twins gets a record: a
 * 64-byte slot (one cache line) in a process-wide table of 4096-record chunks.
 * A record's id packs the slot index with the slot's generation, which changes
 * each time the slot is released; the addon passes the id as the finalize_hint
 * of its trampoline, so a trampoline call with a stale id is a finalizer that
 * ran twice. The table grows to the peak number of live records and is then
 * reused: memory follows the peak, not the number ever registered.
 *
 * Counters live per environment (owner slot) and per tag, in small entries
 * allocated on first use. Whatever is about individual live records (the
 * oldest one's age, listings, the exit report's per-site groups) is found by
 * scanning the table when asked: those are diagnostics, and keeping them
 * incrementally (linked lists) cost two cache misses per finalization.
 *
 * The hot path is registration and finalization, on JS threads. It takes the
 * one mutex once per registration and twice per finalization (about 7 ns each,
 * uncontended) and avoids what costs more:
 *  - the registration time comes from a coarse clock (a scheduler tick, ~5 ns),
 *    made strictly increasing so it also orders registrations;
 *  - free slots are taken lowest index first (a bitmap): Node drains finalizers
 *    in hash order, so a stack of freed slots would hand out cold, scattered
 *    lines, while lowest-first makes the next churn write the table in order;
 *  - cancellation indexes are built lazily: a process that never calls the
 *    remove_wrap twin, or deletes a reference other than from the finalizer
 *    that owns it, never pays for them (the first such call indexes what is
 *    live). They are open-addressing tables of slot indices.
 * The author's finalizer runs between begin and end with the lock released, so
 * it may register or cancel other records.
 */
#include "internal.h"

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
#define ID_GEN(id) ((uint32_t)((id) >> ID_INDEX_BITS))

/* ---- the table ---- */
#define CHUNK_BITS 12
#define CHUNK (1u << CHUNK_BITS)
#define CHUNKS_MAX 16384 /* 64M records; fewer on 32-bit targets (index bits) */
#define NONE UINT32_MAX
#define NO_ENTRY UINT16_MAX /* an orphan: its environment's slot was reused */

enum { REC_FREE = 0, REC_LIVE, REC_RUNNING };
enum { IN_KEY = 1, IN_REF = 2 };

typedef struct rec {
  uint32_t gen;    /* generation of the current (or last) record in this slot, 1.. */
  uint8_t state;   /* REC_* */
  uint8_t kind;    /* nmw_fin_kind_t */
  uint8_t hashed;  /* IN_KEY | IN_REF: in a lazy index */
  uint8_t outcome; /* while running: 1 GC, 2 teardown */
  nmw_owner_t owner;
  uint16_t tag;   /* < NMW_TAG_MAX */
  uint16_t entry; /* its (owner, tag) entry, NO_ENTRY for an orphan */
  nmw_site_t *site;
  uint64_t registered_ns; /* coarse_now(), strictly increasing */
  nmw_finalize_fn cb;
  void *data, *hint; /* the author's; data is also the key of a wrap */
  const void *ref;   /* napi_ref of a wrap/finalizer; the napi_env of instance data */
} rec_t;

/* gen and state are read without the lock by begin_fast (the trampoline's common
 * case, on the record's own JS thread): every access to them is atomic, relaxed
 * under the lock, so locked readers and the lock-free one never race. */
#define REC_STATE(r) __atomic_load_n(&(r)->state, __ATOMIC_RELAXED)
#define SET_REC_STATE(r, v) __atomic_store_n(&(r)->state, (uint8_t)(v), __ATOMIC_RELEASE)
#define REC_GEN(r) __atomic_load_n(&(r)->gen, __ATOMIC_RELAXED)

#if UINTPTR_MAX > 0xffffffffu
_Static_assert(sizeof(rec_t) == 64, "a record is one cache line");
#endif

/* One (owner, tag): counters. live is kept here; oldest_ns and never_run are derived. */
typedef struct entry {
  nmw_tag_t tag;
  nmw_fin_stats_t s;
} entry_t;

typedef struct env {
  nmw_owner_t id; /* the owner these counters belong to (valid with used) */
  bool used;
  bool exiting; /* nmw_core_fin_mark_exiting */
  int64_t thread_id;
  uint16_t *tag_index; /* NMW_TAG_MAX slots: entry index + 1, 0 none */
  entry_t *entries;
  uint32_t nentries, cap;
} env_t;

/* A lazy index: open addressing (linear probing) of slot indices. */
typedef struct index {
  uint32_t *slots; /* NONE: empty */
  uint32_t cap;    /* power of two */
  uint32_t count;
  bool on;
} index_t;

static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t lock;
static rec_t *chunks[CHUNKS_MAX];
static uint32_t nchunks;
static uint32_t high;                                /* slots ever handed out */
static uint64_t *free_bits;                          /* bit set: slot free (below high) */
static uint32_t free_words, free_count, free_cursor; /* no free bit below word free_cursor */
static char **stacks;                                /* per slot, allocated with the first stack */
static uint32_t stacks_cap;
static uint64_t last_registered_ns;
static uint64_t live_records, peak_live, orphans, register_failed;
static env_t envs[NMW_OWNER_MAX];
static index_t wrap_index, ref_index;
static uint32_t *instance_slots; /* live instance-data records (few): a plain list */
static uint32_t instance_count, instance_cap;
static uint64_t record_bytes, index_bytes, env_bytes;
static _Atomic uint64_t stack_bytes;
static _Atomic bool exit_final;

static const char *const kind_names[NMW_FIN_KIND_COUNT] = {
    "wrap", "finalizer", "external", "external_arraybuffer", "external_buffer", "instance_data",
};

static atomic_bool inited;
static void init_lock(void) {
  uv_mutex_init(&lock);
  atomic_store_explicit(&inited, true, memory_order_release);
}
/* uv_once without its call once initialised (the hot paths use it). */
#define INIT() \
  (atomic_load_explicit(&inited, memory_order_acquire) ? (void)0 : uv_once(&once, init_lock))

const char *nmw_core_fin_kind_name(nmw_fin_kind_t kind) {
  return (unsigned)kind < NMW_FIN_KIND_COUNT ? kind_names[kind] : "unknown";
}

static inline rec_t *rec_at(uint32_t index) {
  return &chunks[index >> CHUNK_BITS][index & (CHUNK - 1)];
}

/* The record an id names while it is live or running, else NULL. */
static rec_t *rec_of(nmw_fin_id_t id) {
  uint32_t index = ID_INDEX(id);
  if (id == 0 || index >= high) return NULL;
  rec_t *r = rec_at(index);
  return (REC_STATE(r) != REC_FREE && REC_GEN(r) == ID_GEN(id)) ? r : NULL;
}

/* Registration times and ages: a coarse clock (a scheduler tick, ~5 ns a read)
 * is enough there; durations use uv_hrtime. */
static uint64_t coarse_now(void) {
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

/* ---- lazy indexes (under lock) ---- */

static inline const void *key_of(const rec_t *r, const index_t *ix) {
  return ix == &wrap_index ? r->data : r->ref;
}

static inline uint32_t hash_ptr(const void *p, nmw_owner_t owner, uint32_t cap) {
  uint64_t h = ((uint64_t)(uintptr_t)p ^ ((uint64_t)owner << 48)) * UINT64_C(0x9E3779B97F4A7C15);
  return (uint32_t)(h >> 32) & (cap - 1);
}

static inline uint32_t home_of(const index_t *ix, uint32_t slot) {
  const rec_t *r = rec_at(slot);
  return hash_ptr(key_of(r, ix), ix == &wrap_index ? r->owner : 0, ix->cap);
}

static void index_put(index_t *ix, uint32_t slot) {
  uint32_t h = home_of(ix, slot);
  while (ix->slots[h] != NONE) h = (h + 1) & (ix->cap - 1);
  ix->slots[h] = slot;
  ix->count++;
  rec_at(slot)->hashed |= (uint8_t)(ix == &wrap_index ? IN_KEY : IN_REF);
}

/* Room for one more at a load of at most one half. */
static bool index_reserve(index_t *ix) {
  if (ix->cap != 0 && (ix->count + 1) * 2 <= ix->cap) return true;
  uint32_t old_cap = ix->cap, *old = ix->slots;
  uint32_t cap = old_cap ? old_cap * 2 : 1024;
  uint32_t *fresh = nmw__meta_calloc(cap, sizeof *fresh);
  if (!fresh) return false;
  memset(fresh, 0xff, (size_t)cap * sizeof *fresh);
  ix->slots = fresh;
  ix->cap = cap;
  ix->count = 0;
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i] != NONE) index_put(ix, old[i]);
  if (old) nmw__meta_free(old, old_cap, sizeof *old);
  index_bytes += (uint64_t)cap * sizeof *fresh - (uint64_t)old_cap * sizeof *fresh;
  return true;
}

/* Removes slot; backward-shift deletion keeps every probe sequence intact. */
static void index_remove(index_t *ix, uint32_t slot) {
  uint8_t bit = (uint8_t)(ix == &wrap_index ? IN_KEY : IN_REF);
  rec_t *r = rec_at(slot);
  if (!(r->hashed & bit)) return;
  r->hashed &= (uint8_t)~bit;
  uint32_t mask = ix->cap - 1, i = home_of(ix, slot);
  while (ix->slots[i] != slot) i = (i + 1) & mask;
  ix->slots[i] = NONE;
  ix->count--;
  for (uint32_t j = (i + 1) & mask; ix->slots[j] != NONE; j = (j + 1) & mask) {
    uint32_t k = home_of(ix, ix->slots[j]);
    /* Move the entry at j into the hole at i unless its home lies in (i, j]. */
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    ix->slots[i] = ix->slots[j];
    ix->slots[j] = NONE;
    i = j;
  }
}

/* Turns a lazy index on: indexes what is live; registrations follow. */
static bool index_on(index_t *ix) {
  if (ix->on) return true;
  for (uint32_t i = 0; i < high; i++) {
    const rec_t *r = rec_at(i);
    if (REC_STATE(r) != REC_LIVE) continue;
    if (ix == &wrap_index ? r->kind != NMW_FIN_WRAP
                          : r->ref == NULL || r->kind == NMW_FIN_INSTANCE_DATA)
      continue;
    if (!index_reserve(ix)) return false;
    index_put(ix, i);
  }
  __atomic_store_n(&ix->on, true, __ATOMIC_RELEASE);
  return true;
}

/* ---- environments (under lock) ---- */

/* The counters of owner, reset when the slot now belongs to a newer owner. */
static env_t *env_for(nmw_owner_t owner) {
  env_t *e = &envs[NMW_OWNER_INDEX(owner)];
  if (e->used && e->id == owner) return e;
  if (e->used) {
    /* A later environment took the slot: what the old one left live is orphaned. */
    for (uint32_t i = 0; i < high; i++) {
      rec_t *r = rec_at(i);
      if (REC_STATE(r) != REC_FREE && r->owner == e->id && r->entry != NO_ENTRY) {
        r->entry = NO_ENTRY;
        orphans++;
      }
    }
    if (e->tag_index) memset(e->tag_index, 0, NMW_TAG_MAX * sizeof *e->tag_index);
    e->nentries = 0;
  }
  e->used = true;
  e->id = owner;
  e->thread_id = -1;
  __atomic_store_n(&e->exiting, false, __ATOMIC_RELAXED);
  return e;
}

static entry_t *entry_for(env_t *e, nmw_tag_t tag, uint16_t *out_index) {
  if (!e->tag_index) {
    e->tag_index = nmw__meta_calloc(NMW_TAG_MAX, sizeof *e->tag_index);
    if (!e->tag_index) return NULL;
    env_bytes += NMW_TAG_MAX * sizeof *e->tag_index;
  }
  uint16_t at = e->tag_index[tag];
  if (at != 0) {
    *out_index = (uint16_t)(at - 1u);
    return &e->entries[at - 1u];
  }
  if (e->nentries == e->cap) {
    uint32_t cap = e->cap ? e->cap * 2 : 8;
    entry_t *grown = nmw__meta_calloc(cap, sizeof *grown);
    if (!grown) return NULL;
    if (e->entries) {
      memcpy(grown, e->entries, (size_t)e->nentries * sizeof *grown);
      nmw__meta_free(e->entries, e->cap, sizeof *e->entries);
      env_bytes -= (uint64_t)e->cap * sizeof *e->entries;
    }
    e->entries = grown;
    e->cap = cap;
    env_bytes += (uint64_t)cap * sizeof *grown;
  }
  uint32_t k = e->nentries++;
  entry_t *en = &e->entries[k];
  memset(en, 0, sizeof *en);
  en->tag = tag;
  e->tag_index[tag] = (uint16_t)(k + 1);
  *out_index = (uint16_t)k;
  return en;
}

static entry_t *entry_of(const rec_t *r) {
  if (r->entry == NO_ENTRY) return NULL;
  env_t *e = &envs[NMW_OWNER_INDEX(r->owner)];
  if (!e->used || e->id != r->owner || r->entry >= e->nentries) return NULL;
  return &e->entries[r->entry];
}

/* ---- slots (under lock) ---- */

static bool grow_table(void) {
  uint64_t limit = (uint64_t)CHUNKS_MAX * CHUNK;
  if (limit > (UINT64_C(1) << ID_INDEX_BITS)) limit = UINT64_C(1) << ID_INDEX_BITS;
  if ((uint64_t)(nchunks + 1) * CHUNK > limit) return false;
  uint32_t words = (nchunks + 1) * (CHUNK / 64);
  uint64_t *bits = nmw__meta_calloc(words, sizeof *bits);
  rec_t *chunk = bits ? nmw__meta_calloc(CHUNK, sizeof(rec_t)) : NULL;
  if (!chunk) {
    nmw__meta_free(bits, words, sizeof *bits);
    return false;
  }
  if (free_bits) {
    memcpy(bits, free_bits, (size_t)free_words * sizeof *bits);
    nmw__meta_free(free_bits, free_words, sizeof *free_bits);
    record_bytes -= (uint64_t)free_words * sizeof *free_bits;
  }
  free_bits = bits;
  free_words = words;
  chunks[nchunks++] = chunk;
  record_bytes += (uint64_t)CHUNK * sizeof(rec_t) + (uint64_t)words * sizeof *bits;
  return true;
}

/* The lowest free slot, else a new one. */
static bool slot_take(uint32_t *out) {
  if (free_count > 0) {
    uint32_t w = free_cursor;
    while (free_bits[w] == 0) w++;
    free_cursor = w;
    unsigned bit = (unsigned)__builtin_ctzll(free_bits[w]);
    free_bits[w] &= free_bits[w] - 1;
    free_count--;
    *out = w * 64 + bit;
    return true;
  }
  if (high == nchunks * CHUNK && !grow_table()) return false;
  __atomic_store_n(&rec_at(high)->gen, 1, __ATOMIC_RELAXED);
  *out = high;
  /* Published after the chunk pointer, for begin_fast's lock-free read. */
  __atomic_store_n(&high, high + 1, __ATOMIC_RELEASE);
  return true;
}

static void stack_set(uint32_t index, char *stack) {
  if (stack == NULL && (stacks == NULL || index >= stacks_cap)) return;
  if (index >= stacks_cap) {
    uint32_t cap = nchunks * CHUNK;
    char **grown = nmw__meta_calloc(cap, sizeof *grown);
    if (!grown) {
      free_stack(stack);
      return;
    }
    if (stacks) {
      memcpy(grown, stacks, (size_t)stacks_cap * sizeof *grown);
      nmw__meta_free(stacks, stacks_cap, sizeof *stacks);
      record_bytes -= (uint64_t)stacks_cap * sizeof *stacks;
    }
    stacks = grown;
    stacks_cap = cap;
    record_bytes += (uint64_t)cap * sizeof *grown;
  }
  stacks[index] = stack;
}

static char *stack_of(uint32_t index) { return index < stacks_cap ? stacks[index] : NULL; }

static void instance_remove(uint32_t index) {
  for (uint32_t i = 0; i < instance_count; i++)
    if (instance_slots[i] == index) {
      instance_slots[i] = instance_slots[--instance_count];
      return;
    }
}

/* Releases a record's slot: out of the indexes, generation moved on. The site,
 * tag, kind and owner stay until the slot is reused (for late reports). */
static void slot_release(uint32_t index, rec_t *r) {
  if (r->hashed & IN_KEY) index_remove(&wrap_index, index);
  if (r->hashed & IN_REF) index_remove(&ref_index, index);
  if (r->kind == NMW_FIN_INSTANCE_DATA) instance_remove(index);
  if (r->entry == NO_ENTRY && orphans > 0) orphans--;
  char *stack = stack_of(index);
  if (stack) {
    stacks[index] = NULL;
    free_stack(stack); /* rare (captureStacks): free() under the lock is fine */
  }
  SET_REC_STATE(r, REC_FREE);
  __atomic_store_n(&r->gen, (REC_GEN(r) % GEN_MASK) + 1, __ATOMIC_RELEASE);
  r->cb = NULL;
  r->ref = NULL;
  free_bits[index / 64] |= UINT64_C(1) << (index % 64);
  if (index / 64 < free_cursor) free_cursor = index / 64;
  free_count++;
  live_records--;
}

/* ---- registration ---- */

int nmw_core_fin_register(const nmw_fin_reg_t *reg, nmw_fin_id_t *out) {
  account_stack(reg->stack, true); /* the table owns it from here, on every path */
  if ((unsigned)reg->kind >= NMW_FIN_KIND_COUNT) {
    free_stack(reg->stack);
    return NMW_EINVAL;
  }
  nmw_tag_t tag = reg->tag < nmw_core_tag_count() ? reg->tag : NMW_UNTAGGED;
  uint64_t now = coarse_now();
  INIT();
  uv_mutex_lock(&lock);
  uint32_t index;
  uint16_t k;
  env_t *e = env_for(reg->owner);
  entry_t *en = entry_for(e, tag, &k);
  bool instance = reg->kind == NMW_FIN_INSTANCE_DATA;
  bool keyed = reg->kind == NMW_FIN_WRAP && wrap_index.on;
  int rc = NMW_OK;
  if (!en || (keyed && !index_reserve(&wrap_index)))
    rc = NMW_ENOMEM;
  else if (instance && instance_count == instance_cap) {
    uint32_t cap = instance_cap ? instance_cap * 2 : 16;
    uint32_t *grown = nmw__meta_calloc(cap, sizeof *grown);
    if (!grown) {
      rc = NMW_ENOMEM;
    } else {
      if (instance_slots) {
        memcpy(grown, instance_slots, (size_t)instance_count * sizeof *grown);
        nmw__meta_free(instance_slots, instance_cap, sizeof *instance_slots);
        env_bytes -= (uint64_t)instance_cap * sizeof *grown;
      }
      instance_slots = grown;
      instance_cap = cap;
      env_bytes += (uint64_t)cap * sizeof *grown;
    }
  }
  if (rc == NMW_OK && !slot_take(&index))
    rc = (uint64_t)nchunks * CHUNK >= (uint64_t)CHUNKS_MAX * CHUNK ? NMW_ENOSPC : NMW_ENOMEM;
  if (rc != NMW_OK) {
    register_failed++;
    uv_mutex_unlock(&lock);
    free_stack(reg->stack);
    return rc;
  }
  /* Strictly increasing: the time also orders registrations. */
  if (now <= last_registered_ns) now = last_registered_ns + 1;
  last_registered_ns = now;
  rec_t *r = rec_at(index);
  SET_REC_STATE(r, REC_LIVE);
  r->kind = (uint8_t)reg->kind;
  r->hashed = 0;
  r->outcome = 0;
  r->owner = reg->owner;
  r->tag = (uint16_t)tag;
  r->entry = k;
  r->site = reg->site;
  r->registered_ns = now;
  r->cb = reg->cb;
  r->data = reg->data;
  r->hint = reg->hint;
  r->ref = instance ? reg->key : NULL;
  if (reg->stack) stack_set(index, reg->stack);
  if (keyed) index_put(&wrap_index, index);
  if (instance) instance_slots[instance_count++] = index;
  en->s.registered++;
  en->s.live++;
  if (++live_records > peak_live) peak_live = live_records;
  *out = MAKE_ID(REC_GEN(r), index);
  uv_mutex_unlock(&lock);
  return NMW_OK;
}

void nmw_core_fin_unregister(nmw_fin_id_t id) {
  INIT();
  uv_mutex_lock(&lock);
  rec_t *r = rec_of(id);
  if (r && REC_STATE(r) == REC_LIVE) {
    entry_t *en = entry_of(r);
    if (en) {
      en->s.registered--;
      en->s.live--;
    }
    slot_release(ID_INDEX(id), r);
  }
  uv_mutex_unlock(&lock);
}

void nmw_core_fin_set_ref(nmw_fin_id_t id, const void *ref) {
  if (ref == NULL) return;
  INIT();
  uv_mutex_lock(&lock);
  rec_t *r = rec_of(id);
  if (r && REC_STATE(r) == REC_LIVE && r->ref == NULL && r->kind != NMW_FIN_INSTANCE_DATA) {
    r->ref = ref;
    if (ref_index.on && index_reserve(&ref_index)) index_put(&ref_index, ID_INDEX(id));
  }
  uv_mutex_unlock(&lock);
}

/* ---- cancellation ---- */

static void cancel_locked(uint32_t index, rec_t *r) {
  entry_t *en = entry_of(r);
  if (en) {
    en->s.cancelled++;
    en->s.live--;
  }
  slot_release(index, r);
}

/* The live record of owner with kind and key (preferring tag), or NONE. */
static uint32_t find_key_locked(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key,
                                nmw_tag_t tag) {
  uint32_t found = NONE;
  if (kind == NMW_FIN_INSTANCE_DATA) {
    for (uint32_t i = 0; i < instance_count; i++) {
      const rec_t *r = rec_at(instance_slots[i]);
      if (r->ref == key && r->owner == owner && REC_STATE(r) == REC_LIVE) return instance_slots[i];
    }
    return NONE;
  }
  if (kind != NMW_FIN_WRAP || !index_on(&wrap_index) || wrap_index.cap == 0) return NONE;
  uint32_t mask = wrap_index.cap - 1;
  for (uint32_t h = hash_ptr(key, owner, wrap_index.cap); wrap_index.slots[h] != NONE;
       h = (h + 1) & mask) {
    const rec_t *r = rec_at(wrap_index.slots[h]);
    if (r->data != key || r->owner != owner || r->kind != NMW_FIN_WRAP || REC_STATE(r) != REC_LIVE)
      continue;
    if (tag == NMW_ANY_TAG || r->tag == tag) return wrap_index.slots[h];
    if (found == NONE) found = wrap_index.slots[h];
  }
  return found;
}

bool nmw_core_fin_cancel_key(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key,
                             nmw_tag_t tag) {
  INIT();
  uv_mutex_lock(&lock);
  uint32_t i = find_key_locked(owner, kind, key, tag);
  if (i != NONE) cancel_locked(i, rec_at(i));
  uv_mutex_unlock(&lock);
  return i != NONE;
}

nmw_fin_id_t nmw_core_fin_find_key(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key) {
  INIT();
  uv_mutex_lock(&lock);
  uint32_t i = find_key_locked(owner, kind, key, NMW_ANY_TAG);
  nmw_fin_id_t id = i != NONE ? MAKE_ID(REC_GEN(rec_at(i)), i) : 0;
  uv_mutex_unlock(&lock);
  return id;
}

static uint32_t find_ref_locked(const void *ref) {
  if (ref == NULL || !index_on(&ref_index) || ref_index.cap == 0) return NONE;
  uint32_t mask = ref_index.cap - 1;
  for (uint32_t h = hash_ptr(ref, 0, ref_index.cap); ref_index.slots[h] != NONE;
       h = (h + 1) & mask) {
    const rec_t *r = rec_at(ref_index.slots[h]);
    if (r->ref == ref && REC_STATE(r) == REC_LIVE) return ref_index.slots[h];
  }
  return NONE;
}

bool nmw_core_fin_cancel_ref(const void *ref) {
  INIT();
  uv_mutex_lock(&lock);
  uint32_t i = find_ref_locked(ref);
  if (i != NONE) cancel_locked(i, rec_at(i));
  uv_mutex_unlock(&lock);
  return i != NONE;
}

nmw_fin_id_t nmw_core_fin_find_ref(const void *ref) {
  INIT();
  uv_mutex_lock(&lock);
  uint32_t i = find_ref_locked(ref);
  nmw_fin_id_t id = i != NONE ? MAKE_ID(REC_GEN(rec_at(i)), i) : 0;
  uv_mutex_unlock(&lock);
  return id;
}

bool nmw_core_fin_cancel(nmw_fin_id_t id) {
  INIT();
  uv_mutex_lock(&lock);
  rec_t *r = rec_of(id);
  bool live = r && REC_STATE(r) == REC_LIVE;
  if (live) cancel_locked(ID_INDEX(id), r);
  uv_mutex_unlock(&lock);
  return live;
}

/* ---- the trampoline ---- */

static unsigned hist_bucket(uint64_t ns) {
  if (ns <= 1) return 0;
#if defined(__GNUC__) || defined(__clang__)
  unsigned b = 64u - (unsigned)__builtin_clzll(ns - 1);
#else
  unsigned b = 0;
  for (uint64_t v = ns - 1; v != 0; v >>= 1) b++;
#endif
  return b < NMW_FIN_HIST_BUCKETS - 1 ? b : NMW_FIN_HIST_BUCKETS - 1;
}

/* The common case without the lock: no index is on (so nothing to unlink) and
 * the record is live. Only its environment's thread (this one) changes a live
 * record; other threads only read it, or take its slot once it is free, hence
 * the atomic accesses to gen and state. An index turned on meanwhile may list
 * the record: end() unlinks it under the lock. Returns false to take the
 * locked path (stale id, index on, owner not live, other compilers). */
static bool begin_fast(nmw_fin_id_t id, nmw_fin_call_t *out) {
#if defined(__GNUC__) || defined(__clang__)
  uint32_t index = ID_INDEX(id);
  if (__atomic_load_n(&wrap_index.on, __ATOMIC_RELAXED) ||
      __atomic_load_n(&ref_index.on, __ATOMIC_RELAXED) || id == 0 ||
      index >= __atomic_load_n(&high, __ATOMIC_ACQUIRE))
    return false;
  rec_t *r = rec_at(index);
  if (__atomic_load_n(&r->gen, __ATOMIC_ACQUIRE) != ID_GEN(id) ||
      __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != REC_LIVE || r->entry == NO_ENTRY)
    return false;
  nmw_owner_state_t state = r->owner == 0 ? NMW_OWNER_LIVE : nmw_core_owner_state(r->owner);
  if (state == NMW_OWNER_FREE) return false; /* the locked path reports it */
  bool exiting = __atomic_load_n(&envs[NMW_OWNER_INDEX(r->owner)].exiting, __ATOMIC_RELAXED);
  r->outcome = state == NMW_OWNER_LIVE && !exiting ? 1 : 2;
  __atomic_store_n(&r->state, (uint8_t)REC_RUNNING, __ATOMIC_RELEASE);
  out->cb = r->cb;
  out->data = r->data;
  out->hint = r->hint;
  out->kind = (nmw_fin_kind_t)r->kind;
  out->at_teardown = r->outcome == 2;
  out->ref = r->kind == NMW_FIN_INSTANCE_DATA ? NULL : r->ref;
  return true;
#else
  (void)id;
  (void)out;
  return false;
#endif
}

int nmw_core_fin_begin(nmw_fin_id_t id, nmw_fin_call_t *out) {
  INIT();
  if (begin_fast(id, out)) return NMW_OK;
  uv_mutex_lock(&lock);
  rec_t *r = rec_of(id);
  if (!r || REC_STATE(r) != REC_LIVE) {
    /* Ran already (or running: called again from inside its own finalizer). When the slot has not
     * been reused since, its site is known. */
    nmw_site_t *site = NULL;
    uint32_t index = ID_INDEX(id);
    if (r == NULL && id != 0 && index < high) {
      rec_t *old = rec_at(index);
      if (REC_STATE(old) == REC_FREE && REC_GEN(old) == (ID_GEN(id) % GEN_MASK) + 1) site = old->site;
    } else if (r) {
      site = r->site; /* running: called again from inside its own finalizer */
    }
    uv_mutex_unlock(&lock);
    char detail[96];
    snprintf(detail, sizeof detail, "the finalizer of record %llu ran again",
             (unsigned long long)id);
    nmw__misuse(NMW_MISUSE_DOUBLE_FINALIZE, site, detail);
    return NMW_ENOENT;
  }
  nmw_owner_state_t state = r->owner == 0 ? NMW_OWNER_LIVE : nmw_core_owner_state(r->owner);
  bool gone = state == NMW_OWNER_FREE || r->entry == NO_ENTRY;
  bool teardown = state != NMW_OWNER_LIVE ||
                  (!gone && __atomic_load_n(&envs[NMW_OWNER_INDEX(r->owner)].exiting, __ATOMIC_RELAXED));
  SET_REC_STATE(r, REC_RUNNING);
  r->outcome = teardown ? 2 : 1;
  /* No longer cancellable: the author's finalizer may delete its own reference. */
  if (r->hashed & IN_KEY) index_remove(&wrap_index, ID_INDEX(id));
  if (r->hashed & IN_REF) index_remove(&ref_index, ID_INDEX(id));
  out->cb = r->cb;
  out->data = r->data;
  out->hint = r->hint;
  out->kind = (nmw_fin_kind_t)r->kind;
  out->at_teardown = teardown;
  out->ref = r->kind == NMW_FIN_INSTANCE_DATA ? NULL : r->ref;
  nmw_site_t *site = r->site;
  const char *kind = kind_names[r->kind];
  uv_mutex_unlock(&lock);
  if (gone) {
    char detail[128];
    snprintf(detail, sizeof detail,
             "the %s finalizer of record %llu ran after its environment was gone", kind,
             (unsigned long long)id);
    nmw__misuse(NMW_MISUSE_FINALIZE_AFTER_TEARDOWN, site, detail);
  }
  return NMW_OK;
}

void nmw_core_fin_end(nmw_fin_id_t id, uint64_t duration_ns, bool at_teardown) {
  INIT();
  uv_mutex_lock(&lock);
  rec_t *r = rec_of(id);
  if (r && REC_STATE(r) == REC_RUNNING) {
    entry_t *en = entry_of(r);
    if (en) {
      if (r->outcome == 1 && !at_teardown)
        en->s.finalized_gc++;
      else
        en->s.finalized_teardown++;
      en->s.live--;
      en->s.hist[hist_bucket(duration_ns)]++;
      en->s.total_ns += duration_ns;
      if (duration_ns > en->s.max_ns) en->s.max_ns = duration_ns;
    }
    slot_release(ID_INDEX(id), r);
  }
  uv_mutex_unlock(&lock);
}

/* ---- reading ---- */

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

/* An entry's counters as reported: live moved to never_run once the process is
 * exiting for good. */
static void entry_stats(const entry_t *en, nmw_fin_stats_t *out) {
  *out = en->s;
  out->oldest_ns = 0;
  if (atomic_load(&exit_final)) {
    out->never_run = out->live;
    out->live = 0;
  }
}

static bool env_selected(const env_t *e, nmw_owner_t owner, bool all) {
  return e->used && (all || e->id == owner);
}

static bool rec_selected(const rec_t *r, nmw_owner_t owner, bool all) {
  if (REC_STATE(r) == REC_FREE || r->entry == NO_ENTRY) return false;
  const env_t *e = &envs[NMW_OWNER_INDEX(r->owner)];
  return e->used && e->id == r->owner && (all || r->owner == owner);
}

size_t nmw_core_fin_tag_stats(nmw_owner_t owner, bool all, nmw_fin_tag_stats_t *rows, size_t cap,
                              nmw_fin_stats_t *total) {
  INIT();
  if (total) memset(total, 0, sizeof *total);
  uint16_t *row_of = calloc(NMW_TAG_MAX, sizeof *row_of); /* row index + 1 */
  if (!row_of) return 0;
  size_t n = 0;
  uv_mutex_lock(&lock);
  for (int i = 0; i < NMW_OWNER_MAX; i++) {
    const env_t *e = &envs[i];
    if (!env_selected(e, owner, all)) continue;
    for (uint32_t k = 0; k < e->nentries; k++) {
      nmw_fin_stats_t s;
      entry_stats(&e->entries[k], &s);
      if (total) stats_add(total, &s);
      nmw_tag_t tag = e->entries[k].tag;
      size_t row = n;
      if (row_of[tag]) {
        row = row_of[tag] - 1u;
      } else {
        row_of[tag] = (uint16_t)(n + 1);
        n++;
        if (row < cap) {
          rows[row].tag = tag;
          memset(&rows[row].s, 0, sizeof rows[row].s);
        }
      }
      if (row < cap) stats_add(&rows[row].s, &s);
    }
    if (!all) break;
  }
  /* The oldest live record of each tag: one pass over the table. */
  if (n > 0) {
    for (uint32_t i = 0; i < high; i++) {
      const rec_t *r = rec_at(i);
      if (REC_STATE(r) != REC_LIVE || !rec_selected(r, owner, all)) continue;
      size_t row = row_of[r->tag] - 1u;
      if (row < cap && (rows[row].s.oldest_ns == 0 || r->registered_ns < rows[row].s.oldest_ns))
        rows[row].s.oldest_ns = r->registered_ns;
      if (total && (total->oldest_ns == 0 || r->registered_ns < total->oldest_ns))
        total->oldest_ns = r->registered_ns;
    }
  }
  uv_mutex_unlock(&lock);
  free(row_of);
  return n;
}

void nmw_core_fin_totals(nmw_owner_t owner, nmw_fin_stats_t *out) {
  INIT();
  memset(out, 0, sizeof *out);
  uv_mutex_lock(&lock);
  const env_t *e = &envs[NMW_OWNER_INDEX(owner)];
  if (e->used && e->id == owner) {
    for (uint32_t k = 0; k < e->nentries; k++) {
      nmw_fin_stats_t s;
      entry_stats(&e->entries[k], &s);
      stats_add(out, &s);
    }
  }
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
  env_for(owner)->thread_id = thread_id;
  uv_mutex_unlock(&lock);
}

void nmw_core_fin_mark_exiting(nmw_owner_t owner) {
  INIT();
  uv_mutex_lock(&lock);
  env_t *e = env_for(owner);
  __atomic_store_n(&e->exiting, true, __ATOMIC_RELAXED);
  uv_mutex_unlock(&lock);
}

typedef struct ordered {
  uint64_t ns;
  uint32_t index;
} ordered_t;

static int by_time(const void *a, const void *b) {
  uint64_t x = ((const ordered_t *)a)->ns, y = ((const ordered_t *)b)->ns;
  return x < y ? -1 : x > y;
}

size_t nmw_core_fin_live(nmw_owner_t owner, bool all, nmw_tag_t tag, uint64_t registered_before_ns,
                         bool with_stacks, nmw_fin_live_row_t *rows, size_t cap) {
  INIT();
  if (cap == 0) return 0;
  uv_mutex_lock(&lock);
  size_t found = 0, room = live_records ? (size_t)live_records : 1;
  ordered_t *order = malloc(room * sizeof *order);
  if (!order) {
    uv_mutex_unlock(&lock);
    return 0;
  }
  for (uint32_t i = 0; i < high && found < room; i++) {
    const rec_t *r = rec_at(i);
    if (REC_STATE(r) != REC_LIVE || !rec_selected(r, owner, all)) continue;
    if ((tag != NMW_ANY_TAG && r->tag != tag) || r->registered_ns > registered_before_ns) continue;
    order[found++] = (ordered_t){r->registered_ns, i};
  }
  qsort(order, found, sizeof *order, by_time); /* registration order: times are unique */
  size_t n = found < cap ? found : cap;
  for (size_t k = 0; k < n; k++) {
    const rec_t *r = rec_at(order[k].index);
    nmw_fin_live_row_t *row = &rows[k];
    row->id = MAKE_ID(REC_GEN(r), order[k].index);
    row->owner = r->owner;
    row->kind = (nmw_fin_kind_t)r->kind;
    row->tag = r->tag;
    row->file = r->site ? r->site->file : NULL;
    row->func = r->site ? r->site->func : NULL;
    row->line = r->site ? r->site->line : 0;
    row->registered_ns = r->registered_ns;
    row->stack = NULL;
    const char *stack = with_stacks ? stack_of(order[k].index) : NULL;
    if (stack) {
      size_t len = strlen(stack) + 1;
      row->stack = malloc(len);
      if (row->stack) memcpy(row->stack, stack, len);
    }
  }
  uv_mutex_unlock(&lock);
  free(order);
  return n;
}

size_t nmw_core_fin_live_sites(nmw_owner_t owner, bool all, nmw_fin_site_row_t *rows, size_t cap) {
  INIT();
  size_t n = 0, last = SIZE_MAX;
  uv_mutex_lock(&lock);
  for (uint32_t i = 0; i < high; i++) {
    const rec_t *r = rec_at(i);
    if (REC_STATE(r) != REC_LIVE || !rec_selected(r, owner, all)) continue;
    const char *file = r->site ? r->site->file : NULL;
    const char *func = r->site ? r->site->func : NULL;
    uint32_t line = r->site ? r->site->line : 0;
#define SAME_GROUP(g)                                                                   \
  ((g).owner == r->owner && (g).tag == r->tag && (g).kind == (nmw_fin_kind_t)r->kind && \
   (g).line == line && (g).file == file && (g).func == func)
    /* Neighbours usually share a group: try the last one first. */
    size_t g = SIZE_MAX;
    if (last < n && last < cap && SAME_GROUP(rows[last])) g = last;
    for (size_t j = 0; g == SIZE_MAX && j < n && j < cap; j++)
      if (SAME_GROUP(rows[j])) g = j;
#undef SAME_GROUP
    if (g == SIZE_MAX) {
      g = n++;
      if (g < cap)
        rows[g] = (nmw_fin_site_row_t){r->owner, r->tag, (nmw_fin_kind_t)r->kind, file, func,
                                       line,     0,      r->registered_ns};
    }
    if (g < cap) {
      rows[g].count++;
      if (r->registered_ns < rows[g].oldest_ns) rows[g].oldest_ns = r->registered_ns;
    }
    last = g;
  }
  uv_mutex_unlock(&lock);
  return n;
}

void nmw_core_fin_set_exit(bool final) { atomic_store(&exit_final, final); }

bool nmw_core_fin_exit_final(void) { return atomic_load(&exit_final); }

void nmw_core_fin_global(nmw_fin_global_t *out) {
  INIT();
  uv_mutex_lock(&lock);
  out->record_bytes = record_bytes;
  out->hash_bytes = index_bytes;
  out->env_bytes = env_bytes;
  out->stack_bytes = atomic_load(&stack_bytes);
  out->total_bytes = out->record_bytes + out->hash_bytes + out->env_bytes + out->stack_bytes;
  out->capacity = (uint64_t)nchunks * CHUNK;
  out->live = live_records;
  out->peak_live = peak_live;
  out->orphans = orphans;
  out->register_failed = register_failed;
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
