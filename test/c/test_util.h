/*
 * test_util.h: helpers shared by the cmocka tests of the core.
 *
 * The allocator is process-wide and cannot be reset, so every test registers
 * its own fresh tags and asserts on per-tag counters, per-site rows, or on
 * deltas of the totals. These helpers make those assertions one line each and,
 * when they fail, print every field that differs (expected and observed) so a
 * failure says what the implementation did, not just that it was wrong.
 */
#ifndef NMW_TEST_UTIL_H
#define NMW_TEST_UTIL_H

/* cmocka needs these before its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/core/core.h"

/* Registers name with no flags and returns its id. Fails the test when the name
 * is already registered: tests rely on starting from zero counters. */
nmw_tag_t test_new_tag(const char *name);

/* Per-tag and total counters; the tag must be registered. */
nmw_counters_t test_tag_counters(nmw_tag_t tag);
nmw_counters_t test_total_counters(void);

/* The tracker's own overhead (nmw_core_overhead) now. */
nmw_overhead_t test_overhead(void);

/* after - before, field by field. Peaks are copied from after (a delta of peaks
 * means nothing); curr_* become net changes. */
nmw_counters_t test_counters_sub(const nmw_counters_t *after, const nmw_counters_t *before);

/* Checks the five monotonic counters, and that curr_bytes/curr_blocks agree with
 * them (curr = allocated - freed). Prints each mismatch and fails at file:line. */
void test_expect_counts(const char *file, int line, const char *what, const nmw_counters_t *got,
                        uint64_t allocs, uint64_t frees, uint64_t reallocs,
                        uint64_t bytes_allocated, uint64_t bytes_freed);
#define EXPECT_COUNTS(what, got, allocs, frees, reallocs, bytes_allocated, bytes_freed)       \
  test_expect_counts(__FILE__, __LINE__, (what), (got), (allocs), (frees), (reallocs), \
                     (bytes_allocated), (bytes_freed))

void test_expect_peaks(const char *file, int line, const char *what, const nmw_counters_t *got,
                       int64_t peak_bytes, int64_t peak_blocks);
#define EXPECT_PEAKS(what, got, peak_bytes, peak_blocks) \
  test_expect_peaks(__FILE__, __LINE__, (what), (got), (peak_bytes), (peak_blocks))

/* Every field of two counter sets, peaks and limit_denied included. */
void test_expect_same(const char *file, int line, const char *what, const nmw_counters_t *got,
                      const nmw_counters_t *want);
#define EXPECT_SAME(what, got, want) test_expect_same(__FILE__, __LINE__, (what), (got), (want))

/* ---- per-site rows ---- */

/* All slot rows, in a buffer owned by the helper (valid until the next call). */
size_t test_slot_rows(const nmw_slot_row_t **rows);

/* Number of rows for (site, tag); site NULL means the row with file == NULL.
 * Copies the last match to *out when out is not NULL. A row matches a site when
 * file, func and line are those of the record. */
int test_find_row(const nmw_site_t *site, nmw_tag_t tag, nmw_slot_row_t *out);

void test_expect_row(const char *file, int line, const nmw_site_t *site, nmw_tag_t tag,
                     uint64_t allocs, uint64_t frees, uint64_t reallocs, uint64_t bytes_allocated,
                     uint64_t bytes_freed);
#define EXPECT_ROW(site, tag, allocs, frees, reallocs, bytes_allocated, bytes_freed)        \
  test_expect_row(__FILE__, __LINE__, (site), (tag), (allocs), (frees), (reallocs), \
                  (bytes_allocated), (bytes_freed))
#define EXPECT_NO_ROW(site, tag) assert_int_equal(test_find_row((site), (tag), NULL), 0)

/* ---- misuse ---- */

/* The global count of every kind. */
void test_misuse_snapshot(uint64_t counts[NMW_MISUSE_KIND_COUNT]);
/* Fails unless the global counts moved by exactly the given deltas (0 for kinds
 * not listed): pass pairs of (kind, delta), terminated by -1. */
void test_expect_misuse_delta(const char *file, int line,
                              const uint64_t before[NMW_MISUSE_KIND_COUNT], ...);
#define EXPECT_MISUSE_DELTA(before, ...) \
  test_expect_misuse_delta(__FILE__, __LINE__, (before), __VA_ARGS__)
/* Count of kind in the misuse row of site (0 when the site has no row). */
uint64_t test_misuse_at(const nmw_site_t *site, nmw_misuse_kind_t kind);

/* ---- a small deterministic PRNG (splitmix64): same sequence on every run ---- */
typedef struct test_rng {
  uint64_t state;
} test_rng_t;

static inline uint64_t test_rng_next(test_rng_t *rng) {
  uint64_t z = (rng->state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Uniform in [0, bound). The modulo bias is irrelevant for these tests. */
static inline uint64_t test_rng_below(test_rng_t *rng, uint64_t bound) {
  return test_rng_next(rng) % bound;
}

#endif /* NMW_TEST_UTIL_H */
