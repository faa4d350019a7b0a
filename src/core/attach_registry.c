/*
 * attach_registry.c: live blocks of attached addons and their call sites (see
 * attach_registry.h).
 *
 * Blocks: 256 stripes chosen by the pointer's hash; each stripe an
 * open-addressing table (linear probing, backward-shift deletion, load at most
 * one half) behind a test-and-set spin lock. A malloc+free pair costs two
 * atomic exchanges (the lock; its release is a plain store) and nothing else
 * shared; a contended lock yields the CPU. Tables are
 * metadata (nmw__meta_calloc), so they show in the tracker's overhead.
 */
#include "attach_registry.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STRIPES 256

typedef struct entry {
  void *ptr; /* NULL: empty */
  uint64_t size;
  uint32_t slot;
  uint32_t tag;
} entry_t;

typedef struct NMW_ALIGNED(NMW_CACHE_LINE) stripe {
  atomic_flag lock;
  entry_t *table;
  size_t cap, count;
} stripe_t;

static stripe_t stripes[STRIPES] = {[0 ... STRIPES - 1] = {.lock = ATOMIC_FLAG_INIT}};
static _Atomic uint64_t table_bytes;

static inline uint64_t mix(const void *ptr) {
  uint64_t h = (uint64_t)(uintptr_t)ptr * UINT64_C(0x9E3779B97F4A7C15);
  return h ^ (h >> 29);
}

static inline stripe_t *stripe_of(const void *ptr) { return &stripes[mix(ptr) >> 56]; }

static inline void lock(stripe_t *s) {
  while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire)) sched_yield();
}
static inline void unlock(stripe_t *s) { atomic_flag_clear_explicit(&s->lock, memory_order_release); }

static inline size_t find(const stripe_t *s, const void *ptr) {
  size_t mask = s->cap - 1, i = (size_t)mix(ptr) & mask;
  while (s->table[i].ptr != NULL && s->table[i].ptr != ptr) i = (i + 1) & mask;
  return i;
}

static bool grow(stripe_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 64;
  entry_t *fresh = nmw__meta_calloc(cap, sizeof *fresh);
  if (!fresh) return false;
  entry_t *old = s->table;
  size_t old_cap = s->cap;
  s->table = fresh;
  s->cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].ptr) s->table[find(s, old[i].ptr)] = old[i];
  if (old) nmw__meta_free(old, old_cap, sizeof *old);
  atomic_fetch_add(&table_bytes, (uint64_t)(cap - old_cap) * sizeof(entry_t));
  return true;
}

static void erase(stripe_t *s, size_t i) {
  size_t mask = s->cap - 1;
  for (size_t j = (i + 1) & mask; s->table[j].ptr != NULL; j = (j + 1) & mask) {
    size_t home = (size_t)mix(s->table[j].ptr) & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      s->table[i] = s->table[j];
      i = j;
    }
  }
  s->table[i].ptr = NULL;
  s->count--;
}

/* Inserts (or replaces) under the stripe lock. False on OOM. */
static bool insert(void *ptr, uint64_t size, nmw_tag_t tag, uint32_t slot, entry_t *replaced) {
  stripe_t *s = stripe_of(ptr);
  lock(s);
  if ((s->count + 1) * 2 > s->cap && !grow(s)) {
    unlock(s);
    return false;
  }
  size_t i = find(s, ptr);
  *replaced = s->table[i];
  if (replaced->ptr == NULL) s->count++;
  s->table[i] = (entry_t){ptr, size, slot, (uint32_t)tag};
  unlock(s);
  return true;
}

int nmw_attach_block_add(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  if (ptr == NULL) return NMW_EINVAL;
  nmw_shard_t *sh = nmw__shard();
  uint32_t slot = nmw__slot_for(site, tag);
  entry_t old;
  if (!insert(ptr, size, tag, slot, &old)) return NMW_ENOMEM;
  /* A stale record means libc handed out an address whose free we never saw
   * (freed by code that was not attached): forget the old block. */
  if (old.ptr) nmw__credit_free(sh, old.slot, old.tag, old.size);
  nmw__credit_alloc(sh, slot, tag, size);
  return NMW_OK;
}

bool nmw_attach_block_take(void *ptr, uint64_t *size, nmw_tag_t *tag, uint32_t *slot) {
  if (ptr == NULL) return false;
  stripe_t *s = stripe_of(ptr);
  lock(s);
  if (s->cap == 0) {
    unlock(s);
    return false;
  }
  size_t i = find(s, ptr);
  entry_t e = s->table[i];
  if (e.ptr) erase(s, i);
  unlock(s);
  if (!e.ptr) return false;
  *size = e.size;
  *tag = e.tag;
  *slot = e.slot;
  return true;
}

bool nmw_attach_block_remove(void *ptr) {
  uint64_t size;
  nmw_tag_t tag;
  uint32_t slot;
  if (!nmw_attach_block_take(ptr, &size, &tag, &slot)) return false;
  nmw__credit_free(nmw__shard(), slot, tag, size);
  return true;
}

void nmw_attach_block_put_back(void *ptr, uint64_t size, nmw_tag_t tag, uint32_t slot) {
  entry_t old;
  insert(ptr, size, tag, slot, &old);
}

void nmw_attach_block_moved(void *ptr, uint64_t old_size, uint64_t size, nmw_tag_t tag,
                            uint32_t slot) {
  nmw_shard_t *sh = nmw__shard();
  entry_t old;
  if (!insert(ptr, size, tag, slot, &old)) {
    /* No room to remember it: count it freed rather than leak a phantom. */
    nmw__credit_free(sh, slot, tag, old_size);
    return;
  }
  if (old.ptr) nmw__credit_free(sh, old.slot, old.tag, old.size);
  nmw__credit_realloc(sh, slot, tag, old_size, size);
}

bool nmw_attach_block_known(const void *ptr, uint64_t *size) {
  if (ptr == NULL) return false;
  stripe_t *s = stripe_of(ptr);
  lock(s);
  bool found = false;
  if (s->cap) {
    size_t i = find(s, ptr);
    if (s->table[i].ptr) {
      found = true;
      if (size) *size = s->table[i].size;
    }
  }
  unlock(s);
  return found;
}

/* Summed on read: a shared counter would cost every malloc and free an atomic
 * read-modify-write. */
uint64_t nmw_attach_block_count(void) {
  uint64_t n = 0;
  for (int i = 0; i < STRIPES; i++) {
    lock(&stripes[i]);
    n += stripes[i].count;
    unlock(&stripes[i]);
  }
  return n;
}

/* ---- call sites ---- */

#define SITE_CAP (NMW_ATTACH_SITE_MAX * 2) /* power of two, load at most one half */

typedef struct site_entry {
  _Atomic uintptr_t ra; /* 0: empty; published after site */
  nmw_site_t *site;
  _Atomic int resolved;
} site_entry_t;

static site_entry_t sites[SITE_CAP];
static _Atomic uint32_t site_count;
static atomic_flag site_lock = ATOMIC_FLAG_INIT;

static inline size_t site_home(uintptr_t ra) { return (size_t)(mix((void *)ra) & (SITE_CAP - 1)); }

nmw_site_t *nmw_attach_site(const void *return_address, nmw_tag_t tag) {
  uintptr_t ra = (uintptr_t)return_address;
  if (ra == 0) return NULL;
  size_t i = site_home(ra);
  for (;;) {
    uintptr_t k = atomic_load_explicit(&sites[i].ra, memory_order_acquire);
    if (k == ra) return sites[i].site;
    if (k == 0) break;
    i = (i + 1) & (SITE_CAP - 1);
  }
  /* Miss: insert under the lock (probing again: another thread may have). */
  while (atomic_flag_test_and_set_explicit(&site_lock, memory_order_acquire)) sched_yield();
  nmw_site_t *out = NULL;
  i = site_home(ra);
  for (;;) {
    uintptr_t k = atomic_load_explicit(&sites[i].ra, memory_order_relaxed);
    if (k == ra) {
      out = sites[i].site;
      break;
    }
    if (k == 0) {
      if (atomic_load(&site_count) >= NMW_ATTACH_SITE_MAX) break;
      nmw_site_t *site = nmw__meta_calloc(1, sizeof *site);
      if (!site) break;
      site->file = nmw_core_tag_name(tag);
      site->func = NULL;
      site->line = 0;
      sites[i].site = site;
      atomic_store_explicit(&sites[i].ra, ra, memory_order_release);
      atomic_fetch_add(&site_count, 1);
      out = site;
      break;
    }
    i = (i + 1) & (SITE_CAP - 1);
  }
  atomic_flag_clear_explicit(&site_lock, memory_order_release);
  return out;
}

size_t nmw_attach_resolve_sites(nmw_attach_resolve_fn resolve) {
  size_t n = 0;
  if (atomic_load(&site_count) == 0) return 0;
  for (size_t i = 0; i < SITE_CAP; i++) {
    uintptr_t ra = atomic_load_explicit(&sites[i].ra, memory_order_acquire);
    if (ra == 0 || atomic_load(&sites[i].resolved)) continue;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&sites[i].resolved, &expected, 1)) continue;
    char buf[256];
    buf[0] = '\0';
    resolve((const void *)ra, buf, sizeof buf);
    size_t len = strlen(buf) + 1;
    char *name = nmw__meta_calloc(1, len);
    if (name) {
      memcpy(name, buf, len);
      /* Readers of rows only load the pointer: a release store publishes it. */
      __atomic_store_n(&sites[i].site->func, name, __ATOMIC_RELEASE);
    }
    n++;
  }
  return n;
}

uint32_t nmw_attach_site_count(void) { return atomic_load(&site_count); }

uint64_t nmw_attach_registry_bytes(void) { return atomic_load(&table_bytes); }
