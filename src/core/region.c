/*
 * region.c: peaks of the total and of regions, and peak resets.
 *
 * Every region watches the total from the moment it begins. The watermark is the
 * lowest peak anyone watches; the shards' total rooms are set against it, so in
 * steady state (allocations balanced by frees below every peak) no shard touches
 * shared memory. Whatever lowers it bumps the tags' gates (the rooms' validity).
 */
#include "internal.h"


/*
 * Open regions form a list in the order they began. Each holds the highest total
 * seen in its segment: from its begin to the begin of the next open region. The
 * peak a region saw is the highest segment from it to the newest (the tail), so
 * only the tail's segment ever rises, and the lowest peak anyone watches is the
 * tail's segment. Closing a region hands its segment to the previous region,
 * which saw that time too. No table, no limit: the nodes are the callers'.
 */
static nmw_region_t *head, *tail; /* under peak_lock */

static void recompute_watermark_locked(void) {
  int64_t wb = atomic_load(&nmw__total.peak_bytes), wk = atomic_load(&nmw__total.peak_blocks);
  if (tail) {
    if (tail->seg_peak_bytes < wb) wb = tail->seg_peak_bytes;
    if (tail->seg_peak_blocks < wk) wk = tail->seg_peak_blocks;
  }
  atomic_store(&nmw__total.watermark_bytes, wb);
  atomic_store(&nmw__total.watermark_blocks, wk);
}

void nmw__raise_peaks_locked(int64_t bytes, int64_t blocks) {
  /* CAS: syncs raise the total's peak without the lock while no region is open. */
  nmw__atomic_max(&nmw__total.peak_bytes, bytes);
  nmw__atomic_max(&nmw__total.peak_blocks, blocks);
  if (tail) {
    if (bytes > tail->seg_peak_bytes) tail->seg_peak_bytes = bytes;
    if (blocks > tail->seg_peak_blocks) tail->seg_peak_blocks = blocks;
  }
  recompute_watermark_locked();
}

void nmw__raise_total_peak(int64_t bytes, int64_t blocks) {
  if (atomic_load(&nmw__total.regions_open) == 0) {
    /* No region open: the watermark is the total's peak, and both are raised as a
     * tag's peak is. A region that begins meanwhile counts itself open before it
     * sets the watermark; seen after the raise, it has the watermark set again
     * under the lock (the raise may have lifted it above the new region's). */
    nmw__atomic_max(&nmw__total.peak_bytes, bytes);
    nmw__atomic_max(&nmw__total.peak_blocks, blocks);
    nmw__atomic_max(&nmw__total.watermark_bytes, bytes);
    nmw__atomic_max(&nmw__total.watermark_blocks, blocks);
    if (atomic_load(&nmw__total.regions_open) == 0) return;
    uv_mutex_lock(&nmw__g.peak_lock);
    recompute_watermark_locked();
    uv_mutex_unlock(&nmw__g.peak_lock);
    return;
  }
  uv_mutex_lock(&nmw__g.peak_lock);
  nmw__raise_peaks_locked(bytes, blocks);
  uv_mutex_unlock(&nmw__g.peak_lock);
}

static void totals(uint64_t *allocs, uint64_t *bytes_allocated) {
  nmw_counters_t c;
  nmw_core_total_counters(&c);
  *allocs = c.allocs;
  *bytes_allocated = c.bytes_allocated;
}

int nmw_core_region_begin(nmw_region_t *r) {
  nmw__init();
  totals(&r->start_allocs, &r->start_bytes_allocated);
  uv_mutex_lock(&nmw__g.peak_lock);
  atomic_fetch_add(&nmw__total.regions_open, 1); /* before the watermark is set */
  nmw__current(NMW_ANY_TAG, &r->start_curr_bytes, &r->start_curr_blocks);
  r->seg_peak_bytes = r->start_curr_bytes;
  r->seg_peak_blocks = r->start_curr_blocks;
  r->prev = tail;
  r->next = NULL;
  if (tail)
    tail->next = r;
  else
    head = r;
  tail = r;
  r->open = 1;
  recompute_watermark_locked();
  uv_mutex_unlock(&nmw__g.peak_lock);
  /* The watermark fell: every shard's total room is set again at its next
   * allocation (the rooms hang off the tags' gates). */
  nmw__gate_bump_all();
  return NMW_OK;
}

int nmw_core_region_delta(const nmw_region_t *r, nmw_region_delta_t *out) {
  if (r->open != 1) return NMW_EINVAL;
  uint64_t allocs, bytes_allocated;
  totals(&allocs, &bytes_allocated);
  int64_t curr_bytes, curr_blocks;
  uv_mutex_lock(&nmw__g.peak_lock);
  nmw__current(NMW_ANY_TAG, &curr_bytes, &curr_blocks);
  int64_t peak_bytes = r->seg_peak_bytes, peak_blocks = r->seg_peak_blocks;
  for (const nmw_region_t *n = r->next; n; n = n->next) {
    if (n->seg_peak_bytes > peak_bytes) peak_bytes = n->seg_peak_bytes;
    if (n->seg_peak_blocks > peak_blocks) peak_blocks = n->seg_peak_blocks;
  }
  uv_mutex_unlock(&nmw__g.peak_lock);
  out->total_blocks = allocs - r->start_allocs;
  out->total_bytes = bytes_allocated - r->start_bytes_allocated;
  out->curr_bytes = curr_bytes - r->start_curr_bytes;
  out->curr_blocks = curr_blocks - r->start_curr_blocks;
  out->max_bytes = peak_bytes - r->start_curr_bytes;
  out->max_blocks = peak_blocks - r->start_curr_blocks;
  /* Under concurrency an unfolded shard can hold the current above the peak seen. */
  if (out->curr_bytes > out->max_bytes) out->max_bytes = out->curr_bytes;
  if (out->curr_blocks > out->max_blocks) out->max_blocks = out->curr_blocks;
  return NMW_OK;
}

void nmw_core_region_end(nmw_region_t *r) {
  if (r->open != 1) return;
  uv_mutex_lock(&nmw__g.peak_lock);
  if (r->prev) {
    /* The previous region saw this segment too. */
    if (r->seg_peak_bytes > r->prev->seg_peak_bytes) r->prev->seg_peak_bytes = r->seg_peak_bytes;
    if (r->seg_peak_blocks > r->prev->seg_peak_blocks) r->prev->seg_peak_blocks = r->seg_peak_blocks;
    r->prev->next = r->next;
  } else {
    head = r->next;
  }
  if (r->next)
    r->next->prev = r->prev;
  else
    tail = r->prev;
  r->prev = r->next = NULL;
  r->open = 0;
  atomic_fetch_sub(&nmw__total.regions_open, 1);
  recompute_watermark_locked();
  uv_mutex_unlock(&nmw__g.peak_lock);
}

void nmw_core_reset_peak(nmw_tag_t tag) {
  nmw__init();
  int64_t bytes, blocks;
  uint32_t count = nmw_core_tag_count();
  if (tag != NMW_ANY_TAG) {
    if (tag >= count) return;
    nmw__current(tag, &bytes, &blocks);
    atomic_store(&nmw__tags[tag].peak_bytes, bytes);
    atomic_store(&nmw__tags[tag].peak_blocks, blocks);
    nmw__gate_bump(tag);
    return;
  }
  for (nmw_tag_t t = 0; t < count; t++) nmw_core_reset_peak(t);
  uv_mutex_lock(&nmw__g.peak_lock);
  nmw__current(NMW_ANY_TAG, &bytes, &blocks);
  atomic_store(&nmw__total.peak_bytes, bytes);
  atomic_store(&nmw__total.peak_blocks, blocks);
  recompute_watermark_locked();
  uv_mutex_unlock(&nmw__g.peak_lock);
  nmw__gate_bump_all();
}
