/*
 * track.c: accounting for memory allocated elsewhere (CPython's
 * PyTraceMalloc_Track/Untrack are the model). Such blocks have no header, so a
 * table maps each pointer to its size and slot. The table is split into stripes,
 * each with its own lock, so threads tracking different pointers rarely meet.
 */
#include "internal.h"

#include <stdlib.h>

#define STRIPES 64

typedef struct record {
  void *ptr; /* NULL: empty */
  uint64_t size;
  uint32_t slot;
  nmw_tag_t tag;
} record_t;

typedef struct stripe {
  uv_mutex_t lock;
  record_t *table; /* open addressing, linear probing, power-of-two capacity */
  size_t cap, count;
} stripe_t;

static stripe_t stripes[STRIPES];
static uv_once_t stripes_once = UV_ONCE_INIT;

static void init_stripes(void) {
  for (int i = 0; i < STRIPES; i++) uv_mutex_init(&stripes[i].lock);
}

static uint64_t mix(const void *ptr) {
  uint64_t h = (uint64_t)(uintptr_t)ptr * UINT64_C(0x9E3779B97F4A7C15);
  return h ^ (h >> 31);
}

static stripe_t *stripe_of(const void *ptr) { return &stripes[mix(ptr) >> 58]; }

static size_t find(const stripe_t *s, const void *ptr) {
  size_t i = (size_t)mix(ptr) & (s->cap - 1);
  while (s->table[i].ptr != NULL && s->table[i].ptr != ptr) i = (i + 1) & (s->cap - 1);
  return i;
}

static bool grow(stripe_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 64;
  record_t *fresh = nmw__meta_calloc(cap, sizeof *fresh);
  if (!fresh) return false;
  record_t *old = s->table;
  size_t old_cap = s->cap;
  s->table = fresh;
  s->cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].ptr) s->table[find(s, old[i].ptr)] = old[i];
  nmw__meta_free(old, old_cap, sizeof *old);
  return true;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void erase(stripe_t *s, size_t i) {
  size_t mask = s->cap - 1;
  for (size_t j = (i + 1) & mask; s->table[j].ptr != NULL; j = (j + 1) & mask) {
    size_t home = (size_t)mix(s->table[j].ptr) & mask;
    /* Move j into the hole at i when its home is not in (i, j]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      s->table[i] = s->table[j];
      i = j;
    }
  }
  s->table[i].ptr = NULL;
  s->count--;
}

int nmw_core_track(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  if (ptr == NULL) return NMW_EINVAL;
  nmw_shard_t *sh = nmw__shard();
  uv_once(&stripes_once, init_stripes);
  if (tag >= nmw_core_tag_count()) {
    nmw__misuse(NMW_MISUSE_BAD_TAG, site, "track: unknown tag id; credited to 'untagged'");
    tag = NMW_UNTAGGED;
  }
  uint32_t slot = nmw__slot_for(site, tag);
  stripe_t *s = stripe_of(ptr);
  uv_mutex_lock(&s->lock);
  if ((s->count + 1) * 2 > s->cap && !grow(s)) {
    uv_mutex_unlock(&s->lock);
    return NMW_ENOMEM;
  }
  size_t i = find(s, ptr);
  record_t old = s->table[i];
  s->table[i] = (record_t){ptr, size, slot, tag};
  if (old.ptr == NULL) s->count++;
  uv_mutex_unlock(&s->lock);
  if (old.ptr != NULL) {
    nmw__credit_free(sh, old.slot, old.tag, old.size);
    nmw__misuse(NMW_MISUSE_TRACK_TWICE, site, "track: pointer already tracked; record replaced");
  } else {
    atomic_fetch_add(&nmw__g.tracked_blocks, 1);
  }
  nmw__credit_alloc(sh, slot, tag, size);
  return NMW_OK;
}

int nmw_core_untrack(void *ptr, nmw_site_t *site) {
  uv_once(&stripes_once, init_stripes);
  stripe_t *s = stripe_of(ptr);
  record_t old = {0};
  uv_mutex_lock(&s->lock);
  if (s->cap) {
    size_t i = find(s, ptr);
    old = s->table[i];
    if (old.ptr) erase(s, i);
  }
  uv_mutex_unlock(&s->lock);
  if (old.ptr == NULL || ptr == NULL) {
    nmw__misuse(NMW_MISUSE_UNTRACK_UNKNOWN, site, "untrack: pointer is not tracked");
    return NMW_ENOENT;
  }
  atomic_fetch_sub(&nmw__g.tracked_blocks, 1);
  nmw__credit_free(nmw__shard(), old.slot, old.tag, old.size);
  return NMW_OK;
}
