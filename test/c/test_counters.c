/*
 * test_counters.c: peaks on one thread (exact), and reset_peak, which sets a
 * tag's peak to its current value and leaves every other tag alone.
 */
#include "test_util.h"

static void test_peaks_follow_current(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.counters.peak");
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_PEAKS("fresh tag", &c, 0, 0);

  void *a = nmw_core_malloc(100, tag, NULL);
  void *b = nmw_core_malloc(200, tag, NULL);
  assert_true(a && b);
  c = test_tag_counters(tag);
  EXPECT_PEAKS("100 + 200", &c, 300, 2);

  nmw_core_free(a, tag, NULL); /* curr 200: the peak stays */
  c = test_tag_counters(tag);
  EXPECT_PEAKS("after free", &c, 300, 2);

  b = nmw_core_realloc(b, 500, tag, NULL); /* curr 500 in one step, 1 block */
  assert_non_null(b);
  c = test_tag_counters(tag);
  EXPECT_PEAKS("after realloc growth", &c, 500, 2);
  EXPECT_COUNTS("after realloc growth", &c, 2, 1, 1, 600, 100);

  void *z1 = nmw_core_malloc(0, tag, NULL);
  void *z2 = nmw_core_malloc(0, tag, NULL);
  assert_true(z1 && z2);
  c = test_tag_counters(tag);
  EXPECT_PEAKS("three live blocks", &c, 500, 3);

  nmw_core_free(b, tag, NULL);
  nmw_core_free(z1, tag, NULL);
  nmw_core_free(z2, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("all freed", &c, 4, 4, 1, 600, 600);
  EXPECT_PEAKS("all freed", &c, 500, 3);
}

static void test_reset_peak(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.counters.reset");
  nmw_tag_t bystander = test_new_tag("t.counters.bystander");
  void *big = nmw_core_malloc(1000, bystander, NULL);
  assert_non_null(big);
  nmw_core_free(big, bystander, NULL); /* bystander: peak 1000, curr 0 */

  void *a = nmw_core_malloc(700, tag, NULL);
  assert_non_null(a);
  nmw_core_free(a, tag, NULL);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_PEAKS("before reset", &c, 700, 1);

  nmw_core_reset_peak(tag); /* curr is 0 */
  c = test_tag_counters(tag);
  EXPECT_PEAKS("reset at zero", &c, 0, 0);
  EXPECT_COUNTS("reset keeps totals", &c, 1, 1, 0, 700, 700);
  c = test_tag_counters(bystander);
  EXPECT_PEAKS("bystander untouched", &c, 1000, 1);

  void *b = nmw_core_malloc(50, tag, NULL);
  assert_non_null(b);
  nmw_core_reset_peak(tag); /* curr is 50, 1 block */
  c = test_tag_counters(tag);
  EXPECT_PEAKS("reset at 50", &c, 50, 1);

  void *d = nmw_core_malloc(10, tag, NULL);
  assert_non_null(d);
  nmw_core_free(b, tag, NULL);
  nmw_core_free(d, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_PEAKS("after 50 + 10", &c, 60, 2);

  /* NMW_ANY_TAG resets every tag and the total to their current values. */
  nmw_core_reset_peak(NMW_ANY_TAG);
  c = test_tag_counters(tag);
  EXPECT_PEAKS("tag after reset all", &c, 0, 0);
  c = test_tag_counters(bystander);
  EXPECT_PEAKS("bystander after reset all", &c, 0, 0);
  nmw_counters_t total = test_total_counters();
  EXPECT_PEAKS("total after reset all", &total, total.curr_bytes, total.curr_blocks);

  void *e = nmw_core_malloc(123, bystander, NULL);
  assert_non_null(e);
  nmw_counters_t total2 = test_total_counters();
  EXPECT_PEAKS("total after 123", &total2, total.curr_bytes + 123, total.curr_blocks + 1);
  nmw_core_free(e, bystander, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_peaks_follow_current),
      cmocka_unit_test(test_reset_peak),
  };
  return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
