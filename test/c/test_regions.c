/*
 * test_regions.c: regions measure the whole process (all tags) from a point:
 * what was allocated since, the net change, and the highest net change reached.
 * Only this thread allocates while a region is open, so the numbers are exact.
 */
#include "test_util.h"

#include <string.h>

static void expect_delta(const char *what, const nmw_region_t *r, uint64_t total_blocks,
                         uint64_t total_bytes, int64_t curr_blocks, int64_t curr_bytes,
                         int64_t max_blocks, int64_t max_bytes) {
  nmw_region_delta_t d;
  memset(&d, 0xa5, sizeof d);
  assert_int_equal(nmw_core_region_delta(r, &d), NMW_OK);
  int bad = 0;
#define CHECK(field, want)                                                               \
  if ((int64_t)d.field != (int64_t)(want)) {                                             \
    print_error("  %s.%s: expected %lld, observed %lld\n", what, #field, (long long)(want), \
                (long long)d.field);                                                     \
    bad = 1;                                                                             \
  }
  CHECK(total_blocks, total_blocks);
  CHECK(total_bytes, total_bytes);
  CHECK(curr_blocks, curr_blocks);
  CHECK(curr_bytes, curr_bytes);
  CHECK(max_blocks, max_blocks);
  CHECK(max_bytes, max_bytes);
#undef CHECK
  if (bad) fail();
}

static void test_region_counts(void **state) {
  (void)state;
  nmw_tag_t t1 = test_new_tag("t.regions.a");
  nmw_tag_t t2 = test_new_tag("t.regions.b");
  nmw_region_t r;
  assert_int_equal(nmw_core_region_begin(&r), NMW_OK);
  expect_delta("empty", &r, 0, 0, 0, 0, 0, 0);
  void *a = nmw_core_malloc(100, t1, NULL);
  void *b = nmw_core_malloc(50, t2, NULL); /* another tag: regions see all tags */
  assert_true(a && b);
  nmw_core_free(a, t1, NULL);
  void *c = nmw_core_malloc(10, t1, NULL);
  assert_non_null(c);
  expect_delta("100, 50, -100, 10", &r, 3, 160, 2, 60, 2, 150);
  nmw_core_free(b, t2, NULL);
  nmw_core_free(c, t1, NULL);
  expect_delta("all freed", &r, 3, 160, 0, 0, 2, 150);
  nmw_core_region_end(&r);
}

static void test_region_realloc(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.regions.realloc");
  nmw_region_t r;
  assert_int_equal(nmw_core_region_begin(&r), NMW_OK);
  void *p = nmw_core_malloc(100, tag, NULL);
  assert_non_null(p);
  p = nmw_core_realloc(p, 300, tag, NULL); /* growth counts as bytes allocated */
  assert_non_null(p);
  expect_delta("grown", &r, 1, 300, 1, 300, 1, 300);
  p = nmw_core_realloc(p, 50, tag, NULL);
  assert_non_null(p);
  expect_delta("shrunk", &r, 1, 300, 1, 50, 1, 300);
  nmw_core_free(p, tag, NULL);
  expect_delta("freed", &r, 1, 300, 0, 0, 1, 300);
  nmw_core_region_end(&r);
}

static void test_region_sees_frees_of_older_blocks(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.regions.older");
  void *old = nmw_core_malloc(1000, tag, NULL);
  assert_non_null(old);
  nmw_region_t r;
  assert_int_equal(nmw_core_region_begin(&r), NMW_OK);
  nmw_core_free(old, tag, NULL); /* net change goes negative; max stays 0 */
  expect_delta("older block freed", &r, 0, 0, -1, -1000, 0, 0);
  void *p = nmw_core_malloc(300, tag, NULL);
  assert_non_null(p);
  expect_delta("then 300", &r, 1, 300, 0, -700, 0, 0);
  nmw_core_free(p, tag, NULL);
  nmw_core_region_end(&r);
}

static void test_overlapping_regions(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.regions.overlap");
  nmw_region_t outer, inner;
  assert_int_equal(nmw_core_region_begin(&outer), NMW_OK);
  void *a = nmw_core_malloc(100, tag, NULL);
  assert_non_null(a);
  assert_int_equal(nmw_core_region_begin(&inner), NMW_OK);
  void *b = nmw_core_malloc(50, tag, NULL);
  assert_non_null(b);
  nmw_core_free(a, tag, NULL);
  expect_delta("outer", &outer, 2, 150, 1, 50, 2, 150);
  expect_delta("inner", &inner, 1, 50, 0, -50, 1, 50);
  nmw_core_region_end(&outer);
  /* Closing one leaves the other running. */
  void *c = nmw_core_malloc(500, tag, NULL);
  assert_non_null(c);
  expect_delta("inner after outer closed", &inner, 2, 550, 1, 450, 1, 450);
  nmw_core_free(b, tag, NULL);
  nmw_core_free(c, tag, NULL);
  expect_delta("inner all freed", &inner, 2, 550, -1, -100, 1, 450);
  nmw_core_region_end(&inner);
}

static void test_region_slots_run_out_and_come_back(void **state) {
  (void)state;
  static nmw_region_t regions[NMW_REGION_MAX];
  for (int i = 0; i < NMW_REGION_MAX; i++)
    assert_int_equal(nmw_core_region_begin(&regions[i]), NMW_OK);
  nmw_region_t extra;
  assert_int_equal(nmw_core_region_begin(&extra), NMW_ENOSPC);
  /* Closing one frees its slot for the next begin. */
  nmw_core_region_end(&regions[100]);
  assert_int_equal(nmw_core_region_begin(&extra), NMW_OK);
  nmw_region_t another;
  assert_int_equal(nmw_core_region_begin(&another), NMW_ENOSPC);

  /* All of them still count. */
  nmw_tag_t tag = test_new_tag("t.regions.full");
  void *p = nmw_core_malloc(77, tag, NULL);
  assert_non_null(p);
  expect_delta("first", &regions[0], 1, 77, 1, 77, 1, 77);
  expect_delta("last", &regions[NMW_REGION_MAX - 1], 1, 77, 1, 77, 1, 77);
  expect_delta("reopened", &extra, 1, 77, 1, 77, 1, 77);
  nmw_core_free(p, tag, NULL);

  for (int i = 0; i < NMW_REGION_MAX; i++)
    if (i != 100) nmw_core_region_end(&regions[i]);
  nmw_core_region_end(&extra);
  /* Every slot is free again. */
  for (int i = 0; i < NMW_REGION_MAX; i++)
    assert_int_equal(nmw_core_region_begin(&regions[i]), NMW_OK);
  for (int i = 0; i < NMW_REGION_MAX; i++) nmw_core_region_end(&regions[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_region_counts),
      cmocka_unit_test(test_region_realloc),
      cmocka_unit_test(test_region_sees_frees_of_older_blocks),
      cmocka_unit_test(test_overlapping_regions),
      cmocka_unit_test(test_region_slots_run_out_and_come_back),
  };
  return cmocka_run_group_tests_name("regions", tests, NULL, NULL);
}
