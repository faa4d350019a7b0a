/*
 * test_limits.c: per-tag byte limits. An allocation that would take the tag's
 * curr_bytes over the limit fails like an out-of-memory malloc and is counted
 * in limit_denied; everything up to the limit exactly succeeds.
 */
#include "test_util.h"

#include <errno.h>
#include <string.h>

static void test_limit_boundary(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.limits.boundary");
  nmw_tag_t other = test_new_tag("t.limits.other");
  assert_true(nmw_core_tag_limit(tag) == NMW_NO_LIMIT);
  assert_int_equal(nmw_core_tag_set_limit(tag, 1000), NMW_OK);
  assert_true(nmw_core_tag_limit(tag) == 1000);

  void *a = nmw_core_malloc(600, tag, NULL);
  void *b = nmw_core_malloc(400, tag, NULL); /* exactly at the limit */
  assert_true(a && b);
  errno = 0;
  assert_null(nmw_core_malloc(1, tag, NULL));
  assert_int_equal(errno, ENOMEM);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("at the limit", &c, 2, 0, 0, 1000, 0);
  assert_int_equal(c.limit_denied, 1);

  /* Every allocating entry point is limited. */
  errno = 0;
  assert_null(nmw_core_calloc(1, 1, tag, NULL));
  assert_int_equal(errno, ENOMEM);
  assert_null(nmw_core_strdup("x", tag, NULL));
  assert_null(nmw_core_aligned_alloc(64, 1, tag, NULL));
  assert_null(nmw_core_realloc(NULL, 1, tag, NULL));
  c = test_tag_counters(tag);
  assert_int_equal(c.limit_denied, 5);
  EXPECT_COUNTS("nothing more allocated", &c, 2, 0, 0, 1000, 0);

  /* Zero bytes never go over. */
  void *zero = nmw_core_malloc(0, tag, NULL);
  assert_non_null(zero);

  /* Other tags are not limited. */
  void *free_range = nmw_core_malloc(5000, other, NULL);
  assert_non_null(free_range);
  nmw_core_free(free_range, other, NULL);
  c = test_tag_counters(other);
  assert_int_equal(c.limit_denied, 0);

  nmw_core_free(b, tag, NULL);
  nmw_core_free(zero, tag, NULL);
  b = nmw_core_malloc(400, tag, NULL); /* room again after a free */
  assert_non_null(b);
  nmw_core_free(b, tag, NULL);
  nmw_core_free(a, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("all freed", &c, 4, 4, 0, 1400, 1400);
  assert_int_equal(c.limit_denied, 5);
  assert_int_equal(nmw_core_tag_set_limit(tag, NMW_NO_LIMIT), NMW_OK);
}

static void test_limit_realloc(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.limits.realloc");
  assert_int_equal(nmw_core_tag_set_limit(tag, 1000), NMW_OK);
  unsigned char *p = nmw_core_malloc(600, tag, NULL);
  assert_non_null(p);
  memset(p, 0x77, 600);

  errno = 0;
  assert_null(nmw_core_realloc(p, 1001, tag, NULL)); /* growth over the limit */
  assert_int_equal(errno, ENOMEM);
  /* The block is intact: same size, same contents, still usable. */
  assert_int_equal(nmw_core_block_size(p), 600);
  for (int i = 0; i < 600; i++) assert_int_equal(p[i], 0x77);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after refused growth", &c, 1, 0, 0, 600, 0);
  assert_int_equal(c.limit_denied, 1);

  p = nmw_core_realloc(p, 1000, tag, NULL); /* growth up to the limit */
  assert_non_null(p);
  for (int i = 0; i < 600; i++) assert_int_equal(p[i], 0x77);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after growth to the limit", &c, 1, 0, 1, 1000, 0);

  /* Lowering the limit under the current use: shrinking still works. */
  assert_int_equal(nmw_core_tag_set_limit(tag, 100), NMW_OK);
  p = nmw_core_realloc(p, 500, tag, NULL);
  assert_non_null(p);
  assert_null(nmw_core_malloc(1, tag, NULL));
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after shrink", &c, 1, 0, 2, 1000, 500);
  assert_int_equal(c.limit_denied, 2);

  /* Removing the limit. */
  assert_int_equal(nmw_core_tag_set_limit(tag, NMW_NO_LIMIT), NMW_OK);
  assert_true(nmw_core_tag_limit(tag) == NMW_NO_LIMIT);
  void *big = nmw_core_malloc(1 << 20, tag, NULL);
  assert_non_null(big);
  p = nmw_core_realloc(p, 200000, tag, NULL);
  assert_non_null(p);
  nmw_core_free(big, tag, NULL);
  nmw_core_free(p, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("unlimited", &c, 2, 2, 3, 1000 + (1 << 20) + 199500,
                1000 + (1 << 20) + 199500);
  assert_int_equal(c.limit_denied, 2);
}

static void test_limit_zero(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.limits.zero");
  assert_int_equal(nmw_core_tag_set_limit(tag, 0), NMW_OK);
  assert_true(nmw_core_tag_limit(tag) == 0);
  assert_null(nmw_core_malloc(1, tag, NULL));
  assert_null(nmw_core_calloc(1, 1, tag, NULL));
  assert_null(nmw_core_strdup("", tag, NULL)); /* one byte */
  assert_null(nmw_core_aligned_alloc(16, 8, tag, NULL));
  void *zero = nmw_core_malloc(0, tag, NULL);
  assert_non_null(zero);
  assert_null(nmw_core_realloc(zero, 1, tag, NULL));
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("limit 0", &c, 1, 0, 0, 0, 0);
  assert_int_equal(c.limit_denied, 5);
  nmw_core_free(zero, tag, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limit_boundary),
      cmocka_unit_test(test_limit_realloc),
      cmocka_unit_test(test_limit_zero),
  };
  return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
