/*
 * attach_registry.c: live blocks of attached addons and their call sites (see
 * attach_registry.h).
 *
 * Blocks: one open-addressing table per thread (linear probing, tombstones),
 * written by its owner thread with plain stores, so a block allocated and freed
 * on one thread costs no atomic read-modify-write at all (a spin lock per
 * operation cost more than glibc's malloc+free pair here: 12 ns a round trip).
 *
 * A free on another thread (or of a pointer that is not ours) searches the
 * other threads' tables. Entry states in `ptr`: 0 empty, TOMB erased, MOVED
 * (the owner is rehashing: look again in its new table), else a live block.
 * The rules that make the search safe without the owner's cooperation:
 *  - the owner fills an entry's fields before publishing its ptr (release);
 *  - a remote freer claims an entry by CAS(ptr: p -> TOMB), so of two claims
 *    one wins; the owner erases its own entries with a plain store (a race with
 *    a remote claim of the same block would need the block freed twice);
 *  - the owner rehashes by exchanging every old entry with MOVED before copying
 *    it, so a remote claim either happens before (the entry is not copied) or
 *    fails (and is retried in the new table);
 *  - a remote search registers in the table's readers count before loading the
 *    table; the owner frees replaced tables only when it sees no reader after
 *    publishing the new one, so a search never reads freed memory.
 * A thread that exits leaves its table to be adopted by the next new thread.
 */
#include "attach_registry.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)
#define MOVED ((uintptr_t)2)
#define MIN_CAP 256

/* Fields are atomics read and written relaxed (free on x86-64 and aarch64): a
 * remote search reads them before its CAS validates them, while the owner may
 * be refilling that entry for another block. */
typedef struct entry {
  _Atomic uintptr_t ptr;
  _Atomic uint64_t size;
  _Atomic uint32_t slot;
  _Atomic uint32_t tag;
} entry_t;

/* A plain copy of an entry. */
typedef struct rec {
  uintptr_t ptr;
  uint64_t size;
  uint32_t slot, tag;
} rec_t;

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define ST(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

/* A table and its size, published together. */
typedef struct tab {
  size_t cap;
  struct tab *retired_next; /* owner only: replaced tables not freed yet */
  entry_t e[];
} tab_t;

typedef struct ltable {
  _Atomic(tab_t *) table;
  _Atomic uint32_t readers; /* remote searches under way (they may hold an old table) */
  tab_t *retired;           /* owner only */
  size_t used;              /* owner only: entries not empty (live + tombstones) */
  _Atomic bool orphan;     /* its thread exited: the next new thread adopts it */
  struct ltable *next;     /* immutable once published */
} ltable_t;

static _Atomic(ltable_t *) tables;         /* every table, newest first */
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER; /* creation, adoption */
static _Atomic uint64_t table_bytes;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* NULL: none yet; EXITED: the thread is exiting (its table is given up). */
#define EXITED ((ltable_t *)1)
static _Thread_local ltable_t *tls_table __attribute__((tls_model("initial-exec")));

static inline uint64_t mix(const void *ptr) {
  uint64_t h = (uint64_t)(uintptr_t)ptr * UINT64_C(0x9E3779B97F4A7C15);
  return h ^ (h >> 29);
}

static void on_thread_exit(void *arg) {
  ltable_t *t = arg;
  tls_table = EXITED;
  atomic_store_explicit(&t->orphan, true, memory_order_release);
}

static void make_key(void) { pthread_key_create(&exit_key, on_thread_exit); }

static size_t tab_bytes(size_t cap) { return sizeof(tab_t) + cap * sizeof(entry_t); }

static tab_t *new_tab(size_t cap) {
  tab_t *t = nmw__meta_calloc(1, tab_bytes(cap));
  if (!t) return NULL;
  t->cap = cap;
  atomic_fetch_add(&table_bytes, (uint64_t)tab_bytes(cap));
  return t;
}

static void free_tab(tab_t *t) {
  atomic_fetch_sub(&table_bytes, (uint64_t)tab_bytes(t->cap));
  nmw__meta_free(t, 1, tab_bytes(t->cap));
}

static ltable_t *own_table_slow(void);

/* The calling thread's table (NULL when none can be had, or the thread exits). */
NMW_INLINE ltable_t *own_table(void) {
  ltable_t *t = tls_table;
  if (NMW_LIKELY(t != NULL && t != EXITED)) return t;
  return own_table_slow();
}

static ltable_t *own_table_slow(void) {
  ltable_t *t = tls_table;
  if (t == EXITED) return NULL;
  pthread_once(&key_once, make_key);
  pthread_mutex_lock(&tables_lock);
  for (t = atomic_load(&tables); t; t = t->next) {
    bool orphan = true;
    if (atomic_compare_exchange_strong(&t->orphan, &orphan, false)) break; /* adopted */
  }
  if (!t) {
    t = nmw__meta_calloc(1, sizeof *t);
    tab_t *e = t ? new_tab(MIN_CAP) : NULL;
    if (!e) {
      if (t) nmw__meta_free(t, 1, sizeof *t);
      pthread_mutex_unlock(&tables_lock);
      return NULL;
    }
    atomic_store(&t->table, e);
    t->next = atomic_load(&tables);
    atomic_store_explicit(&tables, t, memory_order_release);
  } else {
    /* Recount: remote frees left tombstones the previous owner never saw. */
    tab_t *tb = atomic_load(&t->table);
    size_t used = 0;
    for (size_t i = 0; i < tb->cap; i++)
      used += atomic_load_explicit(&tb->e[i].ptr, memory_order_relaxed) != EMPTY;
    t->used = used;
  }
  pthread_mutex_unlock(&tables_lock);
  pthread_setspecific(exit_key, t);
  tls_table = t;
  return t;
}

/* Owner only: frees the retired tables no remote search can still hold. The
 * new table was published (seq_cst) before readers is read (seq_cst): a search
 * that registers later loads the new one. */
static void reclaim(ltable_t *t) {
  if (atomic_load(&t->readers) != 0) return;
  while (t->retired) {
    tab_t *next = t->retired->retired_next;
    free_tab(t->retired);
    t->retired = next;
  }
}

/* Owner only: a new table without tombstones, room for twice the live entries. */
static bool rehash(ltable_t *t) {
  tab_t *old = atomic_load_explicit(&t->table, memory_order_relaxed);
  size_t live = 0;
  for (size_t i = 0; i < old->cap; i++)
    live += atomic_load_explicit(&old->e[i].ptr, memory_order_relaxed) > MOVED;
  size_t cap = MIN_CAP;
  while (cap < live * 4) cap *= 2;
  tab_t *fresh = new_tab(cap);
  if (!fresh) return false;
  size_t used = 0, mask = cap - 1;
  for (size_t i = 0; i < old->cap; i++) {
    uintptr_t v = atomic_exchange_explicit(&old->e[i].ptr, MOVED, memory_order_acq_rel);
    if (v <= MOVED) continue;
    size_t k = (size_t)mix((void *)v) & mask;
    while (atomic_load_explicit(&fresh->e[k].ptr, memory_order_relaxed) != EMPTY) k = (k + 1) & mask;
    ST(fresh->e[k].size, LD(old->e[i].size));
    ST(fresh->e[k].slot, LD(old->e[i].slot));
    ST(fresh->e[k].tag, LD(old->e[i].tag));
    atomic_store_explicit(&fresh->e[k].ptr, v, memory_order_relaxed);
    used++;
  }
  atomic_store(&t->table, fresh); /* seq_cst: see reclaim */
  t->used = used;
  old->retired_next = t->retired;
  t->retired = old;
  reclaim(t);
  return true;
}

/* Owner only. Inserts p, or replaces a stale record of it (returned in *old). */
static bool local_insert(ltable_t *t, void *p, uint64_t size, uint32_t slot, nmw_tag_t tag,
                         rec_t *old) {
  old->ptr = EMPTY;
  tab_t *tb = atomic_load_explicit(&t->table, memory_order_relaxed);
  if (NMW_UNLIKELY((t->used + 1) * 2 > tb->cap)) {
    if (!rehash(t)) return false;
    tb = atomic_load_explicit(&t->table, memory_order_relaxed);
  }
  entry_t *e = tb->e;
  size_t mask = tb->cap - 1, i = (size_t)mix(p) & mask, spot = SIZE_MAX;
  for (;; i = (i + 1) & mask) {
    uintptr_t v = atomic_load_explicit(&e[i].ptr, memory_order_relaxed);
    if (v == EMPTY) break;
    if (v == TOMB) {
      if (spot == SIZE_MAX) spot = i;
    } else if (v == (uintptr_t)p) {
      /* A stale record (its free went through code that was not attached).
       * Claimed like a remote freer would, in case one is at it. */
      uintptr_t expect = v;
      if (atomic_compare_exchange_strong(&e[i].ptr, &expect, TOMB)) {
        old->ptr = v;
        old->size = LD(e[i].size);
        old->slot = LD(e[i].slot);
        old->tag = LD(e[i].tag);
      }
      if (spot == SIZE_MAX) spot = i;
    }
  }
  if (spot == SIZE_MAX) {
    spot = i;
    t->used++;
  }
  ST(e[spot].size, size);
  ST(e[spot].slot, slot);
  ST(e[spot].tag, (uint32_t)tag);
  atomic_store_explicit(&e[spot].ptr, (uintptr_t)p, memory_order_release);
  return true;
}

/* Owner only: erases p from its own table; true with the fields when found. */
static bool local_take(ltable_t *t, void *p, rec_t *out) {
  tab_t *tb = atomic_load_explicit(&t->table, memory_order_relaxed);
  entry_t *e = tb->e;
  size_t mask = tb->cap - 1;
  for (size_t i = (size_t)mix(p) & mask;; i = (i + 1) & mask) {
    uintptr_t v = atomic_load_explicit(&e[i].ptr, memory_order_acquire);
    if (v == EMPTY) return false;
    if (v == (uintptr_t)p) {
      out->size = LD(e[i].size);
      out->slot = LD(e[i].slot);
      out->tag = LD(e[i].tag);
      atomic_store_explicit(&e[i].ptr, TOMB, memory_order_relaxed);
      return true;
    }
  }
}

/* Any thread: claims p in another thread's table. */
static bool remote_search(ltable_t *t, void *p, rec_t *out) {
  for (;;) {
    tab_t *tb = atomic_load(&t->table); /* seq_cst, after readers++: see reclaim */
    entry_t *e = tb->e;
    size_t cap = tb->cap, mask = cap - 1;
    bool moved = false;
    for (size_t i = (size_t)mix(p) & mask, n = 0; n < cap; i = (i + 1) & mask, n++) {
      uintptr_t v = atomic_load_explicit(&e[i].ptr, memory_order_acquire);
      if (v == EMPTY) return false;
      if (v == MOVED) {
        moved = true;
        break;
      }
      if (v != (uintptr_t)p) continue;
      rec_t copy = {v, LD(e[i].size), LD(e[i].slot), LD(e[i].tag)};
      uintptr_t expect = v;
      if (atomic_compare_exchange_strong_explicit(&e[i].ptr, &expect, TOMB, memory_order_acq_rel,
                                                  memory_order_acquire)) {
        *out = copy;
        return true;
      }
      if (expect == MOVED) {
        moved = true;
        break;
      }
      return false; /* claimed by someone else */
    }
    if (!moved) return false;
    /* Rehash in progress: wait for the owner to publish the new table. */
    while (atomic_load(&t->table) == tb) sched_yield();
  }
}

static bool remote_take(ltable_t *t, void *p, rec_t *out) {
  atomic_fetch_add(&t->readers, 1);
  bool found = remote_search(t, p, out);
  atomic_fetch_sub(&t->readers, 1);
  return found;
}

static bool take(void *p, rec_t *out) {
  /* A thread that never allocated has no table, and needs none to free. */
  ltable_t *own = tls_table == EXITED ? NULL : tls_table;
  if (own && local_take(own, p, out)) return true;
  for (ltable_t *t = atomic_load_explicit(&tables, memory_order_acquire); t; t = t->next)
    if (t != own && remote_take(t, p, out)) return true;
  return false;
}

static bool insert(void *p, uint64_t size, nmw_tag_t tag, uint32_t slot, rec_t *old) {
  ltable_t *own = own_table();
  if (!own) {
    old->ptr = EMPTY;
    return false;
  }
  return local_insert(own, p, size, slot, tag, old);
}

int nmw_attach_block_add(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  if (ptr == NULL) return NMW_EINVAL;
  nmw_shard_t *sh = nmw__shard();
  uint32_t slot = nmw__slot_for(site, tag);
  rec_t old;
  if (!insert(ptr, size, tag, slot, &old)) return NMW_ENOMEM;
  /* A stale record means libc handed out an address whose free we never saw
   * (freed by code that was not attached): forget the old block. */
  if (old.ptr) nmw__credit_free(sh, old.slot, old.tag, old.size);
  nmw__credit_alloc(sh, slot, tag, size);
  return NMW_OK;
}

bool nmw_attach_block_take(void *ptr, uint64_t *size, nmw_tag_t *tag, uint32_t *slot) {
  if (ptr == NULL) return false;
  rec_t e;
  if (!take(ptr, &e)) return false;
  *size = e.size;
  *tag = e.tag;
  *slot = e.slot;
  return true;
}

bool nmw_attach_block_remove(void *ptr) {
  if (ptr == NULL) return false;
  rec_t e;
  if (!take(ptr, &e)) return false;
  nmw__credit_free(nmw__shard(), e.slot, e.tag, e.size);
  return true;
}

void nmw_attach_block_put_back(void *ptr, uint64_t size, nmw_tag_t tag, uint32_t slot) {
  rec_t old;
  insert(ptr, size, tag, slot, &old);
}

void nmw_attach_block_moved(void *ptr, uint64_t old_size, uint64_t size, nmw_tag_t tag,
                            uint32_t slot) {
  nmw_shard_t *sh = nmw__shard();
  rec_t old;
  if (!insert(ptr, size, tag, slot, &old)) {
    /* No room to remember it: count it freed rather than leak a phantom. */
    nmw__credit_free(sh, slot, tag, old_size);
    return;
  }
  if (old.ptr) nmw__credit_free(sh, old.slot, old.tag, old.size);
  nmw__credit_realloc(sh, slot, tag, old_size, size);
}

/* Scans every table (relaxed: a snapshot that may be off by blocks in flight). */
static bool scan(const void *ptr, uint64_t *size, uint64_t *count) {
  for (ltable_t *t = atomic_load_explicit(&tables, memory_order_acquire); t; t = t->next) {
    atomic_fetch_add(&t->readers, 1);
    tab_t *tb = atomic_load(&t->table);
    entry_t *e = tb->e;
    bool found = false;
    for (size_t i = 0; i < tb->cap && !found; i++) {
      uintptr_t v = atomic_load_explicit(&e[i].ptr, memory_order_acquire);
      if (v <= MOVED) continue;
      if (count) (*count)++;
      if (ptr && v == (uintptr_t)ptr) {
        if (size) *size = LD(e[i].size);
        found = true;
      }
    }
    atomic_fetch_sub(&t->readers, 1);
    if (found) return true;
  }
  return false;
}

bool nmw_attach_block_known(const void *ptr, uint64_t *size) { return ptr && scan(ptr, size, NULL); }

uint64_t nmw_attach_block_count(void) {
  uint64_t n = 0;
  scan(NULL, NULL, &n);
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

/* The last site this thread looked up: loops allocate from one call site. */
static _Thread_local struct {
  uintptr_t ra;
  nmw_site_t *site;
} last_site __attribute__((tls_model("initial-exec")));

static nmw_site_t *site_slow(uintptr_t ra, nmw_tag_t tag);

nmw_site_t *nmw_attach_site(const void *return_address, nmw_tag_t tag) {
  uintptr_t ra = (uintptr_t)return_address;
  if (NMW_LIKELY(ra == last_site.ra && ra != 0)) return last_site.site;
  if (ra == 0) return NULL;
  nmw_site_t *site = site_slow(ra, tag);
  if (site) {
    last_site.ra = ra;
    last_site.site = site;
  }
  return site;
}

static nmw_site_t *site_slow(uintptr_t ra, nmw_tag_t tag) {
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
