/*
 * test_misuse.c: every kind of misuse is detected, counted globally and per
 * site, leaves the counters alone (except an overrun, whose block is still
 * freed), and is reported once per (site, kind).
 */
#include "test_util.h"

#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

/* One static record per helper; each test uses its own so per-site counts and
 * the once-per-site report start from zero. */
static nmw_site_t *site_double_free(void) { return NMW_SITE(); }
static nmw_site_t *site_double_realloc(void) { return NMW_SITE(); }
static nmw_site_t *site_foreign(void) { return NMW_SITE(); }
static nmw_site_t *site_overrun_alloc(void) { return NMW_SITE(); }
static nmw_site_t *site_overrun_free(void) { return NMW_SITE(); }
static nmw_site_t *site_mismatch(void) { return NMW_SITE(); }
static nmw_site_t *site_bad_tag(void) { return NMW_SITE(); }
static nmw_site_t *site_untrack(void) { return NMW_SITE(); }
static nmw_site_t *site_track_twice(void) { return NMW_SITE(); }
static nmw_site_t *report_df(void) { return NMW_SITE(); }
static nmw_site_t *report_ff(void) { return NMW_SITE(); }
static nmw_site_t *report_ov_alloc(void) { return NMW_SITE(); }
static nmw_site_t *report_ov_free(void) { return NMW_SITE(); }
static nmw_site_t *report_mm(void) { return NMW_SITE(); }

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_DOUBLE_FREE), "double_free");
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_FOREIGN_FREE), "foreign_free");
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_OVERRUN), "overrun");
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_UNTRACK_UNKNOWN), "untrack_unknown");
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_TRACK_TWICE), "track_twice");
  /* The rest only need to be distinct names. */
  for (int a = 0; a < NMW_MISUSE_KIND_COUNT; a++) {
    assert_non_null(nmw_core_misuse_name((nmw_misuse_kind_t)a));
    for (int b = 0; b < a; b++)
      assert_string_not_equal(nmw_core_misuse_name((nmw_misuse_kind_t)a),
                              nmw_core_misuse_name((nmw_misuse_kind_t)b));
  }
}

static void test_double_free(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.double");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  void *p = nmw_core_malloc(24, tag, NULL);
  assert_non_null(p);
  nmw_core_free(p, tag, NULL);
  nmw_counters_t tag_after_free = test_tag_counters(tag);
  nmw_counters_t total_after_free = test_total_counters();
  nmw_core_free(p, tag, site_double_free()); /* right after the first free */
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FREE, 1, -1);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_SAME("tag after double free", &c, &tag_after_free);
  EXPECT_COUNTS("tag", &c, 1, 1, 0, 24, 24);
  nmw_counters_t t = test_total_counters();
  EXPECT_SAME("total after double free", &t, &total_after_free);
  assert_int_equal(test_misuse_at(site_double_free(), NMW_MISUSE_DOUBLE_FREE), 1);
}

static void test_realloc_of_freed_block(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.double-realloc");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  void *p = nmw_core_malloc(40, tag, NULL);
  assert_non_null(p);
  nmw_core_free(p, tag, NULL);
  nmw_counters_t total_after_free = test_total_counters();
  assert_null(nmw_core_realloc(p, 100, tag, site_double_realloc()));
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FREE, 1, -1);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 1, 1, 0, 40, 40);
  nmw_counters_t t = test_total_counters();
  EXPECT_SAME("total", &t, &total_after_free);
  assert_int_equal(test_misuse_at(site_double_realloc(), NMW_MISUSE_DOUBLE_FREE), 1);
}

static unsigned char static_array[256] __attribute__((aligned(16)));

static void test_foreign_free(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.foreign");
  unsigned char *ours = nmw_core_malloc(100, tag, NULL);
  assert_non_null(ours);
  memset(ours, 0x42, 100);
  void *libc_block = malloc(64);
  assert_non_null(libc_block);
  memset(libc_block, 0x42, 64);
  nmw_counters_t tag_before = test_tag_counters(tag);
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);

  nmw_core_free(libc_block, tag, site_foreign());
  nmw_core_free(ours + 16, tag, site_foreign());
  nmw_core_free(static_array, tag, site_foreign());
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_FOREIGN_FREE, 3, -1);
  /* realloc refuses a foreign pointer the same way */
  assert_null(nmw_core_realloc(libc_block, 128, tag, site_foreign()));
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_FOREIGN_FREE, 4, -1);
  assert_int_equal(test_misuse_at(site_foreign(), NMW_MISUSE_FOREIGN_FREE), 4);

  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_SAME("tag", &c, &tag_before);
  nmw_counters_t t = test_total_counters();
  EXPECT_SAME("total", &t, &total_before);
  /* Nothing was freed: the tracked block is intact and still ours. */
  assert_int_equal(nmw_core_block_size(ours), 100);
  assert_int_equal(nmw_core_block_tag(ours), tag);
  for (int i = 0; i < 100; i++) assert_int_equal(ours[i], 0x42);
  nmw_core_free(ours, tag, NULL);
  free(libc_block); /* still ours to free: ASan would flag it if it had been freed */
  c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 1, 1, 0, 100, 100);
}

/* The probe of a page-aligned pointer must not fault: pointers at the start of a
 * page after a PROT_NONE guard page, after an unmapped page, and on an mmapped
 * page after readable garbage are foreign frees, counted, and nothing crashes. */
static void test_foreign_free_after_guard_page(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.guard");
  unsigned char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(m != MAP_FAILED);
  assert_int_equal(mprotect(m, 4096, PROT_NONE), 0);
  memset(m + 4096, 0xab, 2 * 4096);
  unsigned char *u = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(u != MAP_FAILED);
  assert_int_equal(munmap(u, 4096), 0);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  nmw_core_free(m + 4096, tag, site_foreign());     /* after the guard page */
  nmw_core_free(m + 2 * 4096, tag, site_foreign()); /* after readable garbage */
  nmw_core_free(u + 4096, tag, site_foreign());     /* after an unmapped page */
  assert_null(nmw_core_realloc(m + 4096, 64, tag, site_foreign()));
  assert_int_equal(nmw_core_block_size(m + 4096), 0);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_FOREIGN_FREE, 4, -1);
  /* A page-aligned block of ours is still recognised and freed. */
  void *aligned = nmw_core_aligned_alloc(4096, 100, tag, NULL);
  assert_non_null(aligned);
  assert_int_equal((uintptr_t)aligned & 4095u, 0);
  assert_int_equal(nmw_core_block_size(aligned), 100);
  nmw_core_free(aligned, tag, NULL);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 1, 1, 0, 100, 100);
  munmap(m, 3 * 4096);
  munmap(u + 4096, 4096);
}

static void test_overrun(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.overrun");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  unsigned char *p = nmw_core_malloc(10, tag, site_overrun_alloc());
  assert_non_null(p);
  p[10] ^= 0xff; /* one byte past the end: the canary */
  nmw_core_free(p, tag, site_overrun_free());
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_OVERRUN, 1, -1);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("overrun block is freed", &c, 1, 1, 0, 10, 10);
  EXPECT_ROW(site_overrun_alloc(), tag, 1, 1, 0, 10, 10);
  /* Counted against the site that allocated the block, not the one freeing it. */
  assert_int_equal(test_misuse_at(site_overrun_alloc(), NMW_MISUSE_OVERRUN), 1);
  assert_int_equal(test_misuse_at(site_overrun_free(), NMW_MISUSE_OVERRUN), 0);
}

static void test_per_site_rows(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.sites");
  nmw_tag_t other = test_new_tag("t.misuse.sites-other");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);

  void *p = nmw_core_malloc(8, tag, NULL);
  assert_non_null(p);
  nmw_core_free(p, other, site_mismatch());
  assert_int_equal(test_misuse_at(site_mismatch(), NMW_MISUSE_TAG_MISMATCH), 1);

  p = nmw_core_malloc(8, 4000, site_bad_tag());
  assert_non_null(p);
  nmw_core_free(p, NMW_ANY_TAG, NULL);
  assert_int_equal(test_misuse_at(site_bad_tag(), NMW_MISUSE_BAD_TAG), 1);

  char *mem = malloc(8);
  assert_non_null(mem);
  assert_int_equal(nmw_core_untrack(mem, site_untrack()), NMW_ENOENT);
  assert_int_equal(test_misuse_at(site_untrack(), NMW_MISUSE_UNTRACK_UNKNOWN), 1);
  assert_int_equal(nmw_core_track(mem, 8, tag, NULL), 0);
  assert_int_equal(nmw_core_track(mem, 8, tag, site_track_twice()), 0);
  assert_int_equal(test_misuse_at(site_track_twice(), NMW_MISUSE_TRACK_TWICE), 1);
  assert_int_equal(nmw_core_untrack(mem, NULL), 0);
  free(mem);

  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_TAG_MISMATCH, 1, NMW_MISUSE_BAD_TAG, 1,
                      NMW_MISUSE_UNTRACK_UNKNOWN, 1, NMW_MISUSE_TRACK_TWICE, 1, -1);
  /* Each site's row counts only its own kind. */
  assert_int_equal(test_misuse_at(site_mismatch(), NMW_MISUSE_BAD_TAG), 0);
  assert_int_equal(test_misuse_at(site_bad_tag(), NMW_MISUSE_TAG_MISMATCH), 0);
  assert_int_equal(test_misuse_at(site_untrack(), NMW_MISUSE_TRACK_TWICE), 0);
  nmw_counters_t c = test_tag_counters(tag);
  /* one malloc + track, track again (old record freed), untrack */
  EXPECT_COUNTS("tag", &c, 3, 3, 0, 24, 24);
}

/* ---- the report callback ---- */

enum { MAX_MESSAGES = 32 };
typedef struct captured {
  int count;
  char messages[MAX_MESSAGES][512];
} captured_t;

static void capture_report(const char *message, void *data) {
  captured_t *cap = data;
  if (cap->count < MAX_MESSAGES)
    snprintf(cap->messages[cap->count], sizeof cap->messages[0], "%s", message);
  cap->count++;
}

/* Number of captured messages for kind at site; prints what was captured when
 * the shape is wrong, so a failure shows the actual text. */
static int messages_for(const captured_t *cap, nmw_misuse_kind_t kind, const nmw_site_t *site) {
  char prefix[64], where[256];
  snprintf(prefix, sizeof prefix, "native-memwatch: %s at ", nmw_core_misuse_name(kind));
  snprintf(where, sizeof where, "%s:%u", site->file, site->line);
  int n = 0;
  for (int i = 0; i < cap->count && i < MAX_MESSAGES; i++)
    if (strncmp(cap->messages[i], prefix, strlen(prefix)) == 0 && strstr(cap->messages[i], where))
      n++;
  if (n != 1) {
    print_error("  expected 1 message starting \"%s\" containing \"%s\", got %d of:\n", prefix,
                where, n);
    for (int i = 0; i < cap->count && i < MAX_MESSAGES; i++)
      print_error("    %s\n", cap->messages[i]);
  }
  return n;
}

static void test_report_once_per_site_and_kind(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.misuse.report");
  nmw_tag_t other = test_new_tag("t.misuse.report-other");
  static captured_t cap;
  memset(&cap, 0, sizeof cap);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  nmw_core_set_report(capture_report, &cap);

  for (int i = 0; i < 3; i++) {
    void *p = nmw_core_malloc(16, tag, NULL);
    assert_non_null(p);
    nmw_core_free(p, tag, NULL);
    nmw_core_free(p, tag, report_df());

    void *libc_block = malloc(64);
    assert_non_null(libc_block);
    nmw_core_free(libc_block, tag, report_ff());
    free(libc_block);

    unsigned char *q = nmw_core_malloc(10, tag, report_ov_alloc());
    assert_non_null(q);
    q[10] ^= 0xff;
    nmw_core_free(q, tag, report_ov_free());

    void *r = nmw_core_malloc(4, tag, NULL);
    assert_non_null(r);
    nmw_core_free(r, other, report_mm());
  }
  nmw_core_set_report(NULL, NULL);

  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FREE, 3, NMW_MISUSE_FOREIGN_FREE, 3,
                      NMW_MISUSE_OVERRUN, 3, NMW_MISUSE_TAG_MISMATCH, 3, -1);
  assert_int_equal(test_misuse_at(report_df(), NMW_MISUSE_DOUBLE_FREE), 3);
  assert_int_equal(test_misuse_at(report_ff(), NMW_MISUSE_FOREIGN_FREE), 3);
  assert_int_equal(test_misuse_at(report_ov_alloc(), NMW_MISUSE_OVERRUN), 3);
  assert_int_equal(test_misuse_at(report_mm(), NMW_MISUSE_TAG_MISMATCH), 3);

  assert_int_equal(messages_for(&cap, NMW_MISUSE_DOUBLE_FREE, report_df()), 1);
  assert_int_equal(messages_for(&cap, NMW_MISUSE_FOREIGN_FREE, report_ff()), 1);
  /* An overrun is reported against the site that allocated the block. */
  assert_int_equal(messages_for(&cap, NMW_MISUSE_OVERRUN, report_ov_alloc()), 1);
  assert_int_equal(messages_for(&cap, NMW_MISUSE_TAG_MISMATCH, report_mm()), 1);
  assert_int_equal(cap.count, 4); /* once per (site, kind), not once per misuse */
  for (int i = 0; i < cap.count; i++)
    assert_null(strchr(cap.messages[i], '\n')); /* no trailing newline */

  /* After restoring stderr the callback is no longer called. */
  void *p = nmw_core_malloc(16, tag, NULL);
  assert_non_null(p);
  nmw_core_free(p, other, NULL);
  assert_int_equal(cap.count, 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_double_free),
      cmocka_unit_test(test_realloc_of_freed_block),
      cmocka_unit_test(test_foreign_free),
      cmocka_unit_test(test_foreign_free_after_guard_page),
      cmocka_unit_test(test_overrun),
      cmocka_unit_test(test_per_site_rows),
      cmocka_unit_test(test_report_once_per_site_and_kind),
  };
  return cmocka_run_group_tests_name("misuse", tests, NULL, NULL);
}
