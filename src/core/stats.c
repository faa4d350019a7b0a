/*
 * stats.c: reading the counters. Readers sum every shard; nothing here is on the
 * allocation path. At quiescence the sums are exact; while other threads work,
 * each counter is read atomically but the set is not one instant (docs/architecture.md).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Sums all slots, then folds them per tag into out[0 .. ntags). */
static bool sum_by_tag(nmw_counters_t *out, uint32_t ntags) {
  uint32_t end = nmw__slot_end();
  nmw_slot_sum_t *sums = calloc(end, sizeof *sums);
  if (!sums) return false;
  nmw__sum_slots(sums, end);
  memset(out, 0, ntags * sizeof *out);
  for (uint32_t slot = 0; slot < end; slot++) {
    nmw_site_t *site;
    nmw_tag_t tag;
    nmw__slot_info(slot, &site, &tag);
    if (tag >= ntags) continue;
    nmw_counters_t *c = &out[tag];
    c->allocs += (uint64_t)sums[slot].allocs;
    c->frees += (uint64_t)sums[slot].frees;
    c->reallocs += (uint64_t)sums[slot].reallocs;
    c->bytes_allocated += (uint64_t)sums[slot].bytes_in;
    c->bytes_freed += (uint64_t)sums[slot].bytes_out;
  }
  free(sums);
  return true;
}

static void finish(nmw_counters_t *c, int64_t peak_bytes, int64_t peak_blocks) {
  c->curr_bytes = (int64_t)(c->bytes_allocated - c->bytes_freed);
  c->curr_blocks = (int64_t)(c->allocs - c->frees);
  /* A peak is never below the current value (an unfolded shard may hold it up). */
  c->peak_bytes = peak_bytes > c->curr_bytes ? peak_bytes : c->curr_bytes;
  c->peak_blocks = peak_blocks > c->curr_blocks ? peak_blocks : c->curr_blocks;
}

/* Each shard but one that grew the level may hide up to one room's growth and one
 * fall's worth of frees from the others (internal.h, NMW_PEAK_ERROR_*). */
static void error_bound(nmw_counters_t *c, uint32_t shards) {
  int64_t others = shards > 1 ? (int64_t)shards - 1 : 0;
  c->peak_error_bytes = others * NMW_PEAK_ERROR_BYTES;
  c->peak_error_blocks = others * NMW_PEAK_ERROR_BLOCKS;
}

size_t nmw_core_all_tag_counters(nmw_counters_t *out, size_t cap) {
  uint32_t ntags = nmw_core_tag_count();
  if (ntags > cap) ntags = (uint32_t)cap;
  if (!sum_by_tag(out, ntags)) return 0;
  for (uint32_t t = 0; t < ntags; t++) {
    finish(&out[t], atomic_load(&nmw__tags[t].peak_bytes), atomic_load(&nmw__tags[t].peak_blocks));
    out[t].limit_denied = atomic_load(&nmw__tags[t].limit_denied);
    bool strict = atomic_load(&nmw__tags[t].flags) & NMW_TAG_STRICT_PEAKS;
    error_bound(&out[t], strict ? 0 : atomic_load(&nmw__tags[t].shards_seen));
  }
  return ntags;
}

bool nmw_core_tag_counters(nmw_tag_t tag, nmw_counters_t *out) {
  uint32_t ntags = nmw_core_tag_count();
  if (tag >= ntags) return false;
  nmw_counters_t *all = calloc(ntags, sizeof *all);
  if (!all) return false;
  nmw_core_all_tag_counters(all, ntags);
  *out = all[tag];
  free(all);
  return true;
}

void nmw_core_total_counters(nmw_counters_t *out) {
  memset(out, 0, sizeof *out);
  uint32_t ntags = nmw_core_tag_count();
  nmw_counters_t *all = calloc(ntags, sizeof *all);
  if (!all) return;
  nmw_core_all_tag_counters(all, ntags);
  for (uint32_t t = 0; t < ntags; t++) {
    out->allocs += all[t].allocs;
    out->frees += all[t].frees;
    out->reallocs += all[t].reallocs;
    out->bytes_allocated += all[t].bytes_allocated;
    out->bytes_freed += all[t].bytes_freed;
    out->limit_denied += all[t].limit_denied;
  }
  free(all);
  finish(out, atomic_load(&nmw__total.peak_bytes), atomic_load(&nmw__total.peak_blocks));
  error_bound(out, atomic_load(&nmw__total.shards_seen));
}

uint32_t nmw_core_slot_count(void) {
  uint32_t end = nmw__slot_end();
  uint32_t ntags = nmw_core_tag_count();
  return ntags + (end - NMW_TAG_MAX);
}

size_t nmw_core_slot_rows(nmw_slot_row_t *rows, size_t cap) {
  uint32_t end = nmw__slot_end();
  nmw_slot_sum_t *sums = calloc(end, sizeof *sums);
  if (!sums) return 0;
  nmw__sum_slots(sums, end);
  size_t n = 0;
  for (uint32_t slot = 0; slot < end && n < cap; slot++) {
    if (sums[slot].allocs == 0 && sums[slot].reallocs == 0) continue; /* never used */
    nmw_site_t *site;
    nmw_tag_t tag;
    nmw__slot_info(slot, &site, &tag);
    nmw_slot_row_t *r = &rows[n++];
    r->slot = slot;
    r->tag = tag;
    r->file = site ? site->file : NULL;
    r->func = site ? site->func : NULL;
    r->line = site ? site->line : 0;
    r->allocs = (uint64_t)sums[slot].allocs;
    r->frees = (uint64_t)sums[slot].frees;
    r->reallocs = (uint64_t)sums[slot].reallocs;
    r->bytes_allocated = (uint64_t)sums[slot].bytes_in;
    r->bytes_freed = (uint64_t)sums[slot].bytes_out;
    r->curr_bytes = sums[slot].bytes_in - sums[slot].bytes_out;
    r->curr_blocks = sums[slot].allocs - sums[slot].frees;
  }
  free(sums);
  return n;
}

static int64_t padding_sum(void) {
  int64_t sum = 0;
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all)
    sum += NMW_LOAD(sh->padding_bytes);
  return sum < 0 ? 0 : sum;
}

static int64_t cache_sum(void) {
  int64_t sum = 0;
  for (nmw_shard_t *sh = atomic_load_explicit(&nmw__g.shards, memory_order_acquire); sh;
       sh = sh->next_all)
    sum += NMW_LOAD(sh->cache_bytes);
  return sum < 0 ? 0 : sum;
}

void nmw_core_overhead(nmw_overhead_t *out) {
  nmw_counters_t total;
  nmw_core_total_counters(&total);
  int64_t headered = total.curr_blocks - atomic_load(&nmw__g.tracked_blocks);
  if (headered < 0) headered = 0;
  out->block_bytes = (uint64_t)headered * NMW_TRACKED_OVERHEAD + (uint64_t)padding_sum();
  out->metadata_bytes = atomic_load(&nmw__g.metadata_bytes) + nmw__shard_metadata() +
                        nmw_core_tag_count() * sizeof(nmw_tag_state_t) + sizeof nmw__total;
  out->cache_bytes = (uint64_t)cache_sum();
  out->total_bytes = out->block_bytes + out->metadata_bytes + out->cache_bytes;
}
