/*
 * test_regions.c: regions measure the whole process (all tags) from a point:
 * what was allocated since, the net change, and the highest net change reached.
 * Only this thread allocates while a region is open, so the numbers are exact.
 */
#include "test_util.h"

#include <stdlib.h>
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

/* No fixed table: 100,000 regions open at once all count, and close in any order. */
static void test_many_regions(void **state) {
  (void)state;
  enum { N = 100000 };
  nmw_region_t *regions = calloc(N, sizeof *regions);
  assert_non_null(regions);
  for (int i = 0; i < N; i++) assert_int_equal(nmw_core_region_begin(&regions[i]), NMW_OK);
  nmw_tag_t tag = test_new_tag("t.regions.many");
  void *p = nmw_core_malloc(77, tag, NULL);
  assert_non_null(p);
  expect_delta("first", &regions[0], 1, 77, 1, 77, 1, 77);
  expect_delta("last", &regions[N - 1], 1, 77, 1, 77, 1, 77);
  nmw_core_free(p, tag, NULL);
  /* Every other one closed, then the rest from the newest down. */
  for (int i = 0; i < N; i += 2) nmw_core_region_end(&regions[i]);
  expect_delta("odd after evens closed", &regions[1], 1, 77, 0, 0, 1, 77);
  for (int i = N - 1; i >= 0; i -= 2) nmw_core_region_end(&regions[i]);
  /* Closed twice: nothing happens. */
  nmw_core_region_end(&regions[5]);
  nmw_region_delta_t d;
  assert_int_equal(nmw_core_region_delta(&regions[5], &d), NMW_EINVAL);
  free(regions);
}

/* A region closed in the middle hands its peak to the older ones, not the newer. */
static void test_region_closed_in_the_middle(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.regions.middle");
  nmw_region_t a, b, c;
  assert_int_equal(nmw_core_region_begin(&a), NMW_OK);
  assert_int_equal(nmw_core_region_begin(&b), NMW_OK);
  void *p = nmw_core_malloc(300, tag, NULL);
  assert_non_null(p);
  assert_int_equal(nmw_core_region_begin(&c), NMW_OK);
  nmw_core_free(p, tag, NULL);
  /* b's segment held the peak of 300; closing b must keep it for a. */
  nmw_core_region_end(&b);
  expect_delta("a", &a, 1, 300, 0, 0, 1, 300);
  expect_delta("c", &c, 0, 0, -1, -300, 0, 0);
  void *q = nmw_core_malloc(10, tag, NULL);
  assert_non_null(q);
  expect_delta("a after q", &a, 2, 310, 1, 10, 1, 300);
  expect_delta("c after q", &c, 1, 10, 0, -290, 0, 0);
  nmw_core_region_end(&c);
  void *r = nmw_core_malloc(500, tag, NULL);
  assert_non_null(r);
  expect_delta("a after r", &a, 3, 810, 2, 510, 2, 510);
  nmw_core_free(q, tag, NULL);
  nmw_core_free(r, tag, NULL);
  nmw_core_region_end(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_region_counts),
      cmocka_unit_test(test_region_realloc),
      cmocka_unit_test(test_region_sees_frees_of_older_blocks),
      cmocka_unit_test(test_overlapping_regions),
      cmocka_unit_test(test_many_regions),
      cmocka_unit_test(test_region_closed_in_the_middle),
  };
  return cmocka_run_group_tests_name("regions", tests, NULL, NULL);
}
