/*
 * misuse.c: counting and reporting misuse of the allocator.
 *
 * Misuse is rare, so it takes a lock. Each kind is counted process-wide and per
 * site (the site of the call that misbehaved; for overruns, the site that
 * allocated the block). The first occurrence of each kind at each site is
 * reported as one line; later ones are only counted.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_ROWS 1024

typedef struct misuse_row {
  nmw_site_t *site; /* NULL: calls without a site, and overflow of the table */
  uint64_t counts[NMW_MISUSE_KIND_COUNT];
  uint32_t reported; /* bit per kind */
} misuse_row_t;

static const char *const kind_names[NMW_MISUSE_KIND_COUNT] = {
    "double_free", "foreign_free", "overrun", "tag_mismatch",
    "bad_tag",     "untrack_unknown", "track_twice", "external_below_zero",
    "double_reported", "double_finalize", "finalize_after_teardown",
};

static _Atomic uint64_t totals[NMW_MISUSE_KIND_COUNT];
static misuse_row_t *rows;
static size_t row_count;
static uv_mutex_t lock;
static uv_once_t lock_once = UV_ONCE_INIT;
static nmw_report_fn report_fn;
static void *report_data;

static void init_lock(void) { uv_mutex_init(&lock); }

const char *nmw_core_misuse_name(nmw_misuse_kind_t kind) {
  return (unsigned)kind < NMW_MISUSE_KIND_COUNT ? kind_names[kind] : "unknown";
}

uint64_t nmw_core_misuse_count(nmw_misuse_kind_t kind) {
  return (unsigned)kind < NMW_MISUSE_KIND_COUNT ? atomic_load(&totals[kind]) : 0;
}

void nmw_core_set_report(nmw_report_fn fn, void *data) {
  uv_once(&lock_once, init_lock);
  uv_mutex_lock(&lock);
  report_fn = fn;
  report_data = data;
  uv_mutex_unlock(&lock);
}

static misuse_row_t *row_for_locked(nmw_site_t *site) {
  if (!rows) {
    rows = nmw__meta_calloc(MAX_ROWS, sizeof *rows);
    if (!rows) return NULL;
    row_count = 1; /* row 0: no site */
  }
  if (site == NULL) return &rows[0];
  for (size_t i = 1; i < row_count; i++)
    if (rows[i].site == site) return &rows[i];
  if (row_count == MAX_ROWS) return &rows[0];
  rows[row_count].site = site;
  return &rows[row_count++];
}

void nmw__misuse(nmw_misuse_kind_t kind, nmw_site_t *site, const char *detail) {
  atomic_fetch_add(&totals[kind], 1);
  uv_once(&lock_once, init_lock);
  uv_mutex_lock(&lock);
  misuse_row_t *row = row_for_locked(site);
  bool first = false;
  if (row) {
    row->counts[kind]++;
    first = !(row->reported & (1u << kind));
    row->reported |= 1u << kind;
  }
  nmw_report_fn fn = report_fn;
  void *data = report_data;
  uv_mutex_unlock(&lock);
  if (!first) return;
  char message[512];
  if (site && site->file)
    snprintf(message, sizeof message, "native-memwatch: %s at %s:%u in %s(): %s", kind_names[kind],
             site->file, (unsigned)site->line, site->func ? site->func : "?", detail);
  else
    snprintf(message, sizeof message, "native-memwatch: %s at an unknown site: %s",
             kind_names[kind], detail);
  if (fn)
    fn(message, data);
  else
    fprintf(stderr, "%s (reported once per site)\n", message);
}

size_t nmw_core_misuse_rows(nmw_misuse_row_t *out, size_t cap) {
  uv_once(&lock_once, init_lock);
  uv_mutex_lock(&lock);
  size_t n = 0;
  for (size_t i = 0; i < row_count && n < cap; i++) {
    uint64_t any = 0;
    for (int k = 0; k < NMW_MISUSE_KIND_COUNT; k++) any |= rows[i].counts[k];
    if (!any) continue;
    nmw_site_t *site = rows[i].site;
    out[n].file = site ? site->file : NULL;
    out[n].func = site ? site->func : NULL;
    out[n].line = site ? site->line : 0;
    memcpy(out[n].counts, rows[i].counts, sizeof out[n].counts);
    n++;
  }
  uv_mutex_unlock(&lock);
  return n;
}
