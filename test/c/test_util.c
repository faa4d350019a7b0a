/* test_util.c: see test_util.h. */
#include "test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nmw_tag_t test_new_tag(const char *name) {
  nmw_tag_t tag = NMW_ANY_TAG;
  /* A name already present would carry counts from an earlier test. */
  assert_int_equal(nmw_core_tag_lookup(name, &tag), NMW_ENOENT);
  assert_int_equal(nmw_core_tag_register(name, 0, &tag), NMW_OK);
  assert_true(tag < NMW_TAG_MAX);
  assert_string_equal(nmw_core_tag_name(tag), name);
  return tag;
}

nmw_counters_t test_tag_counters(nmw_tag_t tag) {
  nmw_counters_t c;
  memset(&c, 0xa5, sizeof c); /* garbage, so an out parameter left unset shows */
  assert_true(nmw_core_tag_counters(tag, &c));
  return c;
}

nmw_overhead_t test_overhead(void) {
  nmw_overhead_t o;
  nmw_core_overhead(&o);
  return o;
}

nmw_counters_t test_total_counters(void) {
  nmw_counters_t c;
  memset(&c, 0xa5, sizeof c);
  nmw_core_total_counters(&c);
  return c;
}

nmw_counters_t test_counters_sub(const nmw_counters_t *after, const nmw_counters_t *before) {
  nmw_counters_t d = *after;
  d.allocs -= before->allocs;
  d.frees -= before->frees;
  d.reallocs -= before->reallocs;
  d.bytes_allocated -= before->bytes_allocated;
  d.bytes_freed -= before->bytes_freed;
  d.curr_bytes -= before->curr_bytes;
  d.curr_blocks -= before->curr_blocks;
  d.limit_denied -= before->limit_denied;
  return d;
}

/* Compares one field; prints it when it differs. Returns 1 on a mismatch. */
static int field_u(const char *what, const char *field, uint64_t got, uint64_t want) {
  if (got == want) return 0;
  print_error("  %s.%s: expected %" PRIu64 ", observed %" PRIu64 "\n", what, field, want, got);
  return 1;
}

static int field_i(const char *what, const char *field, int64_t got, int64_t want) {
  if (got == want) return 0;
  print_error("  %s.%s: expected %" PRId64 ", observed %" PRId64 "\n", what, field, want, got);
  return 1;
}

void test_expect_counts(const char *file, int line, const char *what, const nmw_counters_t *got,
                        uint64_t allocs, uint64_t frees, uint64_t reallocs,
                        uint64_t bytes_allocated, uint64_t bytes_freed) {
  int bad = 0;
  bad += field_u(what, "allocs", got->allocs, allocs);
  bad += field_u(what, "frees", got->frees, frees);
  bad += field_u(what, "reallocs", got->reallocs, reallocs);
  bad += field_u(what, "bytes_allocated", got->bytes_allocated, bytes_allocated);
  bad += field_u(what, "bytes_freed", got->bytes_freed, bytes_freed);
  bad += field_i(what, "curr_bytes", got->curr_bytes, (int64_t)(bytes_allocated - bytes_freed));
  bad += field_i(what, "curr_blocks", got->curr_blocks, (int64_t)(allocs - frees));
  if (bad) _fail(file, line);
}

void test_expect_peaks(const char *file, int line, const char *what, const nmw_counters_t *got,
                       int64_t peak_bytes, int64_t peak_blocks) {
  int bad = 0;
  bad += field_i(what, "peak_bytes", got->peak_bytes, peak_bytes);
  bad += field_i(what, "peak_blocks", got->peak_blocks, peak_blocks);
  if (bad) _fail(file, line);
}

void test_expect_same(const char *file, int line, const char *what, const nmw_counters_t *got,
                      const nmw_counters_t *want) {
  int bad = 0;
  bad += field_u(what, "allocs", got->allocs, want->allocs);
  bad += field_u(what, "frees", got->frees, want->frees);
  bad += field_u(what, "reallocs", got->reallocs, want->reallocs);
  bad += field_u(what, "bytes_allocated", got->bytes_allocated, want->bytes_allocated);
  bad += field_u(what, "bytes_freed", got->bytes_freed, want->bytes_freed);
  bad += field_i(what, "curr_bytes", got->curr_bytes, want->curr_bytes);
  bad += field_i(what, "curr_blocks", got->curr_blocks, want->curr_blocks);
  bad += field_i(what, "peak_bytes", got->peak_bytes, want->peak_bytes);
  bad += field_i(what, "peak_blocks", got->peak_blocks, want->peak_blocks);
  bad += field_u(what, "limit_denied", got->limit_denied, want->limit_denied);
  if (bad) _fail(file, line);
}

/* ---- rows ---- */

/* Big enough for every slot the core can hand out; reused between calls. */
static nmw_slot_row_t *slot_rows_buffer;

size_t test_slot_rows(const nmw_slot_row_t **rows) {
  if (!slot_rows_buffer) {
    slot_rows_buffer = calloc(NMW_SLOT_MAX, sizeof *slot_rows_buffer);
    assert_non_null(slot_rows_buffer);
  }
  size_t n = nmw_core_slot_rows(slot_rows_buffer, NMW_SLOT_MAX);
  assert_true(n <= NMW_SLOT_MAX);
  *rows = slot_rows_buffer;
  return n;
}

static int same_str(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

static int row_is_site(const char *file, const char *func, uint32_t line,
                       const nmw_site_t *site) {
  if (!site) return file == NULL;
  return same_str(file, site->file) && same_str(func, site->func) && line == site->line;
}

int test_find_row(const nmw_site_t *site, nmw_tag_t tag, nmw_slot_row_t *out) {
  const nmw_slot_row_t *rows;
  size_t n = test_slot_rows(&rows);
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    if (rows[i].tag != tag || !row_is_site(rows[i].file, rows[i].func, rows[i].line, site))
      continue;
    found++;
    if (out) *out = rows[i];
  }
  return found;
}

void test_expect_row(const char *file, int line, const nmw_site_t *site, nmw_tag_t tag,
                     uint64_t allocs, uint64_t frees, uint64_t reallocs, uint64_t bytes_allocated,
                     uint64_t bytes_freed) {
  nmw_slot_row_t row;
  char what[160];
  snprintf(what, sizeof what, "row(%s:%u %s, tag %u)", site ? site->file : "NULL",
           site ? site->line : 0, site ? site->func : "-", tag);
  int found = test_find_row(site, tag, &row);
  if (found != 1) {
    print_error("  %s: expected exactly 1 row, observed %d\n", what, found);
    _fail(file, line);
  }
  nmw_counters_t c;
  memset(&c, 0, sizeof c);
  c.allocs = row.allocs;
  c.frees = row.frees;
  c.reallocs = row.reallocs;
  c.bytes_allocated = row.bytes_allocated;
  c.bytes_freed = row.bytes_freed;
  c.curr_bytes = row.curr_bytes;
  c.curr_blocks = row.curr_blocks;
  test_expect_counts(file, line, what, &c, allocs, frees, reallocs, bytes_allocated, bytes_freed);
}

/* ---- misuse ---- */

void test_misuse_snapshot(uint64_t counts[NMW_MISUSE_KIND_COUNT]) {
  for (int k = 0; k < NMW_MISUSE_KIND_COUNT; k++)
    counts[k] = nmw_core_misuse_count((nmw_misuse_kind_t)k);
}

void test_expect_misuse_delta(const char *file, int line,
                              const uint64_t before[NMW_MISUSE_KIND_COUNT], ...) {
  uint64_t want[NMW_MISUSE_KIND_COUNT] = {0};
  va_list ap;
  va_start(ap, before);
  for (;;) {
    int kind = va_arg(ap, int);
    if (kind < 0) break;
    want[kind] = (uint64_t)va_arg(ap, int);
  }
  va_end(ap);
  int bad = 0;
  for (int k = 0; k < NMW_MISUSE_KIND_COUNT; k++) {
    uint64_t delta = nmw_core_misuse_count((nmw_misuse_kind_t)k) - before[k];
    const char *name = nmw_core_misuse_name((nmw_misuse_kind_t)k);
    bad += field_u("misuse delta", name ? name : "?", delta, want[k]);
  }
  if (bad) _fail(file, line);
}

uint64_t test_misuse_at(const nmw_site_t *site, nmw_misuse_kind_t kind) {
  static nmw_misuse_row_t *rows;
  if (!rows) {
    rows = calloc(NMW_SLOT_MAX, sizeof *rows);
    assert_non_null(rows);
  }
  size_t n = nmw_core_misuse_rows(rows, NMW_SLOT_MAX);
  assert_true(n <= NMW_SLOT_MAX);
  int found = 0;
  uint64_t count = 0;
  for (size_t i = 0; i < n; i++) {
    if (!row_is_site(rows[i].file, rows[i].func, rows[i].line, site)) continue;
    found++;
    count = rows[i].counts[kind];
  }
  assert_true(found <= 1); /* one row per site */
  return count;
}
