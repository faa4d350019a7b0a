/*
 * slots.c: the registry of (call site, tag) pairs. Each pair gets a slot id that
 * indexes the per-thread counter pages. A site record caches its last (tag, slot),
 * so the hot path is one atomic load and a compare; the registry itself is only
 * touched on a site's first use with a tag.
 */
#include "internal.h"

#include <stdlib.h>

typedef struct slot_info {
  nmw_site_t *site;
  nmw_tag_t tag;
} slot_info_t;

#define NMW_PAGE_BITS 8
#define NMW_PAGE_SIZE (1u << NMW_PAGE_BITS)
#define NMW_SLOT_PAGES (NMW_SLOT_MAX / NMW_PAGE_SIZE)

/* Slot infos, in pages; the "no site" slots (0 .. NMW_TAG_MAX-1) have none. */
static _Atomic(slot_info_t *) info_pages[NMW_SLOT_PAGES];
static _Atomic uint32_t slot_end = NMW_TAG_MAX;
uint16_t nmw__slot_tag[NMW_SLOT_MAX];

/* Open addressing from (site, tag) to slot, under slot_lock. */
typedef struct map_entry {
  nmw_site_t *site;
  nmw_tag_t tag;
  uint32_t slot;
} map_entry_t;
static map_entry_t *map;
static size_t map_cap;

static size_t hash(const nmw_site_t *site, nmw_tag_t tag) {
  uint64_t h = (uint64_t)(uintptr_t)site * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)tag;
  return (size_t)(h ^ (h >> 29));
}

static map_entry_t *map_find(nmw_site_t *site, nmw_tag_t tag) {
  for (size_t i = hash(site, tag) & (map_cap - 1);; i = (i + 1) & (map_cap - 1)) {
    if (map[i].site == NULL || (map[i].site == site && map[i].tag == tag)) return &map[i];
  }
}

static bool map_grow(void) {
  size_t cap = map_cap ? map_cap * 2 : 1024;
  map_entry_t *old = map;
  size_t old_cap = map_cap;
  map_entry_t *fresh = nmw__meta_calloc(cap, sizeof *fresh);
  if (!fresh) return false;
  map = fresh;
  map_cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].site) *map_find(old[i].site, old[i].tag) = old[i];
  nmw__meta_free(old, old_cap, sizeof *old);
  return true;
}

uint32_t nmw__slot_lookup_slow(nmw_site_t *site, nmw_tag_t tag) {
  uint32_t slot = tag; /* when the table is full, count under the tag's "no site" slot */
  uv_mutex_lock(&nmw__g.slot_lock);
  uint32_t end = atomic_load_explicit(&slot_end, memory_order_relaxed);
  if ((end - NMW_TAG_MAX + 1) * 2 > map_cap && !map_grow()) goto out;
  map_entry_t *e = map_find(site, tag);
  if (e->site) {
    slot = e->slot;
  } else if (end < NMW_SLOT_MAX) {
    uint32_t page = end >> NMW_PAGE_BITS;
    slot_info_t *infos = atomic_load_explicit(&info_pages[page], memory_order_relaxed);
    if (!infos) {
      infos = nmw__meta_calloc(NMW_PAGE_SIZE, sizeof *infos);
      if (!infos) goto out;
      atomic_store_explicit(&info_pages[page], infos, memory_order_release);
    }
    infos[end & (NMW_PAGE_SIZE - 1)] = (slot_info_t){site, tag};
    nmw__slot_tag[end] = (uint16_t)tag;
    *e = (map_entry_t){site, tag, end};
    slot = end;
    atomic_store_explicit(&slot_end, end + 1, memory_order_release);
  }
out:
  uv_mutex_unlock(&nmw__g.slot_lock);
  __atomic_store_n(&site->impl, ((uint64_t)tag + 1) << 32 | slot, __ATOMIC_RELEASE);
  return slot;
}

void nmw__slot_info(uint32_t slot, nmw_site_t **site, nmw_tag_t *tag) {
  if (slot < NMW_TAG_MAX) {
    *site = NULL;
    *tag = slot;
    return;
  }
  slot_info_t *infos = atomic_load_explicit(&info_pages[slot >> NMW_PAGE_BITS], memory_order_acquire);
  *site = infos ? infos[slot & (NMW_PAGE_SIZE - 1)].site : NULL;
  *tag = infos ? infos[slot & (NMW_PAGE_SIZE - 1)].tag : 0;
}

uint32_t nmw__slot_end(void) { return atomic_load_explicit(&slot_end, memory_order_acquire); }
